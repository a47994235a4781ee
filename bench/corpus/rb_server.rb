# A throttled request loop on Ruby for the recorded leak corpus (see README.md): per-request
# Hash/String/JSON garbage, and the workloads chosen by key=value arguments common to the corpus:
# a lazily filled LRU cache (an insertion-ordered Hash), a TTL session Hash, load cycles, and a
# late leak kept in a global array (leak_kind=global) or in lambdas held by a class-level array
# (leak_kind=closure).
require 'json'

O = { 'rate' => 200.0, 'cycle' => 0.0, 'amp' => 0.6, 'lru' => 0.0, 'lru_kb' => 4.0, 'fill' => 1.0,
      'ttl' => 0.0, 'sess_kb' => 4.0, 'sess_frac' => 1.0, 'leak_start' => 0.0,
      'leak_bytes' => 0.0, 'leak_kind' => 'global' }
ARGV.each do |a|
  k, v = a.split('=')
  abort "unknown argument #{k}" unless O.key?(k)
  O[k] = O[k].is_a?(String) ? v : v.to_f
end

ALPHA = [*'a'..'z', *'0'..'9'].freeze
def rand_str(n) = Array.new(n) { ALPHA.sample }.join

# About `bytes` as small hashes (~100 bytes of payload each), the shape of a parsed row.
def make_record(bytes)
  Array.new((bytes / 100).to_i) { |i| { 'id' => i, 'name' => rand_str(16), 'value' => rand } }
end

class Callbacks
  @list = [] # leak_kind=closure: lambdas over request contexts, never removed
  class << self; attr_reader :list; end
end

$audit = [] # leak_kind=global
$lru = {}
$sessions = {} # id -> [expires, data], in expiry order
$seq = 0
$sink = 0
START = Process.clock_gettime(Process::CLOCK_MONOTONIC)

def handle(now)
  $seq += 1
  headers = (0...20).to_h { |i| ["x-h#{i}", rand_str(24)] }
  body = JSON.parse(JSON.generate({ 'id' => $seq, 'headers' => headers, 'items' => make_record(2000) }))
  page = body['items'].map { |it| "<tr><td>#{it['name']}</td><td>#{it['value']}</td></tr>" }.join
  $sink += page.bytesize
  if O['lru'] > 0
    unless $lru.empty?
      key = rand($lru.size)
      if (hit = $lru.delete(key))
        $lru[key] = hit
        $sink += hit.size
      end
    end
    if rand < O['lru'] / (O['fill'] * O['rate'])
      key = if $lru.size < O['lru'] then $lru.size else $lru.shift[0] end
      $lru[key] = make_record(O['lru_kb'] * 1024)
    end
  end
  $sessions[$seq] = [now + O['ttl'], make_record(O['sess_kb'] * 1024)] if O['ttl'] > 0 && rand < O['sess_frac']
  return unless O['leak_bytes'] > 0 && now - START >= O['leak_start']

  ctx = { 'id' => $seq, 'at' => now, 'user' => rand_str(12), 'trail' => make_record(O['leak_bytes']) }
  if O['leak_kind'] == 'closure'
    Callbacks.list << -> { ctx['trail'].size + ctx['user'].size }
  else
    $audit << ctx
  end
end

due = 0.0
last = START
loop do
  now = Process.clock_gettime(Process::CLOCK_MONOTONIC)
  t = now - START
  r = O['cycle'] > 0 ? O['rate'] * (1 + O['amp'] * Math.sin(2 * Math::PI * t / O['cycle'])) : O['rate']
  due = [due + r * (now - last), r].min
  last = now
  while due >= 1
    handle(now)
    due -= 1
  end
  while (first = $sessions.first) && first[1][0] <= now
    $sessions.delete(first[0])
  end
  sleep 0.01
end
