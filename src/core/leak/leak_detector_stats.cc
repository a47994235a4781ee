// Theil–Sen slope, autocorrelation-aware standard error and the t quantiles they need.
#include "core/leak/leak_detector_stats.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace memvisor {
namespace {

double median_of(std::vector<double>& v) {
  const auto mid = v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2);
  std::nth_element(v.begin(), mid, v.end());
  double m = *mid;
  if (v.size() % 2 == 0) m = (m + *std::max_element(v.begin(), mid)) / 2;
  return m;
}

// The coefficient's standard error from the residuals of a fit with `parameters` coefficients,
// whose variance is `rss / dof * variance_factor` for independent residuals. The residuals of a
// memory floor are rarely independent (steps, curvature, unfinished cycles leave runs of
// same-signed residuals), so the effective sample size shrinks with their lag-1
// autocorrelation ρ: n_eff = n (1 - ρ) / (1 + ρ) (Santer et al. 2000). A perfectly clean fit has
// no residuals at all: its coefficient is exact.
void set_error(TrendFit& fit, size_t n, double rss, double lag1, int parameters,
               double variance_factor) {
  fit.rss = rss;
  const double rho = rss > 0 ? std::clamp(lag1 / rss, 0.0, 0.99) : 0.0;
  const double n_eff = static_cast<double>(n) * (1 - rho) / (1 + rho);
  fit.dof = n_eff - parameters;
  if (fit.dof < 1) return;
  fit.standard_error = std::sqrt(rss / fit.dof * variance_factor);
  fit.usable = true;
}

}  // namespace

double TrendFit::lower(double confidence) const {
  if (!usable) return -std::numeric_limits<double>::infinity();
  return slope - student_t_quantile(confidence, dof) * standard_error;
}

double TrendFit::upper(double confidence) const {
  if (!usable) return std::numeric_limits<double>::infinity();
  return slope + student_t_quantile(confidence, dof) * standard_error;
}

TrendFit fit_trend(std::span<const TrendPoint> points, std::vector<double>& scratch) {
  TrendFit fit;
  const size_t n = points.size();
  if (n < 3) return fit;
  scratch.clear();
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = i + 1; j < n; ++j) {
      const double dt = points[j].t - points[i].t;
      if (dt > 0) scratch.push_back((points[j].y - points[i].y) / dt);
    }
  }
  if (scratch.empty()) return fit;
  fit.slope = median_of(scratch);

  scratch.clear();
  double t_mean = 0;
  for (const auto& p : points) {
    scratch.push_back(p.y - fit.slope * p.t);
    t_mean += p.t;
  }
  t_mean /= static_cast<double>(n);
  const double intercept = median_of(scratch);
  fit.intercept = intercept;

  double sxx = 0, rss = 0, lag1 = 0, previous = 0;
  for (size_t i = 0; i < n; ++i) {
    const double r = points[i].y - intercept - fit.slope * points[i].t;
    sxx += (points[i].t - t_mean) * (points[i].t - t_mean);
    rss += r * r;
    if (i > 0) lag1 += r * previous;
    previous = r;
  }
  if (sxx <= 0) return fit;
  set_error(fit, n, rss, lag1, 2, 1 / sxx);
  return fit;
}

TrendFit fit_hinge(std::span<const TrendPoint> points, double onset) {
  TrendFit fit;
  const size_t n = points.size();
  if (n < 4) return fit;
  // Ordinary least squares on x = max(0, t - onset): y = a + b x.
  double sx = 0, sy = 0;
  for (const auto& p : points) sx += std::max(0.0, p.t - onset), sy += p.y;
  const double dn = static_cast<double>(n), x_mean = sx / dn, y_mean = sy / dn;
  double sxx = 0, sxy = 0;
  for (const auto& p : points) {
    const double x = std::max(0.0, p.t - onset) - x_mean;
    sxx += x * x;
    sxy += x * (p.y - y_mean);
  }
  if (sxx <= 0) return fit;
  fit.slope = sxy / sxx;
  fit.intercept = y_mean - fit.slope * x_mean;
  double rss = 0, lag1 = 0, previous = 0;
  for (size_t i = 0; i < n; ++i) {
    const double r = points[i].y - fit.intercept - fit.slope * std::max(0.0, points[i].t - onset);
    rss += r * r;
    if (i > 0) lag1 += r * previous;
    previous = r;
  }
  set_error(fit, n, rss, lag1, 2, 1 / sxx);
  return fit;
}

