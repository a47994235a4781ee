#!/usr/bin/env python3
"""Draws fresh leak-detection traces (same families and manifest format as ../shared/traces) so
the detector is scored on draws it was never tuned on. Python 3 standard library only, seeded."""

import argparse
import json
import math
import os
import random

MIB = 1024 * 1024


def warmup(r, t, amp, tau):
    return amp * (1.0 - math.exp(-t / tau))


def sawtooth_fn(r, period_s, amp, jitter=0.05):
    """A GC heap: linear ramps of `amp` over one period, then a drop back to the floor. Periods
    vary a little from cycle to cycle, as real collectors do."""
    starts, t = [0.0], 0.0
    while t < 3 * 86400:
        t += period_s * r.uniform(1 - jitter, 1 + jitter)
        starts.append(t)
    phase0 = r.uniform(0, 1)

    def f(t_s):
        # Cycles are short against the trace, so a linear search from the last hit is cheap.
        i = f.i
        while starts[i + 1] <= t_s + phase0 * period_s:
            i += 1
        f.i = i
        frac = (t_s + phase0 * period_s - starts[i]) / (starts[i + 1] - starts[i])
        return amp * frac

    f.i = 0
    return f


def family(name, r, extra_phase):
    """Returns (label, slope MiB/h, leak_start_s, interval_s, duration_s, note, f(t_s) -> MiB)."""
    base = r.uniform(120, 500)
    sigma = r.uniform(0.8, 3.0)
    hours = 3600.0
    dur, dt = 8 * hours, 10.0
    slope, start, label, note = 0.0, 0.0, "none", ""
    noise = lambda: r.gauss(0, sigma)
    if name == "flat":
        f = lambda t: base + noise()
    elif name in ("gc_sawtooth", "leak_under_gc"):
        saw = sawtooth_fn(r, r.uniform(3, 15) * 60, r.uniform(30, 120))
        if name == "leak_under_gc":
            slope, label = r.uniform(15, 80), "leak"
        f = lambda t: base + saw(t) + slope * t / hours + 0.5 * noise()
    elif name in ("large_sawtooth", "floor_leak"):
        saw = sawtooth_fn(r, r.uniform(12, 50), r.uniform(120, 260), jitter=0.3)
        if name == "floor_leak":
            slope, label = r.uniform(15, 60), "leak"
        f = lambda t: base + saw(t) + slope * t / hours + noise()
    elif name in ("warmup_plateau", "leak_after_warmup"):
        amp, tau = r.uniform(80, 300), r.uniform(0.1, 0.5) * hours
        if name == "leak_after_warmup":
            slope, label = r.uniform(15, 60), "leak"
        f = lambda t: base * 0.6 + warmup(r, t, amp, tau) + slope * t / hours + noise()
    elif name == "steps":
        times = sorted(r.uniform(5, 90) * 60 for _ in range(r.randint(2, 5)))
        sizes = [r.uniform(10, 45) for _ in times]
        f = lambda t: base + sum(s for ts, s in zip(times, sizes) if t >= ts) + noise()
    elif name in ("diurnal", "leak_under_cycle"):
        amp, period = r.uniform(50, 150), r.uniform(1.5, 3.0) * hours
        phase = r.uniform(0, 2 * math.pi) if extra_phase else 0.0
        if name == "leak_under_cycle":
            amp, period = r.uniform(40, 100), r.uniform(1.2, 2.5) * hours
            slope, label, dur = r.uniform(15, 40), "leak", 12 * hours
        f = lambda t: base + amp * math.sin(2 * math.pi * t / period + phase) + \
            slope * t / hours + noise()
    elif name == "bursty_spikes":
        spikes, t = [], 0.0
        rate = r.uniform(1, 3) / hours
        while t < dur:
            t += r.expovariate(rate)
            spikes.append((t, r.uniform(10, 40), r.uniform(80, 250)))
        f = lambda t: base + sum(h for ts, d, h in spikes if ts <= t < ts + d) + noise()
    elif name == "saturating_fragmentation":
        a1, t1 = r.uniform(15, 40), r.uniform(0.15, 0.4) * hours
        a2, t2 = r.uniform(8, 20), r.uniform(1.2, 2.5) * hours
        sigma *= 0.5
        f = lambda t: base + warmup(r, t, a1, t1) + warmup(r, t, a2, t2) + noise()
    elif name == "linear_slow":
        slope, label = r.uniform(15, 40), "leak"
        f = lambda t: base + slope * t / hours + noise()
    elif name == "late_onset":
        slope, label, start = r.uniform(20, 100), "leak", r.uniform(1, 4) * hours
        f = lambda t: base + slope * max(0.0, t - start) / hours + noise()
    elif name == "stair_leak":
        slope, label = r.uniform(20, 80), "leak"
        every = r.uniform(8, 25) * 60
        f = lambda t: base + slope * (every * math.floor(t / every)) / hours + 0.5 * noise()
    elif name == "fast_leak":
        slope, label = r.uniform(500, 2000), "leak"
        start, dt, dur = r.uniform(15, 40) * 60, 1.0, 2 * hours
        amp, tau = r.uniform(80, 200), r.uniform(0.1, 0.25) * hours
        f = lambda t: base * 0.6 + warmup(r, t, amp, tau) + \
            slope * max(0.0, t - start) / hours + noise()
    else:
        f = extra_family(name, r, base, noise)
        if f is None:
            raise SystemExit(f"unknown family {name}")
        label, slope, f = f
    return label, slope, start, dt, dur, note, f


