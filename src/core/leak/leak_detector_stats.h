// Trend statistics behind the leak detector: Theil–Sen slopes with autocorrelation-aware
// t-intervals, a curvature test, and line-versus-staircase model selection. Pure functions.
#pragma once

#include <span>
#include <vector>

namespace memvisor {

struct TrendPoint {
  double t = 0;  // hours
  double y = 0;  // bytes
};

struct TrendFit {
  double slope = 0;      // Theil–Sen: the median of the pairwise slopes, bytes per hour
  double intercept = 0;  // median of y - slope * t
  // Standard error of the slope. The residuals of a memory floor are rarely independent (steps,
  // curvature, unfinished cycles all leave runs of same-signed residuals), so the variance is
  // inflated by the lag-1 autocorrelation ρ: n_eff = n (1 - ρ) / (1 + ρ) (Santer et al. 2000).
  double standard_error = 0;
  double dof = 0;  // n_eff - 2; below 1 there is no evidence at all and `usable` is false
  double rss = 0;  // the residuals' sum of squares (for a model comparison)
  bool usable = false;

  // The one-sided lower (or upper) confidence bound at `confidence`, e.g. 0.99.
  double lower(double confidence) const;
  double upper(double confidence) const;
};

// Fits a line through `points` (at least three distinct times). `scratch` holds the pairwise
// slopes; passing the same one each time avoids reallocating it.
TrendFit fit_trend(std::span<const TrendPoint> points, std::vector<double>& scratch);

// Least-squares hinge through `points`: flat until `onset` (hours), then a line,
// y = a + b·max(0, t − onset). `slope` of the result is b, with the same autocorrelation-aware
// standard error over all the points (the flat part measures the noise as well as the level the
// growth starts from); `intercept` is a, the level before the onset. At least four points, some
// after the onset.
TrendFit fit_hinge(std::span<const TrendPoint> points, double onset);

// Least-squares parabola through `points`: `slope` of the result is the change of the slope
// (bytes per hour, per hour; negative when growth slows down), with the same autocorrelation-aware
// standard error. At least four points.
TrendFit fit_curvature(std::span<const TrendPoint> points);

// False when `points` are better explained, by the Bayesian information criterion, as "a few
// steps": a staircase (a piecewise-constant floor) with 1 to `max_steps` steps that beats both
// the line `fit` (fit_trend's of the same points, whose `rss` is the line's) and every staircase
// with more steps. Growth in more steps than that is a trend
// however chunky it is (a leak that comes in chunks keeps stepping; lazy loading stops).
// Least-squares staircases by dynamic programming: O(max_steps * n^2); n is at most a few dozen.
bool trend_beats_few_steps(std::span<const TrendPoint> points, const TrendFit& fit, int max_steps);
// The same for any model of the points, by its residual sum of squares and parameter count.
bool model_beats_few_steps(std::span<const TrendPoint> points, double model_rss,
                           int model_parameters, int max_steps);

// The regularized incomplete beta function I_x(a, b), and from it the quantile of Student's t
// with `dof` (> 0, not necessarily whole) degrees of freedom.
double incomplete_beta(double a, double b, double x);
double student_t_quantile(double p, double dof);

}  // namespace memvisor
