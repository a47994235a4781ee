# Deadlocks at once: the main thread waits on a queue nobody fills, and no other thread lives.
# Ruby's deadlock detection ends it with "No live threads left. Deadlock? (fatal)", exit code 1;
# it must do the same under memvisor's heap_sampler (no agent thread while idle).
$stdout.puts 'done: now waiting on a queue nobody fills'
$stdout.flush
Queue.new.pop
