// A Node worker that handles SIGUSR1 itself (log rotation, say): Node's inspector then never sees
// the signal, and a heap sample must fail with a clear error while this keeps running.
'use strict';
let received = 0;
process.on('SIGUSR1', () => {
  received++;
  console.log('app handled SIGUSR1', received);
});
setInterval(() => {}, 1000);
console.log('trap ready');
