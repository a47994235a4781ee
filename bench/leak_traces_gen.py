#!/usr/bin/env python3
"""Draws fresh leak-detection traces from the families of ../shared/traces (same CSV and manifest
format), so that the detector is scored on draws it was never tuned on. Standard library only.

  python3 bench/leak_traces_gen.py --seed 3 --out /tmp/draws/seed3 [--extra] [--random-phase]

Every family varies amplitudes, periods, noise, slopes (leaks 15-80 MiB/h, fast_leak 500-2000)
and onsets; each trace's note records what was drawn. --extra adds shapes that are not in the
given suite; --random-phase starts cycles anywhere (the given suite starts them at phase 0).
"""

import argparse
import json
import math
import os
import random

MIB = 1024 * 1024
HOUR = 3600.0


def warmup(t, amp, tau):
    """Cache fill: grows by `amp` with time constant `tau`, then settles."""
    return amp * (1.0 - math.exp(-t / tau))


def sawtooth_fn(r, period_s, amp, jitter=0.05):
    """A GC heap: linear ramps of `amp` over one period, then a drop back to the floor. Periods
    vary a little from cycle to cycle, as real collectors do. Call with increasing times."""
    starts, t = [0.0], 0.0
    while t < 3 * 86400:
        t += period_s * r.uniform(1 - jitter, 1 + jitter)
        starts.append(t)
    phase0 = r.uniform(0, 1) * period_s
    state = {"i": 0}

    def f(t_s):
        i = state["i"]
        while starts[i + 1] <= t_s + phase0:
            i += 1
        state["i"] = i
        return amp * (t_s + phase0 - starts[i]) / (starts[i + 1] - starts[i])

    return f


