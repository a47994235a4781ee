# Prints to stdout and stderr, forks a child that prints, and exits with code 3: run with and
# without memvisor's heap_sampler, its output and exit code must be the same.
$stdout.puts 'stdout line'
warn 'stderr line'
$stdout.flush
pid = fork do
  puts 'child says hello'
  $stdout.flush
  exit!(7)
end
Process.wait(pid)
puts "child exit: #{$?.exitstatus}"
puts 'done'
$stdout.flush
exit 3
