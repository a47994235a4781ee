// A Node HTTP service with its own load loop: five routes dispatched through a table, as a router
// does. One of them, rememberInvoice, keeps every invoice in a global list (the leak); the others
// allocate and drop far more (the churn). `node leaky.js --no-leak` keeps nothing: the control.
'use strict';
const http = require('http');

const leak = !process.argv.includes('--no-leak');
const invoices = [];  // never trimmed

function rememberInvoice(request, response) {
  const invoice = {
    id: invoices.length,
    customer: 'customer-' + (invoices.length % 977),
    lines: [{ sku: 'A-1', quantity: 2 }, { sku: 'B-7', quantity: 1 }],
    note: 'invoice received at ' + Date.now(),
  };
  if (leak) invoices.push(invoice);
  response.end('stored ' + invoice.id);
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
  console.log('leaky listening on', port, leak ? '(leaking)' : '(no leak)');
});
