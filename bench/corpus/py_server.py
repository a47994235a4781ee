"""A throttled request loop on CPython for the recorded leak corpus (see README.md): per-request
dict/list/JSON garbage, and the workloads chosen by key=value arguments common to the corpus: a
lazily filled LRU cache (OrderedDict), a TTL session dict, load cycles, and a late leak kept in a
class-level dict (leak_kind=classdict) or a module-level list (leak_kind=list)."""
import collections
import json
import math
import random
import string
import sys
import time

o = dict(rate=200, cycle=0, amp=0.6, lru=0, lru_kb=4, fill=1, ttl=0, sess_kb=4, sess_frac=1,
         leak_start=0, leak_bytes=0, leak_kind="list")
for a in sys.argv[1:]:
    k, v = a.split("=")
    if k not in o:
        sys.exit("unknown argument " + k)
    o[k] = v if isinstance(o[k], str) else float(v)

ALPHA = string.ascii_lowercase + string.digits


def rand_str(n):
    return "".join(random.choices(ALPHA, k=n))


def make_record(nbytes):
    """About nbytes as small dicts (~100 bytes of payload each), the shape of a parsed row."""
    return [{"id": i, "name": rand_str(16), "value": random.random()}
            for i in range(int(nbytes // 100))]


class Handler:
    registry = {}  # leak_kind=classdict: request id -> context, never evicted


AUDIT = []  # leak_kind=list
lru = collections.OrderedDict()
sessions = collections.OrderedDict()  # id -> (expires, data), in expiry order
seq = 0
sink = 0
start = time.monotonic()


def handle(now):
    global seq, sink
    seq += 1
    headers = {"x-h%d" % i: rand_str(24) for i in range(20)}
    body = json.loads(json.dumps({"id": seq, "headers": headers, "items": make_record(2000)}))
    page = "".join("<tr><td>%s</td><td>%s</td></tr>" % (it["name"], it["value"])
                   for it in body["items"])
    sink += len(page.encode())
    if o["lru"] > 0:
        if lru:
            key = random.randrange(len(lru))
            hit = lru.get(key)
            if hit is not None:
                lru.move_to_end(key)
                sink += len(hit)
        if random.random() < o["lru"] / (o["fill"] * o["rate"]):
            if len(lru) < o["lru"]:
                key = len(lru)
            else:
                key, _ = lru.popitem(last=False)
            lru[key] = make_record(o["lru_kb"] * 1024)
    if o["ttl"] > 0 and random.random() < o["sess_frac"]:
        sessions[seq] = (now + o["ttl"], make_record(o["sess_kb"] * 1024))
    if o["leak_bytes"] > 0 and now - start >= o["leak_start"]:
        ctx = {"id": seq, "at": now, "user": rand_str(12), "trail": make_record(o["leak_bytes"])}
        if o["leak_kind"] == "classdict":
            Handler.registry[seq] = ctx
        else:
            AUDIT.append(ctx)


due = 0.0
last = start
while True:
    now = time.monotonic()
    t = now - start
    r = o["rate"] * (1 + o["amp"] * math.sin(2 * math.pi * t / o["cycle"])) if o["cycle"] else o["rate"]
    due = min(due + r * (now - last), r)
    last = now
    while due >= 1:
        handle(now)
        due -= 1
    while sessions:
        sid, (expires, _) = next(iter(sessions.items()))
        if expires > now:
            break
        del sessions[sid]
    time.sleep(0.01)
