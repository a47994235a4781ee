// The benchmark's fixed amount of work for bench/runtime_sampler/node.py: request-like objects,
// strings and JSON built and dropped, one in a hundred kept (a slow leak). Options:
//   --wait-inspector  start the work only once the inspector is open and a session has had time
//                     to start sampling (the "window" run)
//   --snapshot DIR    write a V8 heap snapshot into DIR halfway (the usual tool, the alternative)
'use strict';
const ITERATIONS = Number(process.env.NODE_BENCH_ITERATIONS || 500000);
const waitInspector = process.argv.includes('--wait-inspector');
const snapshotAt = process.argv.indexOf('--snapshot');
const snapshotDir = snapshotAt > 0 ? process.argv[snapshotAt + 1] : null;

const kept = [];
function handle(i) {
  const request = { id: i, path: '/items/' + (i % 1000), headers: { host: 'bench', n: String(i) } };
  const rows = [];
  for (let k = 0; k < 8; k++) rows.push({ k, label: 'row ' + k + ' of ' + i });
  const body = JSON.stringify({ request, rows });
  if (i % 100 === 0) kept.push({ id: i, size: body.length, note: 'kept ' + i });
  return body.length;
}

function work() {
  let total = 0;
  for (let i = 0; i < ITERATIONS; i++) {
    total += handle(i);
    if (snapshotDir && i === ITERATIONS / 2) {
      require('v8').writeHeapSnapshot(require('path').join(snapshotDir, 'bench.heapsnapshot'));
    }
  }
  console.log('done', total, kept.length);
}

if (!waitInspector) {
  work();
} else {
  // Opened by memvisor sample's SIGUSR1 (sent once this line is out: Node's SIGUSR1 handler is
  // installed by then); the session attaches and starts sampling right after.
  console.log('ready');
  const inspector = require('inspector');
  const poll = setInterval(() => {
    if (inspector.url() === undefined) return;
    clearInterval(poll);
    setTimeout(work, 500);
  }, 10);
}
