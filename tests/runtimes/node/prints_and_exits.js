// Prints to stdout and stderr and exits with code 3: run with and without memvisor's spawn-time
// setup, the two runs must print and exit alike.
'use strict';
console.log('stdout line', process.argv.slice(2).join(' '));
console.error('stderr line');
console.log('inspector url:', require('inspector').url() === undefined ? 'none' : 'open');
setTimeout(() => {
  console.log('after a tick');
  process.exitCode = 3;
}, 50);
