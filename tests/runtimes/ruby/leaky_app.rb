# A worker for memvisor's Ruby heap sample tests: churn that allocates and frees much more than it
# keeps, and a leak in a known method, archive_order (or, with `helper`, a leak made by C methods,
# Hash#merge and String#*: remember_totals). `none` leaks nothing (the negative control). `fork`
# forks a child that leaks from archive_child_order.
ARCHIVE = []
TOTALS = {}

def archive_order(number)
  ARCHIVE << "order #{number}; " * 40 # LEAK: order
end

def remember_totals(number)
  TOTALS[number] = { id: number }.merge(note: 'total ' * 50) # LEAK: totals, behind Hash#merge
end

def archive_child_order(number)
  ARCHIVE << ["child order #{number}"] * 8 # LEAK: child
end

def churn(n)
  scratch = Array.new(64) { 'x' * 256 }
  words = Array.new(200) { |i| "word-#{n}-#{i}" }
  scratch.size + words.join(' ').size
end

mode = ARGV[0] || 'order'
leak = { 'order' => :archive_order, 'helper' => :remember_totals }[mode]
if mode == 'fork'
  pid = fork
  if pid.nil?
    leak = :archive_child_order
  else
    puts "child #{pid}"
  end
end
$stdout.puts "ready #{Process.pid}"
$stdout.flush
n = 0
loop do
  n += 1
  churn(n)
  send(leak, n) if leak && (n % 4).zero?
  sleep 0.005 if (n % 50).zero?
end