TrendFit fit_curvature(std::span<const TrendPoint> points) {
  TrendFit fit;
  const size_t n = points.size();
  if (n < 4) return fit;
  // Centre and scale time so that the normal equations are well conditioned.
  double t_mean = 0, y_mean = 0;
  for (const auto& p : points) t_mean += p.t, y_mean += p.y;
  t_mean /= static_cast<double>(n);
  y_mean /= static_cast<double>(n);
  double scale = 0;
  for (const auto& p : points) scale = std::max(scale, std::abs(p.t - t_mean));
  if (scale <= 0) return fit;
  double m[3][4] = {};  // augmented normal equations for y = a + b u + c u^2
  for (const auto& p : points) {
    const double u = (p.t - t_mean) / scale, x[3] = {1, u, u * u}, y = p.y - y_mean;
    for (int i = 0; i < 3; ++i) {
      for (int j = 0; j < 3; ++j) m[i][j] += x[i] * x[j];
      m[i][3] += x[i] * y;
    }
  }
  // Gauss–Jordan on a copy extended with the identity column for (X'X)^-1[2][2].
  double a[3][5];
  for (int i = 0; i < 3; ++i) {
    for (int j = 0; j < 4; ++j) a[i][j] = m[i][j];
    a[i][4] = i == 2 ? 1 : 0;
  }
  for (int c = 0; c < 3; ++c) {
    int pivot = c;
    for (int r = c + 1; r < 3; ++r) {
      if (std::abs(a[r][c]) > std::abs(a[pivot][c])) pivot = r;
    }
    if (std::abs(a[pivot][c]) < 1e-12) return fit;
    for (int j = 0; j < 5; ++j) std::swap(a[c][j], a[pivot][j]);
    for (int r = 0; r < 3; ++r) {
      if (r == c) continue;
      const double f = a[r][c] / a[c][c];
      for (int j = 0; j < 5; ++j) a[r][j] -= f * a[c][j];
    }
  }
  const double coef[3] = {a[0][3] / a[0][0], a[1][3] / a[1][1], a[2][3] / a[2][2]};
  const double inverse22 = a[2][4] / a[2][2];
  double rss = 0, lag1 = 0, previous = 0;
  for (size_t i = 0; i < n; ++i) {
    const double u = (points[i].t - t_mean) / scale;
    const double r = points[i].y - y_mean - (coef[0] + coef[1] * u + coef[2] * u * u);
    rss += r * r;
    if (i > 0) lag1 += r * previous;
    previous = r;
  }
  // d(slope)/dt = 2 c / scale^2 in the original time unit.
  fit.slope = 2 * coef[2] / (scale * scale);
  const double to_slope = 2 / (scale * scale);
  set_error(fit, n, rss, lag1, 3, inverse22 * to_slope * to_slope);
  return fit;
}

bool trend_beats_few_steps(std::span<const TrendPoint> points, const TrendFit& fit, int max_steps) {
  return model_beats_few_steps(points, fit.rss, 2, max_steps);
}