def family(name, r, random_phase):
    """One trace: a dict of manifest fields plus `f`, memory in MiB as a function of seconds."""
    base, sigma = r.uniform(120, 500), r.uniform(0.8, 3.0)
    d = {"label": "none", "slope": 0.0, "start": 0.0, "dt": 10.0, "dur": 8 * HOUR}
    noise = lambda: r.gauss(0, sigma)
    note = []
    if name == "flat":
        f = lambda t: base + noise()
    elif name in ("gc_sawtooth", "leak_under_gc"):
        period, amp = r.uniform(3, 15) * 60, r.uniform(30, 120)
        saw = sawtooth_fn(r, period, amp)
        if name == "leak_under_gc":
            d.update(label="leak", slope=r.uniform(15, 80))
        note = [f"GC period {period / 60:.1f} min", f"amplitude {amp:.0f} MiB"]
        sigma *= 0.5
        f = lambda t: base + saw(t) + d["slope"] * t / HOUR + noise()
    elif name in ("large_sawtooth", "floor_leak"):
        period, amp = r.uniform(12, 50), r.uniform(120, 260)
        saw = sawtooth_fn(r, period, amp, jitter=0.3)
        if name == "floor_leak":
            d.update(label="leak", slope=r.uniform(15, 60))
        note = [f"GC period {period:.0f} s (sampled every 10 s)", f"amplitude {amp:.0f} MiB"]
        f = lambda t: base + saw(t) + d["slope"] * t / HOUR + noise()
    elif name in ("warmup_plateau", "leak_after_warmup"):
        amp, tau = r.uniform(80, 300), r.uniform(0.1, 0.5) * HOUR
        if name == "leak_after_warmup":
            d.update(label="leak", slope=r.uniform(15, 60))
        note = [f"warm-up {amp:.0f} MiB", f"time constant {tau / 60:.0f} min"]
        f = lambda t: base * 0.6 + warmup(t, amp, tau) + d["slope"] * t / HOUR + noise()
    elif name == "steps":
        times = sorted(r.uniform(5, 90) * 60 for _ in range(r.randint(2, 5)))
        sizes = [r.uniform(10, 45) for _ in times]
        note = ["steps " + ", ".join(f"+{s:.0f} MiB at {t / 60:.0f} min" for t, s in zip(times, sizes))]
        f = lambda t: base + sum(s for ts, s in zip(times, sizes) if t >= ts) + noise()
    elif name in ("diurnal", "leak_under_cycle"):
        amp, period = r.uniform(50, 150), r.uniform(1.5, 3.0) * HOUR
        phase = r.uniform(0, 2 * math.pi) if random_phase else 0.0
        if name == "leak_under_cycle":
            amp, period = r.uniform(40, 100), r.uniform(1.2, 2.5) * HOUR
            d.update(label="leak", slope=r.uniform(15, 40), dur=12 * HOUR)
        note = [f"cycle {period / HOUR:.2f} h", f"amplitude {amp:.0f} MiB", f"phase {phase:.2f}"]
        f = lambda t: (base + amp * math.sin(2 * math.pi * t / period + phase) +
                       d["slope"] * t / HOUR + noise())
    elif name == "bursty_spikes":
        spikes, t, rate = [], 0.0, r.uniform(1, 3) / HOUR
        while t < d["dur"]:
            t += r.expovariate(rate)
            spikes.append((t, r.uniform(10, 40), r.uniform(80, 250)))
        note = [f"{rate * HOUR:.1f} bursts/h of 10-40 s, 80-250 MiB"]
        f = lambda t: base + sum(h for ts, dur, h in spikes if ts <= t < ts + dur) + noise()
    elif name == "saturating_fragmentation":
        a1, t1 = r.uniform(15, 40), r.uniform(0.15, 0.4) * HOUR
        a2, t2 = r.uniform(8, 20), r.uniform(1.2, 2.5) * HOUR
        sigma *= 0.5
        note = [f"{a1:.0f} MiB over {t1 / 60:.0f} min + {a2:.0f} MiB over {t2 / 60:.0f} min"]
        f = lambda t: base + warmup(t, a1, t1) + warmup(t, a2, t2) + noise()
    elif name == "linear_slow":
        d.update(label="leak", slope=r.uniform(15, 40))
        f = lambda t: base + d["slope"] * t / HOUR + noise()
    elif name == "late_onset":
        d.update(label="leak", slope=r.uniform(20, 100), start=r.uniform(1, 4) * HOUR)
        f = lambda t: base + d["slope"] * max(0.0, t - d["start"]) / HOUR + noise()
    elif name == "stair_leak":
        d.update(label="leak", slope=r.uniform(20, 80))
        every = r.uniform(8, 25) * 60
        note = [f"a chunk every {every / 60:.1f} min"]
        sigma *= 0.5
        f = lambda t: base + d["slope"] * every * math.floor(t / every) / HOUR + noise()
    elif name == "fast_leak":
        d.update(label="leak", slope=r.uniform(500, 2000), start=r.uniform(15, 40) * 60, dt=1.0,
                 dur=2 * HOUR)
        amp, tau = r.uniform(80, 200), r.uniform(0.1, 0.25) * HOUR
        note = [f"warm-up {amp:.0f} MiB over {tau / 60:.0f} min"]
        f = lambda t: (base * 0.6 + warmup(t, amp, tau) +
                       d["slope"] * max(0.0, t - d["start"]) / HOUR + noise())
    else:
        f = extra_family(name, r, base, noise, d, note)
    note.append(f"noise {sigma:.1f} MiB")
    d.update(f=f, note="; ".join(note))
    return d