def extra_family(name, r, base, noise):
    """Shapes that are not in the given suite, to see how the detector generalises."""
    hours = 3600.0
    if name == "ruby_like_steady":  # warm-up, then a GC sawtooth whose floor stays put
        saw = sawtooth_fn(r, r.uniform(2, 6) * 60, r.uniform(20, 60), jitter=0.3)
        amp, tau = r.uniform(20, 60), r.uniform(0.03, 0.1) * hours
        return "none", 0.0, lambda t: base * 0.3 + warmup(r, t, amp, tau) + saw(t) + 0.3 * noise()
    if name == "ou_walk":  # mean-reverting random walk: load-driven caches that come and go
        state = {"x": 0.0}
        theta, sd = 10.0 / (r.uniform(10, 40) * 60), r.uniform(5, 20)

        def f(t):
            state["x"] += -theta * state["x"] + sd * math.sqrt(2 * theta) * r.gauss(0, 1)
            return base + state["x"] + 0.3 * noise()
        return "none", 0.0, f
    if name == "cycle_plus_gc":
        saw = sawtooth_fn(r, r.uniform(3, 10) * 60, r.uniform(20, 60))
        amp, period = r.uniform(30, 80), r.uniform(1.5, 3) * hours
        return "none", 0.0, lambda t: base + amp * math.sin(2 * math.pi * t / period) + saw(t)
    if name == "growing_gc_leak":  # Ruby-like: collections get rarer as the heap grows
        slope = r.uniform(15, 60)
        p0 = r.uniform(2, 5) * 60
        saw = sawtooth_fn(r, p0, r.uniform(20, 60), jitter=0.3)
        warp = lambda t: 2 * hours * math.log1p(t / (2 * hours))  # period grows 5x in 8 h
        return "leak", slope, lambda t: base + saw(warp(t)) + slope * t / hours + 0.3 * noise()
    if name == "irregular_stairs":
        slope = r.uniform(20, 80)
        times, t = [], 0.0
        while t < 9 * hours:
            t += r.expovariate(1 / (r.uniform(5, 30) * 60))
            times.append(t)
        mean_gap = 9 * hours / len(times)
        return "leak", slope, lambda t: base + slope * mean_gap / hours * sum(
            1 for ts in times if ts <= t) + 0.5 * noise()
    return None


FAMILIES = ["flat", "gc_sawtooth", "large_sawtooth", "warmup_plateau", "steps", "diurnal",
            "bursty_spikes", "saturating_fragmentation", "linear_slow", "fast_leak", "late_onset",
            "leak_after_warmup", "leak_under_gc", "leak_under_cycle", "stair_leak", "floor_leak"]
EXTRA = ["ruby_like_steady", "ou_walk", "cycle_plus_gc", "growing_gc_leak", "irregular_stairs"]


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", required=True, help="directory for the CSVs and manifest.json")
    ap.add_argument("--extra", action="store_true", help="also draw shapes not in the given suite")
    ap.add_argument("--random-phase", action="store_true",
                    help="start cycles at a random phase (the given suite starts them at 0)")
    args = ap.parse_args()
    r = random.Random(args.seed)
    os.makedirs(args.out, exist_ok=True)
    traces = []
    for name in FAMILIES + (EXTRA if args.extra else []):
        label, slope, start, dt, dur, note, f = family(name, r, args.random_phase)
        with open(os.path.join(args.out, name + ".csv"), "w") as out:
            out.write("t_s,bytes\n")
            n = int(round(dur / dt))
            for i in range(n + 1):
                t = i * dt
                out.write(f"{t:g},{max(0, int(f(t) * MIB))}\n")
        traces.append({"name": name, "label": label, "slope_mib_per_hour": round(slope, 2),
                       "leak_start_s": round(start, 2), "interval_s": dt, "duration_s": dur,
                       "note": note or f"generated, seed {args.seed}", "file": name + ".csv"})
    manifest = {"threshold_mib_per_hour": 10, "seed": args.seed, "traces": traces}
    with open(os.path.join(args.out, "manifest.json"), "w") as out:
        json.dump(manifest, out, indent=1)


if __name__ == "__main__":
    main()
