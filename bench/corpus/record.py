#!/usr/bin/python3
"""Records the leak corpus: runs each program below on its runtime, records its RSS with
`memvisor record --pid PID --interval 100ms --duration 480s`, compresses time by 36 and writes
`t_s,bytes` CSVs plus a manifest.json per half (tuning/ and holdout/). See README.md.

  record.py [--only NAME...] [--jobs 4]   record (all, or the named traces), then the manifests
  record.py --manifest                    rebuild both manifests from the CSVs present
  record.py --check [NAME...]             min/max per real minute and GC drops, per trace
  record.py --split                       print which half each trace belongs to
  record.py --table                       a Markdown table of the traces (README.md)
  record.py --verify                      check the corpus as committed (a ctest test)
Python 3 standard library only."""
import argparse
import json
import math
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
MEMVISOR = os.path.join(ROOT, "build", "memvisor")
BUILD = os.environ.get("CORPUS_BUILD", "/tmp/memvisor-corpus-build")
COMPRESSION = 36
INTERVAL_REAL = 0.1
DURATION_REAL = 480
THRESHOLD = 10
SPLIT_SEED = 14
HOLDOUT_FRACTION = 0.4
HALVES = ("tuning", "holdout")

NODE = ["/usr/bin/node", os.path.join(HERE, "node_server.js")]
PYTHON = ["/usr/bin/python3", os.path.join(HERE, "py_server.py")]
RUBY = ["/usr/bin/ruby", os.path.join(HERE, "rb_server.rb")]
GO = [os.path.join(BUILD, "go_server")]
JAVA = ["/usr/lib/jvm/java-17-openjdk-amd64/bin/java", "-Xms32m", "-Xmx512m", "-cp", BUILD]


def java(gc, *extra):
    return JAVA[:1] + [gc] + JAVA[1:] + list(extra) + ["JavaServer"]


G1 = java("-XX:+UseG1GC")
# G1 giving memory back after each concurrent cycle (as a container deployment would set it), so
# the slow old-generation cycle shows in RSS.
G1_SHRINK = java("-XX:+UseG1GC", "-XX:MinHeapFreeRatio=10", "-XX:MaxHeapFreeRatio=30")
PARALLEL = java("-XX:+UseParallelGC")
SERIAL = java("-XX:+UseSerialGC", "-XX:MinHeapFreeRatio=20", "-XX:MaxHeapFreeRatio=40")

