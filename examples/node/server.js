// A small Node.js HTTP server for memvisor: serves the sockets memvisor passes from fd 3 up
// (`listen`; LISTEN_FDS=N, LISTEN_PID=this process), says READY=1, counts its requests for the
// `requests` rule (examples/lib/memvisor_worker.js) and, with LEAK_BYTES_PER_REQUEST set, keeps
// that many bytes per request. See node.toml beside it.
//
// Node exits at once on SIGTERM or SIGINT unless a handler is installed, dropping every request
// in flight. Here SIGTERM (the service's stop_signal) starts a graceful stop:
// - stop accepting, but not with http.Server's close(): since Node 19 it also closes every idle
//   keep-alive connection at once, and a client whose next request is already on its way sees
//   its connection closed (wrk counts an error). net.Server's close() only stops accepting;
// - every response from then on carries `Connection: close` (Node closes after it), so each
//   keep-alive connection ends right after its next request;
// - connections still idle after DRAIN_GRACE seconds (default 2) are closed;
// - exit 0 once every connection is gone. A second signal exits at once.
// CLOSE_AT_ONCE=1 stops with http.Server's close() instead, to compare (bench/zero_drop.py).
'use strict';

const http = require('http');
const net = require('net');
const worker = require('../lib/memvisor_worker');

const GRACE_MS = Number(process.env.DRAIN_GRACE || 2) * 1000;
let stopping = false;

function handle(request, response) {
  const body = `hello from ${process.env.MEMVISOR_SERVICE || '?'}.` +
               `${process.env.MEMVISOR_INSTANCE || '?'} (pid ${process.pid})\n`;
  if (stopping) response.setHeader('Connection', 'close');
  response.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(body) });
  response.end(body);
  worker.leak();
  worker.requestDone();
}

function inheritedFds() {
  if (process.env.LISTEN_PID !== String(process.pid)) {
    console.error('server.js: no inherited sockets (LISTEN_FDS): run it under memvisor with `listen`');
    process.exit(2);
  }
  const count = Number(process.env.LISTEN_FDS || 0);
  return Array.from({ length: count }, (_, i) => 3 + i);
}

const servers = inheritedFds().map((fd) => http.createServer(handle));
let listening = 0;
servers.forEach((server, i) => {
  server.listen({ fd: 3 + i }, () => {
    if (++listening === servers.length) worker.ready(`serving ${servers.length} inherited socket(s)`);
  });
});

function stop() {
  if (stopping) process.exit(1);  // memvisor's SIGTERM after stop_timeout: give up the drain
  stopping = true;
  let open = servers.length;
  const close = process.env.CLOSE_AT_ONCE === '1' ? http.Server.prototype.close : net.Server.prototype.close;
  for (const server of servers) {
    close.call(server, () => {  // called once its last connection closed
      if (--open === 0) process.exit(0);
    });
  }
  setTimeout(() => servers.forEach((server) => server.closeIdleConnections()), GRACE_MS).unref();
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
