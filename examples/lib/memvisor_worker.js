// The worker side of memvisor for Node.js servers, in one dependency-free module: readiness
// through systemd's notify protocol, request counting over the worker protocol (MEMVISOR_SOCKET,
// JSON lines, docs/worker-protocol.md) for `requests = { max, jitter }`, and a leak on demand for
// trying the memory rules. Every call is a cheap no-op outside memvisor.
//
//   const worker = require('../lib/memvisor_worker');
//   worker.ready('serving');   // READY=1 on NOTIFY_SOCKET, for ready = "notify"
//   worker.requestDone();      // an increment; a timer sends the running total
//   worker.leak();             // keeps LEAK_BYTES_PER_REQUEST bytes (0 by default)
'use strict';

const net = require('net');
const { execFile } = require('child_process');

const FLUSH_MS = 100;  // the running total goes out at most this often
const LEAK_BYTES = Number(process.env.LEAK_BYTES_PER_REQUEST || 0);

let requests = 0;
let isReady = false;
let link = null;  // the connection to the supervisor, once started
const leaked = [];

// Node has no Unix datagram sockets, so READY=1 goes through systemd's own tool (package
// systemd); its message counts for this instance even though systemd-notify exits at once.
function notify(...args) {
  if (!process.env.NOTIFY_SOCKET) return;
  execFile('systemd-notify', args, (error) => {
    if (error) console.error(`memvisor_worker: systemd-notify ${args.join(' ')}: ${error.message}`);
  });
}

// The worker protocol: hello (and ready) on connect, then the running total every FLUSH_MS while
// it changes; reconnects with a jittered backoff (50 ms to 1 s) when the supervisor restarts.
// Every timer and the socket are unref'd: the link never keeps the process alive.
function startLink() {
  const path = process.env.MEMVISOR_SOCKET;
  if (!path || link) return;
  link = { backoff: 50, sent: -1, sentReady: false, socket: null };

  const send = (message) => link.socket.write(JSON.stringify(message) + '\n');
  const connect = () => {
    const socket = net.createConnection({ path });
    link.socket = socket;
    link.sent = -1;
    link.sentReady = false;
    socket.unref();
    let buffer = '';
    socket.on('connect', () => {
      send({ type: 'hello', version: 1, pid: process.pid, library: 'node' });
      flush();
    });
    socket.on('data', (data) => {
      buffer += data;
      let end;
      while ((end = buffer.indexOf('\n')) >= 0) {
        const message = JSON.parse(buffer.slice(0, end) || '{}');
        buffer = buffer.slice(end + 1);
        if (message.type === 'welcome') link.backoff = 50;  // the next loss starts over
        if (message.type === 'request') {
          send({ type: 'reply', id: message.id, ok: false,
                 error: `${message.cmd} is not supported by this worker` });
        }
      }
    });
    socket.on('error', () => {});  // 'close' follows
    socket.on('close', () => {
      link.socket = null;
      const wait = link.backoff * (0.5 + Math.random() / 2);
      link.backoff = Math.min(link.backoff * 2, 1000);
      setTimeout(connect, wait).unref();
    });
  };
  const flush = () => {
    if (!link.socket || link.socket.connecting) return;
    if (isReady && !link.sentReady) {
      send({ type: 'ready' });
      link.sentReady = true;
    }
    if (requests !== link.sent) {
      send({ type: 'requests', total: requests });
      link.sent = requests;
    }
  };
  setInterval(flush, FLUSH_MS).unref();
  connect();
}

// The worker serves: READY=1 (and STATUS=) on NOTIFY_SOCKET, and `ready` to the supervisor.
function ready(status) {
  notify('--no-block', '--ready', ...(status ? [`--status=${status}`] : []));
  isReady = true;
  startLink();
}

// Counts one request (for the `requests` rule): an increment, nothing sent.
function requestDone() {
  requests += 1;
  startLink();
}

// Keeps LEAK_BYTES_PER_REQUEST bytes for good, filled so that they are resident.
function leak() {
  if (LEAK_BYTES > 0) leaked.push(Buffer.alloc(LEAK_BYTES, 1));
}

module.exports = { ready, requestDone, leak, notify };