# name, runtime, command, arguments, label, settle_s (real seconds of warm-up before the floor is
# measured), what the program does (for the note). leak_start comes from the arguments.
SPECS = [
    # Node: TTL session caches whose objects survive scavenges, so the old generation grows and
    # is mark-compacted every several to tens of real seconds, from process start.
    ("node_ttl10_lru_steady", "Node 20", NODE,
     "ttl=10 sess_kb=4 lru=6000 lru_kb=4 fill=60", "none", 240,
     "TTL session cache (one ~4 KB session per request, 10 s TTL) plus an LRU cache of 6000 "
     "~4 KB records filled lazily over 60 s"),
    ("node_ttl20_sessions_steady", "Node 20", NODE,
     "ttl=20 sess_kb=4 sess_frac=0.5", "none", 60,
     "TTL session cache (a ~4 KB session for half the requests, 20 s TTL), nothing else kept"),
    ("node_ttl15_cycles_steady", "Node 20", NODE,
     "ttl=15 sess_kb=6 lru=1500 lru_kb=8 fill=60 cycle=120", "none", 150,
     "TTL session cache (~6 KB, 15 s TTL), an LRU cache of 1500 ~8 KB records filled over 60 s, "
     "request rate cycling +-60% with a 120 s period"),
    ("node_ttl5_bigcache_steady", "Node 20", NODE,
     "ttl=5 sess_kb=8 lru=10000 lru_kb=4 fill=30", "none", 120,
     "TTL session cache (~8 KB, 5 s TTL) and a large LRU cache of 10000 ~4 KB records filled "
     "over 30 s"),
    ("node_ttl10_map_leak", "Node 20", NODE,
     "ttl=10 sess_kb=4 lru=4000 lru_kb=4 fill=90 leak_start=150 leak_bytes=1000 leak_kind=map",
     "leak", 90,
     "TTL session cache (~4 KB, 10 s TTL), LRU cache of 4000 ~4 KB records filled over 90 s; "
     "from 150 s each request adds a context of 10 small records to a global Map, never deleted"),
    ("node_ttl20_listener_leak", "Node 20", NODE,
     "ttl=20 sess_kb=4 sess_frac=0.5 leak_start=240 leak_bytes=1500 leak_kind=listeners",
     "leak", 60,
     "TTL session cache (~4 KB for half the requests, 20 s TTL); from 240 s each request adds "
     "an EventEmitter listener closure capturing a request context of 15 small records, never removed"),
    ("node_cycles_closure_leak", "Node 20", NODE,
     "cycle=60 amp=0.7 lru=2000 lru_kb=4 fill=30 leak_start=90 leak_bytes=1200 leak_kind=closure",
     "leak", 60,
     "request rate cycling +-70% with a 60 s period, LRU of 2000 ~4 KB records filled over 30 s; "
     "from 90 s each request pushes a callback closure over a context of 12 small records onto a global array"),
    ("node_ttl12_slow_leak", "Node 20", NODE,
     "ttl=12 sess_kb=4 lru=5000 lru_kb=4 fill=180 leak_start=200 leak_bytes=400 leak_kind=map",
     "leak", 200,
     "TTL session cache (~4 KB, 12 s TTL), LRU of 5000 ~4 KB records filled slowly over 180 s; "
     "from 200 s each request adds a context of 4 small records to a global Map"),
    # CPython
    ("py_lru_steady", "CPython 3.11", PYTHON,
     "lru=5000 lru_kb=4 fill=60", "none", 90,
     "an OrderedDict LRU cache of 5000 ~4 KB records filled lazily over 60 s"),
    ("py_cycles_steady", "CPython 3.11", PYTHON,
     "cycle=150 amp=0.6 ttl=10 sess_kb=2", "none", 60,
     "request rate cycling +-60% with a 150 s period, a TTL session dict (~2 KB, 10 s TTL)"),
    ("py_classdict_leak", "CPython 3.11", PYTHON,
     "leak_start=120 leak_bytes=600 leak_kind=classdict", "leak", 60,
     "from 120 s each request stores a context of 6 small dicts in a class-level dict (a registry "
     "attribute on the handler class), never evicted"),
    ("py_warmup_leak", "CPython 3.11", PYTHON,
     "lru=3000 lru_kb=4 fill=150 leak_start=210 leak_bytes=300 leak_kind=list", "leak", 180,
     "an LRU of 3000 ~4 KB records filled over 150 s; from 210 s each request appends a 3-dict "
     "record to a module-level list"),
    # OpenJDK 17, G1
    ("g1_oldgen_steady", "OpenJDK 17 G1", G1_SHRINK,
     "ttl=20 sess_kb=8 lru=2000 lru_kb=4 fill=60", "none", 90,
     "TTL session cache (~8 KB, 20 s TTL: sessions are promoted and the old generation fills "
     "slowly until a concurrent cycle) and an LRU of 2000 ~4 KB records filled over 60 s"),
    ("g1_cycles_steady", "OpenJDK 17 G1", G1,
     "cycle=240 amp=0.6 lru=4000 lru_kb=4 fill=30", "none", 300,
     "request rate cycling +-60% with a 240 s period, an LRU of 4000 ~4 KB records filled over 30 s "
     "(G1 expanded the heap by ~90 MiB at the second load peak, 4-5 real min, and gave part of it "
     "back at 7.5 min: the warm-up is counted until the heap has sized itself to the peak load)"),
    ("g1_static_map_leak", "OpenJDK 17 G1", G1,
     "leak_start=120 leak_bytes=2000 leak_kind=map", "leak", 60,
     "from 120 s each request puts a context of 20 small records into a static HashMap, never removed"),
    ("g1_oldgen_leak", "OpenJDK 17 G1", G1_SHRINK,
     "ttl=20 sess_kb=8 leak_start=180 leak_bytes=1000 leak_kind=map", "leak", 90,
     "TTL session cache (~8 KB, 20 s TTL, slow old-generation cycle); from 180 s each request "
     "puts a context of 10 small records into a static HashMap"),
    # OpenJDK 17, Parallel and Serial
    ("parallel_lru_steady", "OpenJDK 17 Parallel", PARALLEL,
     "lru=5000 lru_kb=4 fill=90", "none", 120,
     "an LRU (LinkedHashMap) of 5000 ~4 KB records filled over 90 s"),
    ("parallel_static_map_leak", "OpenJDK 17 Parallel", PARALLEL,
     "cycle=90 amp=0.6 leak_start=60 leak_bytes=3000 leak_kind=map", "leak", 60,
     "request rate cycling +-60% with a 90 s period; from 60 s each request puts a context of "
     "30 small records into a static HashMap"),
    ("serial_warmup_steady", "OpenJDK 17 Serial", SERIAL,
     "lru=8000 lru_kb=4 fill=180 ttl=5 sess_kb=4", "none", 200,
     "an LRU of 8000 ~4 KB records filled slowly over 180 s and a TTL session cache (~4 KB, 5 s)"),
    ("serial_listener_leak", "OpenJDK 17 Serial", SERIAL,
     "ttl=5 sess_kb=4 leak_start=150 leak_bytes=1200 leak_kind=listeners", "leak", 60,
     "TTL session cache (~4 KB, 5 s); from 150 s each request registers a listener lambda "
     "capturing a context of 12 small records in a static list, never removed"),
    # Ruby
    ("rb_lru_steady", "Ruby 3.1", RUBY,
     "lru=4000 lru_kb=4 fill=45", "none", 90,
     "an LRU cache (Hash, insertion-ordered) of 4000 ~4 KB records filled over 45 s"),
    ("rb_cycles_steady", "Ruby 3.1", RUBY,
     "cycle=200 amp=0.6 ttl=8 sess_kb=2", "none", 60,
     "request rate cycling +-60% with a 200 s period, a TTL session Hash (~2 KB, 8 s TTL)"),
    ("rb_global_leak", "Ruby 3.1", RUBY,
     "leak_start=100 leak_bytes=1000 leak_kind=global", "leak", 60,
     "from 100 s each request appends an audit record of 10 small hashes to a global array"),
    ("rb_closure_leak", "Ruby 3.1", RUBY,
     "lru=2000 lru_kb=4 fill=120 leak_start=180 leak_bytes=400 leak_kind=closure", "leak", 150,
     "an LRU of 2000 ~4 KB records filled over 120 s; from 180 s each request keeps a lambda "
     "closing over a context of 4 small hashes in a class-level callbacks array. A Ruby lambda "
     "keeps its method's whole local scope alive (the request's parsed body and rendered page "
     "too), so this leak is far faster than its context: the corpus's fast leak"),
    # Go
    ("go_lru_steady", "Go 1.19", GO,
     "lru=6000 lru_kb=4 fill=60", "none", 90,
     "an LRU cache (map + container/list) of 6000 ~4 KB records filled over 60 s"),
    ("go_cycles_warmup_steady", "Go 1.19", GO,
     "cycle=120 amp=0.6 lru=3000 lru_kb=4 fill=150", "none", 180,
     "request rate cycling +-60% with a 120 s period, an LRU of 3000 ~4 KB records filled over 150 s"),
    ("go_goroutine_leak", "Go 1.19", GO,
     "leak_start=90 leak_bytes=1500 leak_kind=goroutine", "leak", 60,
     "from 90 s every 10th request starts a goroutine that holds the last 10 requests' "
     "contexts (15 small structs each) and blocks forever on a channel nobody sends to"),
    ("go_slice_leak", "Go 1.19", GO,
     "cycle=180 amp=0.6 leak_start=240 leak_bytes=2500 leak_kind=slice", "leak", 60,
     "request rate cycling +-60% with a 180 s period; from 240 s each request appends a "
     "context of 25 small structs to a package-level slice"),
]
# Added after the split above was drawn and the first traces committed (more Node servers whose
# old-generation sawtooth starts at process start, and a slow Node leak). They leave that split
# alone and are split on their own: each to the holdout with probability 0.4, drawn in order from
# random.Random(ADDED_SEED).
ADDED_SEED = 15
ADDED = [
    ("node_ttl30_sessions_steady", "Node 20", NODE,
     "ttl=30 sess_kb=3 sess_frac=0.5", "none", 60,
     "TTL session cache (a ~3 KB session for half the requests, 30 s TTL), nothing else kept: "
     "the slowest old-generation cycle of the Node traces"),
    ("node_ttl8_cycles_steady", "Node 20", NODE,
     "ttl=8 sess_kb=6 cycle=180 amp=0.5", "none", 60,
     "TTL session cache (~6 KB per request, 8 s TTL), request rate cycling +-50% with a 180 s "
     "period"),
    ("node_ttl12_warmup_steady", "Node 20", NODE,
     "ttl=12 sess_kb=4 lru=2000 lru_kb=4 fill=120", "none", 270,
     "TTL session cache (~4 KB, 12 s TTL) and an LRU of 2000 ~4 KB records filled over 120 s"),
    ("node_ttl20_slow_leak", "Node 20", NODE,
     "ttl=20 sess_kb=4 sess_frac=0.5 leak_start=180 leak_bytes=250 leak_kind=map", "leak", 60,
     "TTL session cache (~4 KB for half the requests, 20 s TTL); from 180 s each request adds a "
     "context of 2 small records to a global Map (the smallest Node leak per request) under the "
     "old-generation sawtooth"),
]
# Declared on 2026-12-06 before they were recorded, all to the holdout: an untouched test of the
# leak rule, since the holdout above had been looked at while its misses were studied. Their warm-ups were set before
# recording by one rule: the cache's fill time plus 60 s (plus 120 s on Node, whose heap limit
# keeps growing for minutes after a cache fills), two load cycles on G1, at least 60 s.
FRESH = [
    ("node_ttl25_listener_slow_leak", "Node 20", NODE,
     "ttl=25 sess_kb=4 sess_frac=0.5 leak_start=150 leak_bytes=400 leak_kind=listeners", "leak", 60,
     "TTL session cache (~4 KB for half the requests, 25 s TTL: a slow old-generation sawtooth); "
     "from 150 s each request adds an EventEmitter listener over a context of 4 small records"),
    ("node_ttl15_cycles240_steady", "Node 20", NODE,
     "ttl=15 sess_kb=4 cycle=240 amp=0.6", "none", 60,
     "TTL session cache (~4 KB, 15 s TTL), request rate cycling +-60% with a 240 s period"),
    ("g1_cycles_listener_leak", "OpenJDK 17 G1", G1_SHRINK,
     "ttl=15 sess_kb=8 cycle=90 amp=0.5 leak_start=200 leak_bytes=800 leak_kind=listeners",
     "leak", 180,
     "TTL session cache (~8 KB, 15 s TTL), request rate cycling +-50% with a 90 s period; from "
     "200 s each request registers a listener lambda over a context of 8 small records"),
    ("g1_lru_cycles_steady", "OpenJDK 17 G1", G1_SHRINK,
     "lru=3000 lru_kb=4 fill=90 ttl=10 sess_kb=8 cycle=180 amp=0.5", "none", 360,
     "an LRU of 3000 ~4 KB records filled over 90 s, a TTL session cache (~8 KB, 10 s TTL), "
     "request rate cycling +-50% with a 180 s period"),
    ("py_ttl_cycles_leak", "CPython 3.11", PYTHON,
     "cycle=120 amp=0.5 ttl=15 sess_kb=4 leak_start=180 leak_bytes=300 leak_kind=classdict",
     "leak", 60,
     "request rate cycling +-50% with a 120 s period, a TTL session dict (~4 KB, 15 s TTL); from "
     "180 s each request stores a context of 3 small dicts in a class-level dict"),
    ("rb_lru_cycles_steady", "Ruby 3.1", RUBY,
     "lru=3000 lru_kb=4 fill=90 cycle=150 amp=0.5", "none", 150,
     "an LRU of 3000 ~4 KB records filled over 90 s, request rate cycling +-50% with a 150 s period"),
    ("go_lru_slice_slow_leak", "Go 1.19", GO,
     "lru=4000 lru_kb=4 fill=120 leak_start=210 leak_bytes=600 leak_kind=slice", "leak", 180,
     "an LRU of 4000 ~4 KB records filled over 120 s; from 210 s each request appends a context "
     "of 6 small structs to a package-level slice"),
    ("serial_ttl_cycles_steady", "OpenJDK 17 Serial", SERIAL,
     "ttl=8 sess_kb=4 cycle=120 amp=0.6 lru=3000 lru_kb=4 fill=60", "none", 120,
     "TTL session cache (~4 KB, 8 s TTL), an LRU of 3000 ~4 KB records filled over 60 s, request "
     "rate cycling +-60% with a 120 s period"),
]
# The holdout's missed leak (node_ttl20_slow_leak) again, the same program and arguments, recorded
# for twice as long: the detector needs five of its 33.5-minute floor windows after the onset and
# the 8-minute recording held only about five. Does a longer one find it, and when? Holdout too.
FRESH.append(("node_ttl20_slow_leak_long",) + ADDED[3][1:6] + (
    ADDED[3][6] + "; recorded for 16 real minutes instead of 8",))
