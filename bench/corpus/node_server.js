// A throttled request loop on Node.js for the recorded leak corpus (see README.md): per-request
// JSON/string/Buffer garbage, plus the workloads chosen by key=value arguments (common to every
// program of the corpus): a bounded LRU cache filled lazily over `fill` seconds, a TTL session
// cache (objects that survive scavenges, so V8's old generation saw-tooths), load cycles, and a
// late leak kept in a global Map, EventEmitter listeners or an array of closures.
'use strict';
const { EventEmitter } = require('events');

const o = {rate: 200, cycle: 0, amp: 0.6, lru: 0, lru_kb: 4, fill: 1, ttl: 0, sess_kb: 4,
           sess_frac: 1, leak_start: 0, leak_bytes: 0, leak_kind: 'map'};
for (const a of process.argv.slice(2)) {
  const [k, v] = a.split('=');
  if (!(k in o)) throw new Error('unknown argument ' + k);
  o[k] = isNaN(+v) ? v : +v;
}

function randStr(n) {
  let s = '';
  while (s.length < n) s += Math.random().toString(36).slice(2);
  return s.slice(0, n);
}
// About `bytes` of heap as small objects (~100 B each), the shape of a parsed record.
function makeRecord(bytes) {
  const items = [];
  for (let i = 0; i < bytes / 100; i++) items.push({id: i, name: randStr(16), value: Math.random()});
  return items;
}

const lru = new Map();            // key -> record; Map keeps insertion order: first = oldest
const sessions = new Map();       // id -> {expires, data}; inserted in expiry order
const leakMap = new Map();        // leak_kind=map: request id -> context, never deleted
const bus = new EventEmitter();   // leak_kind=listeners: one listener per request, never removed
bus.setMaxListeners(0);
const closures = [];              // leak_kind=closure: callbacks capturing request context
let seq = 0, sink = 0;

function handle(now) {
  const id = ++seq;
  // Per-request garbage: headers, a JSON round trip, a rendered page and a Buffer.
  const headers = {};
  for (let i = 0; i < 20; i++) headers['x-h' + i] = randStr(24);
  const body = JSON.parse(JSON.stringify({id, headers, items: makeRecord(2000)}));
  const page = body.items.map(it => `<tr><td>${it.name}</td><td>${it.value}</td></tr>`).join('');
  const buf = Buffer.from(page);
  sink += buf.length + page.length;
  if (o.lru > 0) {
    const key = Math.floor(Math.random() * Math.max(1, lru.size));
    const hit = lru.get(key);
    if (hit) { lru.delete(key); lru.set(key, hit); sink += hit.length; }
    // Lazily filled: new entries at lru/fill per second, so the cache is full after `fill` s.
    if (Math.random() < o.lru / (o.fill * o.rate)) {
      const k = lru.size < o.lru ? lru.size : lru.keys().next().value;
      lru.delete(k);
      lru.set(k, makeRecord(o.lru_kb * 1024));
    }
  }
  if (o.ttl > 0 && Math.random() < o.sess_frac) {
    sessions.set(id, {expires: now + o.ttl * 1000, data: makeRecord(o.sess_kb * 1024)});
  }
  if (o.leak_bytes > 0 && now - start >= o.leak_start * 1000) {
    const ctx = {id, at: now, user: randStr(12), trail: makeRecord(o.leak_bytes)};
    if (o.leak_kind === 'map') leakMap.set(id, ctx);
    else if (o.leak_kind === 'listeners') bus.on('shutdown', () => { sink += ctx.id; });
    else closures.push(() => ctx.trail.length + ctx.user.length);
  }
}

const start = Date.now();
let due = 0, last = start;
function tick() {
  const now = Date.now();
  const t = (now - start) / 1000;
  const r = o.cycle > 0 ? o.rate * (1 + o.amp * Math.sin(2 * Math.PI * t / o.cycle)) : o.rate;
  due += r * (now - last) / 1000;
  last = now;
  due = Math.min(due, r);  // a starved loop does not burst more than a second's worth
  while (due >= 1) { handle(now); due -= 1; }
  for (const [id, s] of sessions) {
    if (s.expires > now) break;
    sessions.delete(id);
  }
  setTimeout(tick, 10);
}
tick();
