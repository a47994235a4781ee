# Holds the GVL in native code for 20 s (libc's system("sleep 20") through Fiddle with need_gvl;
# glibc retries its waitpid on EINTR), so the main thread cannot run a trap: memvisor's SIGURG
# waits in vain. Writes "stuck" to ARGV[0] before the call, "back THREADS" after it.
require 'fiddle'
out = ARGV.fetch(0)
system_call = Fiddle::Function.new(Fiddle.dlopen(nil)['system'], [Fiddle::TYPE_VOIDP],
                                   Fiddle::TYPE_INT, need_gvl: true)
File.write(out, 'stuck')
system_call.call('sleep 20')
sleep 0.5 # a pending trap runs now
File.write(out, "back #{Thread.list.size}")
sleep
