// Node's live heap as a memvisor gauge, with nothing but Node's own modules: every 200 ms,
// process.memoryUsage().heapUsed goes to memvisor over the worker protocol (the Unix socket in
// MEMVISOR_SOCKET, one JSON line per message; docs/worker-protocol.md, "Gauges"), so a rule can
// judge the JavaScript heap rather than RSS, which V8's reserved and fragmented pages blur:
//
//   [service.api]
//   command = ["node", "examples/node/heap_gauge.js"]
//   leak = { rate = "50MiB/h", metric = "gauge:heap_used_bytes" }
//
// In your own server, require('./heap_gauge').start(). Run as a program, it is a demo worker:
// with DEMO_LEAK=1 it keeps ~1 MB a second in a Map (a leak); otherwise it makes garbage only,
// so its heapUsed is a GC sawtooth on a flat floor.
'use strict';

const net = require('net');

function start(intervalMs = 200) {
  const path = process.env.MEMVISOR_SOCKET;
  if (!path) return;  // not under memvisor: nothing to report to
  let socket = null;
  const connect = () => {
    socket = net.createConnection({ path });
    socket.unref();
    socket.on('data', () => {});  // welcome, or an error line for a refused gauge
    socket.on('error', () => {});  // 'close' follows
    socket.on('close', () => {
      socket = null;
      setTimeout(connect, 500).unref();  // the supervisor restarted: say it all again
    });
  };
  connect();
  const report = () => {
    if (!socket || socket.connecting) return;
    const line = { type: 'gauge', name: 'heap_used_bytes', value: process.memoryUsage().heapUsed };
    socket.write(JSON.stringify(line) + '\n');
  };
  setInterval(report, intervalMs).unref();
}

module.exports = { start };

if (require.main === module) {
  start();
  const leaked = new Map();
  let next = 0;
  setInterval(() => {
    // Garbage either way: short-lived objects that the scavenger collects (the sawtooth).
    let garbage = [];
    for (let i = 0; i < 2000; i++) garbage.push({ i, text: 'x'.repeat(100) + i });
    garbage = null;
    if (process.env.DEMO_LEAK === '1') {
      for (let i = 0; i < 100; i++) leaked.set(next++, 'y'.repeat(1000) + next);  // ~100 KB
    }
  }, 100);
}