def extra_family(name, r, base, noise, d, note):
    """Shapes that are not in the given suite, to see how the detector generalises."""
    if name == "ruby_like_steady":  # warm-up, then a GC sawtooth whose floor stays put
        saw = sawtooth_fn(r, r.uniform(2, 6) * 60, r.uniform(20, 60), jitter=0.3)
        amp, tau = r.uniform(20, 60), r.uniform(0.03, 0.1) * HOUR
        return lambda t: base * 0.3 + warmup(t, amp, tau) + saw(t) + 0.3 * noise()
    if name == "ou_walk":  # mean-reverting random walk: load-driven caches that come and go
        state = {"x": 0.0}
        theta, sd = 10.0 / (r.uniform(10, 40) * 60), r.uniform(5, 20)
        note.append(f"reverts over {10 / theta / 60:.0f} min, spread {sd:.0f} MiB")

        def f(t):
            state["x"] += -theta * state["x"] + sd * math.sqrt(2 * theta) * r.gauss(0, 1)
            return base + state["x"] + 0.3 * noise()
        return f
    if name == "cycle_plus_gc":  # a load cycle with a GC sawtooth on top
        saw = sawtooth_fn(r, r.uniform(3, 10) * 60, r.uniform(20, 60))
        amp, period = r.uniform(30, 80), r.uniform(1.5, 3) * HOUR
        return lambda t: base + amp * math.sin(2 * math.pi * t / period) + saw(t)
    if name == "idle_then_gc":  # no traffic for a while, then a GC heap starts cycling
        idle = r.uniform(3, 60) * 60
        saw = sawtooth_fn(r, r.uniform(3, 15) * 60, r.uniform(30, 100))
        note.append(f"idle for {idle / 60:.0f} min")
        return lambda t: base + (saw(t - idle) if t > idle else 0.0) + 0.5 * noise()
    if name == "growing_gc_leak":  # Ruby-like: collections get rarer as the heap grows
        d.update(label="leak", slope=r.uniform(15, 60))
        saw = sawtooth_fn(r, r.uniform(2, 5) * 60, r.uniform(20, 60), jitter=0.3)
        warp = lambda t: 2 * HOUR * math.log1p(t / (2 * HOUR))  # the period grows 5x in 8 h
        return lambda t: base + saw(warp(t)) + d["slope"] * t / HOUR + 0.3 * noise()
    if name == "irregular_stairs":  # chunks at random times, sometimes hours apart
        d.update(label="leak", slope=r.uniform(20, 80))
        times, t = [], 0.0
        while t < 9 * HOUR:
            t += r.expovariate(1 / (r.uniform(5, 30) * 60))
            times.append(t)
        chunk = d["slope"] * 9 * HOUR / len(times) / HOUR
        return lambda t: base + chunk * sum(1 for ts in times if ts <= t) + 0.5 * noise()
    raise SystemExit(f"unknown family {name}")


FAMILIES = ["flat", "gc_sawtooth", "large_sawtooth", "warmup_plateau", "steps", "diurnal",
            "bursty_spikes", "saturating_fragmentation", "linear_slow", "fast_leak", "late_onset",
            "leak_after_warmup", "leak_under_gc", "leak_under_cycle", "stair_leak", "floor_leak"]
EXTRA = ["ruby_like_steady", "ou_walk", "cycle_plus_gc", "idle_then_gc", "growing_gc_leak",
         "irregular_stairs"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", required=True, help="directory for the CSVs and manifest.json")
    ap.add_argument("--extra", action="store_true", help="also draw shapes not in the given suite")
    ap.add_argument("--random-phase", action="store_true", help="start cycles at a random phase")
    args = ap.parse_args()
    r = random.Random(args.seed)
    os.makedirs(args.out, exist_ok=True)
    traces = []
    for name in FAMILIES + (EXTRA if args.extra else []):
        d = family(name, r, args.random_phase)
        with open(os.path.join(args.out, name + ".csv"), "w") as out:
            out.write("t_s,bytes\n")
            for i in range(int(round(d["dur"] / d["dt"])) + 1):
                t = i * d["dt"]
                out.write(f"{t:g},{max(0, int(d['f'](t) * MIB))}\n")
        traces.append({"name": name, "label": d["label"], "slope_mib_per_hour": round(d["slope"], 2),
                       "leak_start_s": round(d["start"], 2), "interval_s": d["dt"],
                       "duration_s": d["dur"], "note": d["note"], "file": name + ".csv"})
    manifest = {"threshold_mib_per_hour": 10, "seed": args.seed, "traces": traces}
    with open(os.path.join(args.out, "manifest.json"), "w") as out:
        json.dump(manifest, out, indent=1)


if __name__ == "__main__":
    main()