# Declared on 2026-12-06, after the fresh traces above had been scored and after two versions of
# the hinge of rule (a) had been tried on a scratch build, before its final version was written;
# recorded while it was written and scored once, after it was final (bench/corpus/README.md,
# "The split"). Slow leaks at about twice the threshold under load and
# heap cycles, where the rule is weakest, and steady servers whose heaps expand at load peaks,
# where a faster rule would raise false alarms. Warm-ups by the same rule as FRESH. All to the
# holdout.
SEALED = [
    ("node_ttl18_map_slow_leak", "Node 20", NODE,
     "ttl=18 sess_kb=4 sess_frac=0.6 leak_start=120 leak_bytes=350 leak_kind=map", "leak", 60,
     "TTL session cache (~4 KB for 60% of the requests, 18 s TTL); from 120 s each request adds "
     "a context of 3-4 small records to a global Map"),
    ("node_lru_cycles150_steady", "Node 20", NODE,
     "ttl=10 sess_kb=4 lru=3000 lru_kb=4 fill=60 cycle=150 amp=0.6", "none", 180,
     "TTL session cache (~4 KB, 10 s TTL), an LRU of 3000 ~4 KB records filled over 60 s, "
     "request rate cycling +-60% with a 150 s period"),
    ("g1_cycles_map_slow_leak", "OpenJDK 17 G1", G1,
     "cycle=120 amp=0.6 lru=2000 lru_kb=4 fill=30 leak_start=240 leak_bytes=700 leak_kind=map",
     "leak", 240,
     "request rate cycling +-60% with a 120 s period, an LRU of 2000 ~4 KB records filled over "
     "30 s; from 240 s each request puts a context of 7 small records into a static HashMap"),
    ("g1_cycles150_steady", "OpenJDK 17 G1", G1,
     "cycle=150 amp=0.7 ttl=10 sess_kb=8 lru=3000 lru_kb=4 fill=60", "none", 300,
     "request rate cycling +-70% with a 150 s period, a TTL session cache (~8 KB, 10 s TTL) and "
     "an LRU of 3000 ~4 KB records filled over 60 s (G1 without uncommit flags: the heap "
     "expands at load peaks)"),
    ("py_lru_list_leak", "CPython 3.11", PYTHON,
     "lru=3000 lru_kb=4 fill=60 ttl=10 sess_kb=2 leak_start=150 leak_bytes=400 leak_kind=list",
     "leak", 120,
     "an LRU of 3000 ~4 KB records filled over 60 s, a TTL session dict (~2 KB, 10 s TTL); from "
     "150 s each request appends a 4-dict record to a module-level list"),
    ("rb_ttl_cycles_steady", "Ruby 3.1", RUBY,
     "ttl=12 sess_kb=4 cycle=120 amp=0.6", "none", 60,
     "a TTL session Hash (~4 KB, 12 s TTL), request rate cycling +-60% with a 120 s period"),
    ("go_cycles_goroutine_leak", "Go 1.19", GO,
     "cycle=150 amp=0.6 leak_start=150 leak_bytes=800 leak_kind=goroutine", "leak", 60,
     "request rate cycling +-60% with a 150 s period; from 150 s every 10th request starts a "
     "goroutine holding the last 10 requests' contexts (8 small structs each), blocked forever"),
    ("parallel_cycles_steady", "OpenJDK 17 Parallel", PARALLEL,
     "cycle=120 amp=0.6 ttl=8 sess_kb=4 lru=3000 lru_kb=4 fill=60", "none", 120,
     "request rate cycling +-60% with a 120 s period, a TTL session cache (~4 KB, 8 s TTL), an "
     "LRU of 3000 ~4 KB records filled over 60 s"),
]
# Declared on 2026-12-06 (the second session that day), before any change to the leak rule was
# written in that session and before they were recorded; every trace above had been looked at by
# then. Scored once, by the rule as it was and by the changed rule when final. Slow leaks under
# long load cycles (150-200 s: floor windows of an hour or more on the compressed clock, where the
# rule needs the most time), and steady servers under long cycles whose heaps move with the load,
# where a faster rule would raise false alarms. Warm-ups by one rule: the LRU's fill time plus
# 60 s (plus 120 s on Node when it fills an LRU), at least 60 s and at least one load cycle. All
# to the holdout.
BLIND = [
    ("node_ttl22_cycles200_slow_leak", "Node 20", NODE,
     "ttl=22 sess_kb=4 sess_frac=0.5 cycle=200 amp=0.5 leak_start=180 leak_bytes=350 "
     "leak_kind=map", "leak", 200,
     "TTL session cache (~4 KB for half the requests, 22 s TTL), request rate cycling +-50% with "
     "a 200 s period; from 180 s each request adds a context of 3-4 small records to a global Map"),
    ("g1_cycles150_listener_slow_leak", "OpenJDK 17 G1", G1_SHRINK,
     "ttl=12 sess_kb=8 cycle=150 amp=0.5 leak_start=180 leak_bytes=700 leak_kind=listeners",
     "leak", 150,
     "TTL session cache (~8 KB, 12 s TTL), request rate cycling +-50% with a 150 s period; from "
     "180 s each request registers a listener lambda over a context of 7 small records"),
    ("parallel_cycles180_map_slow_leak", "OpenJDK 17 Parallel", PARALLEL,
     "cycle=180 amp=0.5 ttl=10 sess_kb=4 leak_start=150 leak_bytes=500 leak_kind=map", "leak",
     180,
     "request rate cycling +-50% with a 180 s period, a TTL session cache (~4 KB, 10 s TTL); from "
     "150 s each request puts a context of 5 small records into a static HashMap"),
    ("py_cycles150_list_slow_leak", "CPython 3.11", PYTHON,
     "cycle=150 amp=0.6 ttl=12 sess_kb=3 leak_start=150 leak_bytes=300 leak_kind=list", "leak",
     150,
     "request rate cycling +-60% with a 150 s period, a TTL session dict (~3 KB, 12 s TTL); from "
     "150 s each request appends a 3-dict record to a module-level list"),
    ("go_cycles200_slice_slow_leak", "Go 1.19", GO,
     "cycle=200 amp=0.6 ttl=10 sess_kb=4 leak_start=150 leak_bytes=500 leak_kind=slice", "leak",
     200,
     "request rate cycling +-60% with a 200 s period, a TTL session map (~4 KB, 10 s TTL); from "
     "150 s each request appends a context of 5 small structs to a package-level slice"),
    ("node_ttl20_cycles300_steady", "Node 20", NODE,
     "ttl=20 sess_kb=4 cycle=300 amp=0.7", "none", 300,
     "TTL session cache (~4 KB, 20 s TTL), request rate cycling +-70% with a 300 s period"),
    ("g1_lru_cycles200_steady", "OpenJDK 17 G1", G1,
     "lru=3000 lru_kb=4 fill=60 ttl=10 sess_kb=8 cycle=200 amp=0.7", "none", 200,
     "an LRU of 3000 ~4 KB records filled over 60 s, a TTL session cache (~8 KB, 10 s TTL), "
     "request rate cycling +-70% with a 200 s period (G1 without uncommit flags: the heap expands "
     "at load peaks)"),
    ("rb_lru_cycles200_steady", "Ruby 3.1", RUBY,
     "ttl=15 sess_kb=4 lru=2000 lru_kb=4 fill=60 cycle=200 amp=0.7", "none", 200,
     "a TTL session Hash (~4 KB, 15 s TTL), an LRU of 2000 ~4 KB records filled over 60 s, "
     "request rate cycling +-70% with a 200 s period"),
    ("serial_cycles240_steady", "OpenJDK 17 Serial", SERIAL,
     "ttl=8 sess_kb=4 cycle=240 amp=0.6", "none", 240,
     "TTL session cache (~4 KB, 8 s TTL), request rate cycling +-60% with a 240 s period"),
    ("py_lru_cycles200_steady", "CPython 3.11", PYTHON,
     "lru=3000 lru_kb=4 fill=60 ttl=10 sess_kb=2 cycle=200 amp=0.6", "none", 200,
     "an LRU of 3000 ~4 KB records filled over 60 s, a TTL session dict (~2 KB, 10 s TTL), "
     "request rate cycling +-60% with a 200 s period"),
]
# Declared on 2026-12-06 (the third session that day), before any change to the leak rule was
# written in that session and before they were recorded; every trace above had been looked at by
# then. Scored once by the rule as it was and once by a changed rule when final. Leaks of 20-40
# MiB/h under load cycles of 90-180 s (54-108 compressed minutes), where the rule's misses and
# slowest finds are, on runtimes whose RSS ratchets at load peaks (CPython, G1 without uncommit
# flags, Serial) and on those that give memory back (Node, Ruby, Go); and steady servers under the
# same cycles, where a faster rule would raise false alarms. Warm-ups by BLIND's rule: the LRU's
# fill time plus 60 s, at least 60 s and at least one load cycle. All to the holdout.
UNSEEN = [
    ("node_ttl18_cycles120_listener_leak", "Node 20", NODE,
     "ttl=18 sess_kb=4 sess_frac=0.6 cycle=120 amp=0.5 leak_start=150 leak_bytes=550 "
     "leak_kind=listeners", "leak", 120,
     "TTL session cache (~4 KB for 60% of the requests, 18 s TTL), request rate cycling +-50% "
     "with a 120 s period; from 150 s each request registers a listener over a context of 5-6 "
     "small records"),
    ("g1_cycles90_listener_leak", "OpenJDK 17 G1", G1,
     "ttl=10 sess_kb=8 cycle=90 amp=0.6 leak_start=120 leak_bytes=1100 leak_kind=listeners",
     "leak", 90,
     "TTL session cache (~8 KB, 10 s TTL), request rate cycling +-60% with a 90 s period (G1 "
     "without uncommit flags); from 120 s each request registers a listener lambda over a context "
     "of 11 small records"),
    ("py_ttl_cycles180_classdict_leak", "CPython 3.11", PYTHON,
     "ttl=10 sess_kb=2 cycle=180 amp=0.5 leak_start=210 leak_bytes=400 leak_kind=classdict",
     "leak", 180,
     "a TTL session dict (~2 KB, 10 s TTL), request rate cycling +-50% with a 180 s period; from "
     "210 s each request puts a 4-dict context into a class-level dict"),
    ("rb_cycles150_global_leak", "Ruby 3.1", RUBY,
     "ttl=12 sess_kb=4 cycle=150 amp=0.6 leak_start=180 leak_bytes=400 leak_kind=global", "leak",
     150,
     "a TTL session Hash (~4 KB, 12 s TTL), request rate cycling +-60% with a 150 s period; from "
     "180 s each request appends a ~400-byte audit hash to a global array"),
    ("go_lru_cycles120_goroutine_leak", "Go 1.19", GO,
     "lru=3000 lru_kb=4 fill=60 cycle=120 amp=0.6 leak_start=150 leak_bytes=900 "
     "leak_kind=goroutine", "leak", 120,
     "an LRU of 3000 ~4 KB records filled over 60 s, request rate cycling +-60% with a 120 s "
     "period; from 150 s every 10th request starts a goroutine holding the last 10 requests' "
     "contexts, blocked forever"),
    ("serial_cycles150_map_leak", "OpenJDK 17 Serial", SERIAL,
     "ttl=8 sess_kb=4 cycle=150 amp=0.5 leak_start=180 leak_bytes=600 leak_kind=map", "leak", 150,
     "TTL session cache (~4 KB, 8 s TTL), request rate cycling +-50% with a 150 s period; from "
     "180 s each request puts a context of 6 small records into a static HashMap"),
    ("node_ttl18_cycles120_steady", "Node 20", NODE,
     "ttl=18 sess_kb=4 sess_frac=0.6 cycle=120 amp=0.5", "none", 120,
     "TTL session cache (~4 KB for 60% of the requests, 18 s TTL), request rate cycling +-50% "
     "with a 120 s period"),
    ("g1_lru_cycles90_steady", "OpenJDK 17 G1", G1,
     "lru=2000 lru_kb=4 fill=60 ttl=10 sess_kb=8 cycle=90 amp=0.7", "none", 120,
     "an LRU of 2000 ~4 KB records filled over 60 s, a TTL session cache (~8 KB, 10 s TTL), "
     "request rate cycling +-70% with a 90 s period (G1 without uncommit flags)"),
    ("py_ttl_cycles180_steady", "CPython 3.11", PYTHON,
     "ttl=10 sess_kb=3 cycle=180 amp=0.7", "none", 180,
     "a TTL session dict (~3 KB, 10 s TTL), request rate cycling +-70% with a 180 s period"),
    ("rb_lru_cycles150_steady", "Ruby 3.1", RUBY,
     "ttl=12 sess_kb=4 lru=1500 lru_kb=4 fill=60 cycle=150 amp=0.7", "none", 150,
     "a TTL session Hash (~4 KB, 12 s TTL), an LRU of 1500 ~4 KB records filled over 60 s, "
     "request rate cycling +-70% with a 150 s period"),
    ("go_ttl_cycles120_steady", "Go 1.19", GO,
     "ttl=10 sess_kb=4 cycle=120 amp=0.6", "none", 120,
     "a TTL session map (~4 KB, 10 s TTL), request rate cycling +-60% with a 120 s period"),
    ("parallel_ttl_cycles150_steady", "OpenJDK 17 Parallel", PARALLEL,
     "ttl=10 sess_kb=4 cycle=150 amp=0.6", "none", 150,
     "TTL session cache (~4 KB, 10 s TTL), request rate cycling +-60% with a 150 s period"),
]
# The holdout's other missed leaks again, the same programs and arguments, recorded for 20 real
# minutes (12 h compressed, the detector's whole history) instead of 8: each 8-minute recording held
# fewer than five of the floor windows its cycles need after the onset. Does a longer run find
# them, and when? Declared with UNSEEN, before they were recorded. Holdout too.
LONG_OF = ["g1_cycles_listener_leak", "py_ttl_cycles_leak", "g1_cycles_map_slow_leak",
           "node_ttl22_cycles200_slow_leak", "py_cycles150_list_slow_leak",
           "go_cycles200_slice_slow_leak"]
