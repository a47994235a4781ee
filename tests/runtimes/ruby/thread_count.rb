# Writes "THREADS MAX" (Thread.list.size now, and the most seen) to the file ARGV[0] every 20 ms,
# while allocating a little: one thread while idle, two while a sample window's thread is alive.
out = ARGV.fetch(0)
most = 0
loop do
  count = Thread.list.size
  most = count if count > most
  File.write("#{out}.tmp", "#{count} #{most}")
  File.rename("#{out}.tmp", out)
  Array.new(100) { |i| "item #{i}" }
  sleep 0.02
end
