# An app with its own SIGURG trap (as Puma's cluster with fork_worker has). Writes "PREVIOUS COUNT"
# (what Signal.trap returned, and how often the trap ran) to the file ARGV[0] every 20 ms.
out = ARGV.fetch(0)
count = 0
previous = Signal.trap('URG') { count += 1 }
loop do
  File.write("#{out}.tmp", "#{previous} #{count}")
  File.rename("#{out}.tmp", out)
  sleep 0.02
end