bool model_beats_few_steps(std::span<const TrendPoint> points, double model_rss,
                           int model_parameters, int max_steps) {
  const size_t n = points.size();
  if (n < 4 || max_steps < 1) return true;
  std::vector<double> sum(n + 1, 0), sum2(n + 1, 0);
  for (size_t k = 0; k < n; ++k) {
    // Relative to the first point, so that sums of squares of byte counts keep their precision.
    const double y = points[k].y - points[0].y;
    sum[k + 1] = sum[k] + y;
    sum2[k + 1] = sum2[k] + y * y;
  }
  const auto segment_rss = [&](size_t from, size_t to) {  // points [from, to)
    const double s = sum[to] - sum[from];
    return std::max(0.0, sum2[to] - sum2[from] - s * s / static_cast<double>(to - from));
  };
  const double dn = static_cast<double>(n), log_n = std::log(dn);
  const auto bic = [&](double rss, double parameters) {
    return dn * std::log(std::max(rss, 1e-300)) + parameters * log_n;
  };
  const double model_bic = bic(model_rss, model_parameters);
  // The staircase the criterion prefers, looking one step past "a few": if that extra step still
  // pays for its two parameters, the growth has more steps than a few.
  double stairs_bic = std::numeric_limits<double>::infinity();
  int stairs_steps = 0;
  // best[k]: least RSS of the first k points cut into the current number of segments, each of at
  // least two points: a window that straddles a step holds a level between the two, and would
  // otherwise count as a step of its own.
  constexpr size_t kMinSegment = 2;
  constexpr double kImpossible = std::numeric_limits<double>::max();
  std::vector<double> best(n + 1, kImpossible), next(n + 1, kImpossible);
  for (size_t k = kMinSegment; k <= n; ++k) best[k] = segment_rss(0, k);
  for (int steps = 1; steps <= max_steps + 1; ++steps) {
    const auto s = static_cast<size_t>(steps);
    if ((s + 1) * kMinSegment > n) break;
    std::fill(next.begin(), next.end(), kImpossible);
    for (size_t k = (s + 1) * kMinSegment; k <= n; ++k) {
      for (size_t cut = s * kMinSegment; cut + kMinSegment <= k; ++cut) {
        if (best[cut] != kImpossible) next[k] = std::min(next[k], best[cut] + segment_rss(cut, k));
      }
    }
    std::swap(best, next);
    const double b = bic(best[n], 2.0 * steps + 1);
    if (b < stairs_bic) stairs_bic = b, stairs_steps = steps;
  }
  return stairs_bic >= model_bic || stairs_steps > max_steps;
}

double incomplete_beta(double a, double b, double x) {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  // The continued fraction converges fast only below the mean; use the symmetry above it.
  if (x > (a + 1) / (a + b + 2)) return 1 - incomplete_beta(b, a, 1 - x);
  const double front = std::exp(std::lgamma(a + b) - std::lgamma(a) - std::lgamma(b) +
                                a * std::log(x) + b * std::log1p(-x)) /
                       a;
  // Lentz's algorithm for the continued fraction (Numerical Recipes 6.4).
  constexpr double kTiny = 1e-300;
  double f = 1, c = 1, d = 0;
  for (int i = 0; i <= 400; ++i) {
    const double m = i / 2;
    double numerator = 1;
    if (i > 0 && i % 2 == 0) {
      numerator = m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m));
    } else if (i > 0) {
      numerator = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1));
    }
    d = 1 + numerator * d;
    d = 1 / (std::abs(d) < kTiny ? kTiny : d);
    c = 1 + numerator / c;
    if (std::abs(c) < kTiny) c = kTiny;
    f *= c * d;
    if (std::abs(1 - c * d) < 1e-12) break;
  }
  return front * (f - 1);
}

double student_t_quantile(double p, double dof) {
  if (p <= 0.5) return p == 0.5 ? 0 : -student_t_quantile(1 - p, dof);
  const double tail = 1 - p;
  const auto upper_tail = [dof](double t) {
    return 0.5 * incomplete_beta(dof / 2, 0.5, dof / (dof + t * t));
  };
  double lo = 0, hi = 1;
  while (upper_tail(hi) > tail && hi < 1e12) hi *= 2;
  for (int i = 0; i < 200 && hi - lo > 1e-9 * hi; ++i) {
    const double mid = (lo + hi) / 2;
    (upper_tail(mid) > tail ? lo : hi) = mid;
  }
  return (lo + hi) / 2;
}

}  // namespace memvisor