LONG = [(s[0] + "_long",) + s[1:6] + (s[6] + "; recorded for 20 real minutes instead of 8",)
        for s in SPECS + ADDED + FRESH + SEALED + BLIND if s[0] in LONG_OF]
# Real seconds recorded, where not DURATION_REAL.
DURATION_OF = {"node_ttl20_slow_leak_long": 960, **{s[0]: 1200 for s in LONG}}
ALL_SPECS = SPECS + ADDED + FRESH + SEALED + BLIND + UNSEEN + LONG
BY_NAME = {s[0]: s for s in ALL_SPECS}


def duration_real(name):
    return DURATION_OF.get(name, DURATION_REAL)


def args_of(spec):
    return dict(a.split("=") for a in spec[3].split())


def leak_start_real(spec):
    return float(args_of(spec).get("leak_start", 0)) if spec[4] == "leak" else 0.0


def split():
    """A fixed-seed random choice of round(40%) of the traces for the holdout, drawn again from
    the same generator until both halves hold every runtime family and both labels."""
    rng = random.Random(SPLIT_SEED)
    names = sorted(s[0] for s in SPECS)
    family = lambda n: BY_NAME[n][1].split()[0]  # Node, CPython, OpenJDK, Ruby, Go
    k = round(HOLDOUT_FRACTION * len(names))
    while True:
        holdout = set(rng.sample(names, k))
        ok = True
        for half in (holdout, set(names) - holdout):
            ok &= {family(n) for n in half} == {family(n) for n in names}
            ok &= {BY_NAME[n][4] for n in half} == {"none", "leak"}
        # Both Java collectors' kinds (G1 and another) in each half as well.
        for half in (holdout, set(names) - holdout):
            ok &= any("G1" in BY_NAME[n][1] for n in half)
            ok &= any(BY_NAME[n][1].endswith(("Parallel", "Serial")) for n in half)
        if ok:
            halves = {n: ("holdout" if n in holdout else "tuning") for n in names}
            added = random.Random(ADDED_SEED)
            for spec in ADDED:
                halves[spec[0]] = "holdout" if added.random() < HOLDOUT_FRACTION else "tuning"
            for spec in FRESH + SEALED + BLIND + UNSEEN + LONG:
                halves[spec[0]] = "holdout"
            return halves


