// A Node HTTP service with its own load loop: six routes dispatched through a table, as a router
// does, so V8 cannot inline a route into the dispatcher. The others allocate and drop far more
// than the leak (the churn). `--leak=direct` (the default): rememberInvoice keeps every invoice
// in a global list. `--leak=helpers`: subscribeClient leaks through Node's EventEmitter (its
// listener lists grow in node:events) and a Map. `--leak=none` keeps nothing: the control.
'use strict';
const http = require('http');
const { EventEmitter } = require('events');

const mode = (process.argv.find((arg) => arg.startsWith('--leak=')) || '--leak=direct').slice(7);
const invoices = [];  // never trimmed
const bus = new EventEmitter();
bus.setMaxListeners(0);
const sessions = new Map();
let clients = 0;

function rememberInvoice(request, response) {
  const invoice = {
    id: invoices.length,
    customer: 'customer-' + (invoices.length % 977),
    lines: [{ sku: 'A-1', quantity: 2 }, { sku: 'B-7', quantity: 1 }],
    note: 'invoice received at ' + Date.now(),
    // About 1 KiB of text of its own: the leak outweighs what is merely in flight when a short
    // window ends (a loaded machine serves few requests in it).
    text: 'x'.repeat(1024),
  };
  if (mode === 'direct') invoices.push(invoice);
  response.end('stored ' + invoice.id);
}

function subscribeClient(request, response) {
  const id = ++clients;
  const state = { id, since: Date.now(), prices: [id, id + 1, id + 2] };
  if (mode === 'helpers') {
    bus.on('price', (price) => state.prices.push(price));
    sessions.set('client-' + id, state);
  }
  response.end('subscribed ' + id);
}

function renderReport(request, response) {
  const rows = [];
  for (let i = 0; i < 400; i++) rows.push({ row: i, label: 'row ' + i, values: [i, i * 2, i * 3] });
  response.end(JSON.stringify(rows).slice(0, 64));
}

function listItems(request, response) {
  const items = Array.from({ length: 200 }, (_, i) => ({ id: i, name: 'item-' + i }));
  response.end(String(items.filter((item) => item.id % 7 === 0).length));
}

function echoHeaders(request, response) {
  response.end(Object.keys(request.headers).join(',') + ' '.repeat(256));
}

function health(request, response) {
  response.end('ok');
}

const routes = {
  '/invoice': rememberInvoice,
  '/report': renderReport,
  '/items': listItems,
  '/echo': echoHeaders,
  '/health': health,
  '/subscribe': subscribeClient,
};
const paths = Object.keys(routes);

const server = http.createServer((request, response) => {
  const route = routes[request.url] || health;
  route(request, response);
});

// The load: eight requests in flight at a time, over all routes, for as long as the process runs.
const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
let sent = 0;
function fire(port) {
  const path = paths[sent++ % paths.length];
  http.get({ port, path, agent }, (response) => {
    response.resume();
    response.on('end', () => fire(port));
  }).on('error', () => setTimeout(() => fire(port), 10));
}

server.listen(0, '127.0.0.1', () => {
  const port = server.address().port;
  for (let i = 0; i < 8; i++) fire(port);
  console.log('leaky listening on', port, 'leak:', mode);
});
