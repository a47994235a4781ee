// A worker that keeps objects for two seconds, then lets its event loop empty and exits: a heap
// sample attached then must leave at once, not hold the exit until its window ends.
'use strict';
const kept = [];
function hoard(i) {
  kept.push({ i, label: 'item ' + i });
}
let n = 0;
const timer = setInterval(() => {
  for (let j = 0; j < 100; j++) hoard(n++);
}, 1);
setTimeout(() => clearInterval(timer), 2000);
console.log('ends soon');