def build_programs():
    os.makedirs(BUILD, exist_ok=True)
    if os.path.exists(os.path.join(HERE, "JavaServer.java")):
        subprocess.run(["/usr/lib/jvm/java-17-openjdk-amd64/bin/javac", "-d", BUILD,
                        os.path.join(HERE, "JavaServer.java")], check=True)
    if os.path.exists(os.path.join(HERE, "go_server.go")):
        subprocess.run(["go", "build", "-o", os.path.join(BUILD, "go_server"),
                        os.path.join(HERE, "go_server.go")], check=True,
                       env=dict(os.environ, GO111MODULE="off"))


def cpu_seconds(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        return None


def record_one(name, log):
    spec = BY_NAME[name]
    half = split()[name]
    out_dir = os.path.join(HERE, half)
    os.makedirs(out_dir, exist_ok=True)
    prog = subprocess.Popen(spec[2] + spec[3].split(), stdout=subprocess.DEVNULL,
                            stderr=open(os.path.join(BUILD, name + ".err"), "w"),
                            start_new_session=True)
    rec = subprocess.run([MEMVISOR, "record", "--pid", str(prog.pid), "--interval", "100ms",
                          "--duration", f"{duration_real(name)}s"], capture_output=True, text=True)
    cpu = cpu_seconds(prog.pid)
    alive = prog.poll() is None
    os.killpg(prog.pid, signal.SIGKILL)
    prog.wait()
    lines = rec.stdout.strip().splitlines()[1:]
    rows = []
    for line in lines[1:]:  # the first sample is taken before exec
        t, rss = line.split(",")[:2]
        rows.append((round(float(t) * COMPRESSION, 1), int(rss)))
    with open(os.path.join(out_dir, name + ".csv"), "w") as f:
        f.write("t_s,bytes\n")
        for t, b in rows:
            f.write(f"{t:g},{b}\n")
    info = {"cpu_s": cpu, "alive_at_end": alive, "samples": len(rows)}
    with open(os.path.join(BUILD, name + ".info.json"), "w") as f:
        json.dump(info, f)
    log(f"{name}: {len(rows)} samples, cpu {cpu} s over {duration_real(name)} s, alive {alive}")


def load(name):
    half = split()[name]
    path = os.path.join(HERE, half, name + ".csv")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        next(f)
        return [(float(t), int(b)) for t, b in (line.strip().split(",") for line in f)]


def floors(rows, start_s, window_s):
    """Minimum of each window_s window from start_s: the lower envelope under the GC sawtooth."""
    out = {}
    for t, b in rows:
        if t >= start_s:
            k = int((t - start_s) // window_s)
            out[k] = min(out.get(k, b), b)
    return [(start_s + (k + 0.5) * window_s, b) for k, b in sorted(out.items())]


def fit(points):
    n = len(points)
    mt = sum(t for t, _ in points) / n
    mb = sum(b for _, b in points) / n
    num = sum((t - mt) * (b - mb) for t, b in points)
    den = sum((t - mt) ** 2 for t, _ in points)
    return num / den if den else 0.0


def measure(name, rows):
    """Lower-envelope slope (MiB per compressed hour) after warm-up (and after the leak's start),
    from the minima of 20 real-second windows; the GC sawtooth's median amplitude; drop count."""
    spec = BY_NAME[name]
    start = max(spec[5], leak_start_real(spec)) * COMPRESSION
    window = 20 * COMPRESSION
    slope = fit(floors(rows, start, window)) * 3600 / 2**20
    amps = [max(b for t, b in rows if lo <= t < lo + window) - b for lo_c, b in
            floors(rows, start, window) for lo in [lo_c - window / 2]]
    amps.sort()
    drops = sum(1 for (_, a), (_, b) in zip(rows, rows[1:]) if a - b > 2**20)
    return slope, amps[len(amps) // 2] / 2**20 if amps else 0.0, drops


def jvm_flags(spec):
    cmd = spec[2]
    if not cmd[0].endswith("/java"):
        return ""
    return "; JVM flags: " + " ".join(cmd[1:cmd.index("-cp")])


def manifest():
    halves = split()
    for half in HALVES:
        traces = []
        for name in sorted(n for n, h in halves.items() if h == half):
            rows = load(name)
            if rows is None:
                continue
            spec = BY_NAME[name]
            slope, amp, drops = measure(name, rows)
            ls = leak_start_real(spec)
            note = (f"{spec[1]}: a throttled request loop (~200 req/s real, per-request garbage) "
                    f"with {spec[6]}. Arguments: {spec[3]}{jvm_flags(spec)}. Warm-up {spec[5]} real s "
                    f"({spec[5] * COMPRESSION} s compressed). Measured lower-envelope slope after "
                    f"warm-up{' and leak start' if spec[4] == 'leak' else ''}: {slope:.2f} MiB/h "
                    f"(compressed); median sawtooth amplitude {amp:.1f} MiB; {drops} drops "
                    f"of more than 1 MiB between samples.")
            traces.append({
                "name": name, "file": name + ".csv", "label": spec[4],
                "slope_mib_per_hour": round(slope, 2) if spec[4] == "leak" else 0.0,
                "leak_start_s": ls * COMPRESSION, "warmup_s": float(spec[5] * COMPRESSION),
                "interval_s": INTERVAL_REAL * COMPRESSION,
                "duration_s": float(duration_real(name) * COMPRESSION), "note": note})
        os.makedirs(os.path.join(HERE, half), exist_ok=True)
        with open(os.path.join(HERE, half, "manifest.json"), "w") as f:
            json.dump({"threshold_mib_per_hour": THRESHOLD, "time_compression": COMPRESSION,
                       "traces": traces}, f, indent=2)
            f.write("\n")


def check(names):
    for name in names:
        rows = load(name)
        if rows is None:
            continue
        spec = BY_NAME[name]
        slope, amp, drops = measure(name, rows)
        print(f"== {name} ({spec[4]}, settle {spec[5]} s, leak start {leak_start_real(spec):g} s): "
              f"slope {slope:.2f} MiB/h, amplitude {amp:.1f} MiB, drops {drops}")
        per_min = {}
        for t, b in rows:
            m = int(t / COMPRESSION // 60)
            lo, hi = per_min.get(m, (b, b))
            per_min[m] = (min(lo, b), max(hi, b))
        print("   real min: " + "  ".join(f"{m}:{lo / 2**20:.0f}-{hi / 2**20:.0f}"
                                          for m, (lo, hi) in sorted(per_min.items())))
        fl = floors(rows, 0, 30 * COMPRESSION)
        print("   30s floors MiB: " + " ".join(f"{b / 2**20:.1f}" for _, b in fl))


def table():
    halves = split()
    print("| trace | half | runtime | label | warm-up s | leak from s | slope MiB/h | floor first/last "
          "minute after warm-up MiB | drops > 1 MiB |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for spec in ALL_SPECS:
        name = spec[0]
        rows = load(name)
        if rows is None:
            continue
        slope, amp, drops = measure(name, rows)
        start = max(spec[5], leak_start_real(spec)) * COMPRESSION
        after = [(t, b) for t, b in rows if t >= start]
        first = min(b for t, b in after if t < start + 60 * COMPRESSION) / 2**20
        last = min(b for t, b in after if t >= after[-1][0] - 60 * COMPRESSION) / 2**20
        ls = leak_start_real(spec)
        print(f"| {name} | {halves[name]} | {spec[1]} | {spec[4]} | {spec[5]} | "
              f"{f'{ls:g}' if spec[4] == 'leak' else '-'} | {slope:.1f} | {first:.0f} / {last:.0f} | "
              f"{drops} |")


def verify():
    """The committed corpus matches this file: every trace in its half and only there, manifests
    that list exactly those traces with their labels, CSVs of 8 real minutes (or their DURATION_OF)
    at 3.6 s steps, and
    labels that hold (a leak's measured slope well above the threshold, a steady floor under
    it). Returns the problems found."""
    problems = []
    halves = split()
    for half in HALVES:
        with open(os.path.join(HERE, half, "manifest.json")) as f:
            m = json.load(f)
        if m["time_compression"] != COMPRESSION or m["threshold_mib_per_hour"] != THRESHOLD:
            problems.append(f"{half}: manifest header {m['time_compression']}, {m['threshold_mib_per_hour']}")
        listed = {t["name"]: t for t in m["traces"]}
        expected = {n for n, h in halves.items() if h == half}
        if set(listed) != expected:
            problems.append(f"{half}: manifest lists {sorted(set(listed) ^ expected)} wrongly")
        csvs = {f[:-4] for f in os.listdir(os.path.join(HERE, half)) if f.endswith(".csv")}
        if csvs != expected:
            problems.append(f"{half}: CSVs {sorted(csvs ^ expected)} in the wrong place or missing")
        for name in sorted(expected & set(listed) & csvs):
            spec, entry = BY_NAME[name], listed[name]
            if entry["label"] != spec[4] or entry["file"] != name + ".csv":
                problems.append(f"{name}: label/file {entry['label']}/{entry['file']}")
            if abs(entry["leak_start_s"] - leak_start_real(spec) * COMPRESSION) > 1e-6:
                problems.append(f"{name}: leak_start_s {entry['leak_start_s']}")
            rows = load(name)
            steps = [b[0] - a[0] for a, b in zip(rows, rows[1:])]
            # A recorder delayed by a loaded machine takes its next sample at once: a few share a
            # timestamp at 0.1 s resolution; the longest gap recorded was 0.5 real s.
            if len(rows) < 4700 * duration_real(name) / DURATION_REAL or min(steps) < 0 or max(steps) > 36 or \
                    sorted(steps)[len(steps) // 2] > 3.7:
                problems.append(f"{name}: {len(rows)} rows, steps {min(steps)}..{max(steps)}")
            slope = measure(name, rows)[0]
            if spec[4] == "leak" and slope < 1.2 * THRESHOLD:
                problems.append(f"{name}: a leak of {slope:.1f} MiB/h, too close to the threshold")
            # Under load cycles a heap's floor wanders with the load (node_ttl15_cycles_steady:
            # +8.6 MiB/h by least squares, from one deep trough): under the threshold is the rule.
            if spec[4] == "none" and slope >= THRESHOLD:
                problems.append(f"{name}: a steady trace whose floor moves {slope:.1f} MiB/h")
            if spec[4] == "leak" and abs(entry["slope_mib_per_hour"] - round(slope, 2)) > 0.01:
                problems.append(f"{name}: manifest slope {entry['slope_mib_per_hour']} != {slope:.2f}")
    return problems


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--only", nargs="*")
    p.add_argument("--jobs", type=int, default=4)
    p.add_argument("--manifest", action="store_true")
    p.add_argument("--check", nargs="*")
    p.add_argument("--split", action="store_true")
    p.add_argument("--table", action="store_true")
    p.add_argument("--verify", action="store_true")
    a = p.parse_args()
    if a.split:
        for n, h in sorted(split().items(), key=lambda x: (x[1], x[0])):
            print(h, n, BY_NAME[n][1], BY_NAME[n][4])
        return
    if a.verify:
        problems = verify()
        for problem in problems:
            print("record.py --verify:", problem)
        print(f"record.py --verify: {len(problems)} problems")
        sys.exit(1 if problems else 0)
    if a.table:
        table()
        return
    if a.check is not None:
        check(a.check or [s[0] for s in ALL_SPECS])
        return
    if not a.manifest:
        if not os.access(MEMVISOR, os.X_OK):
            sys.exit(f"record.py: build memvisor first ({MEMVISOR})")
        names = a.only or [s[0] for s in ALL_SPECS]
        unknown = [n for n in names if n not in BY_NAME]
        if unknown:
            sys.exit(f"record.py: unknown traces {unknown}")
        build_programs()
        lock = threading.Lock()

        def log(msg):
            with lock:
                print(time.strftime("%H:%M:%S"), msg, flush=True)

        queue = list(names)
        def worker():
            while True:
                with lock:
                    if not queue:
                        return
                    name = queue.pop(0)
                log(f"{name}: recording")
                record_one(name, log)
        threads = [threading.Thread(target=worker) for _ in range(a.jobs)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    manifest()


if __name__ == "__main__":
    main()
