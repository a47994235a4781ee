# frozen_string_literal: true

# Unit tests of memvisor's Ruby agent (agents/ruby), run by ctest with /usr/bin/ruby: method names
# from the source, modules of gems and scripts, classes of BasicObjects, C-method sites charged to
# the caller; and with a real agent in a child Ruby: no thread and no socket until SIGURG comes
# with memvisor's request, the marker file, the protocol's refusals, an app that traps SIGURG
# itself (after or before the agent), and forked children.
require 'minitest/autorun'
require 'json'
require 'socket'
require 'tmpdir'
require 'objspace'
require 'fileutils'

ROOT = File.expand_path('../../..', __dir__)
AGENT = File.join(ROOT, 'agents/ruby/memvisor_heap_agent.rb')
ENV.delete('MEMVISOR_SAMPLER_DIR')
require AGENT # inert here: MEMVISOR_SAMPLER_DIR is unset
require File.join(ROOT, 'agents/ruby/memvisor_heap_profile.rb')

class SourcesTest < Minitest::Test
  SOURCE = <<~RUBY
    module Shop
      class Store
        def keep
          [1]
        end

        def self.build
          new
        end

        class << self
          def open
            new
          end
        end
      end
    end
    def top_level
      'x' * 3
    end
  RUBY

  def test_enclosing_method_by_line
    Dir.mktmpdir do |dir|
      path = File.join(dir, 'shop.rb')
      File.write(path, SOURCE)
      sources = MemvisorHeapAgent::Profile::Sources.new
      assert_equal 'Shop::Store#keep', sources.enclosing(path, 4)
      assert_equal 'Shop::Store.build', sources.enclosing(path, 8)
      assert_equal 'Shop::Store.open', sources.enclosing(path, 13)
      assert_equal 'Object#top_level', sources.enclosing(path, 19)
      assert_equal '<main>', sources.enclosing(path, 30)
      assert_equal '<main>', sources.enclosing('/nonexistent.rb', 3)
    end
  end

  def test_c_methods_add_a_frame_and_charge_the_ruby_line
    sources = MemvisorHeapAgent::Profile::Sources.new
    frames, site = sources.frames(__FILE__, 10, 'Hash', :merge)
    assert_equal 1, site
    assert_equal 'Hash#merge', frames[0][:function]
    assert_equal __FILE__, frames[1][:file]
    frames, site = sources.frames(__FILE__, 10, 'SourcesTest', :test_c_methods_add_a_frame_and_charge_the_ruby_line)
    assert_equal 0, site
    assert_equal 'SourcesTest#test_c_methods_add_a_frame_and_charge_the_ruby_line', frames[0][:function]
    assert_equal 'Shop.build', sources.method_label('#<Class:Shop>', :build)
  end

  # Ruby gives no class path for an object made in a singleton method (def self.x): its name
  # comes from the source, whole, as for a C method's site in the same method.
  def test_a_singleton_method_is_named_with_its_module
    Dir.mktmpdir do |dir|
      path = File.join(dir, 'collector.rb')
      File.write(path, <<~'RUBY')
        module Metrics
          module Collector
            def self.label(n)
              "label-#{n}"
            end
          end
        end
      RUBY
      load path
      made = ObjectSpace.trace_object_allocations { Metrics::Collector.label(7) }
      file = ObjectSpace.allocation_sourcefile(made)
      line = ObjectSpace.allocation_sourceline(made)
      class_path = ObjectSpace.allocation_class_path(made)
      method_id = ObjectSpace.allocation_method_id(made)
      assert_equal path, file
      frames, site = MemvisorHeapAgent::Profile::Sources.new.frames(file, line, class_path, method_id)
      assert_equal 'Metrics::Collector.label', frames[site][:function]
    end
  end

  def test_modules_of_gems_and_scripts
    sources = MemvisorHeapAgent::Profile::Sources.new
    assert_equal 'rack', sources.module_of('/var/lib/gems/3.1.0/gems/rack-2.2.4/lib/rack/utils.rb')
    assert_equal 'set', sources.module_of(File.join(RbConfig::CONFIG['rubylibdir'], 'set.rb'))
  end

  def test_class_of_a_basic_object_and_of_a_singleton
    assert_equal 'BasicObject', MemvisorHeapAgent::Profile.class_name(BasicObject.new)
    with_singleton = +'text'
    def with_singleton.extra; end
    assert_equal 'String', MemvisorHeapAgent::Profile.class_name(with_singleton)
    assert_equal 'Class', MemvisorHeapAgent::Profile.class_name(String)
  end
end

# A child Ruby with the agent, answering commands on stdin: "threads" (Thread.list.size), "traced"
# (whether a new object has an allocation site recorded), "urg" (how often the app's own SIGURG
# trap ran, when it has one), "fork" (the pid of a forked child that reports "traced" into a file).
CHILD = <<~'RUBY'
  require 'objspace'
  $stdout.sync = true
  urg = 0
  if ENV['APP_TRAP']
    previous = Signal.trap('URG') { urg += 1 }
    puts "previous #{previous.inspect}"
  end
  while (line = $stdin.gets)
    case line.chomp
    when 'threads' then puts Thread.list.size
    when 'retain' then $kept = Array.new(300_000) { |i| "kept #{i}" }; puts 'ok' # a slow profile
    when 'traced' then puts !ObjectSpace.allocation_sourcefile(Object.new).nil?
    when 'urg' then puts urg + ($pre_urg || 0)
    when 'fork'
      pid = fork do
        File.write(ENV['FORK_OUT'], (!ObjectSpace.allocation_sourcefile(Object.new).nil?).to_s)
        sleep
      end
      puts pid
    end
  end
RUBY

class AgentProcessTest < Minitest::Test
  def start(env = {}, requires = [AGENT])
    @dir = Dir.mktmpdir
    @err = File.join(@dir, 'err.txt')
    @stdin_r, @stdin = IO.pipe
    @stdout, @stdout_w = IO.pipe
    args = requires.map { |r| "-r#{r}" }
    @pid = spawn({ 'MEMVISOR_SAMPLER_DIR' => @dir, 'FORK_OUT' => File.join(@dir, 'fork.txt') }.merge(env),
                 RbConfig.ruby, *args, '-e', CHILD, in: @stdin_r, out: @stdout_w, err: @err)
    @stdin_r.close
    @stdout_w.close
    @children = []
    eventually { File.exist?(marker(@pid)) }
  end

  def teardown
    (@children + [@pid]).each do |pid|
      Process.kill('KILL', pid)
    rescue Errno::ESRCH
      nil
    end
    @children.each { |pid| Process.wait(pid) rescue nil } # rubocop:disable Style/RescueModifier
    Process.wait(@pid)
    assert_equal '', File.read(@err) # the agent never writes on the app's streams
    FileUtils.rm_rf(@dir)
  end

  def eventually(seconds = 20)
    deadline = Time.now + seconds
    until yield
      flunk 'timed out' if Time.now > deadline
      sleep 0.02
    end
  end

  def marker(pid)
    File.join(@dir, "#{pid}.wake")
  end

  def socket(pid)
    File.join(@dir, "#{pid}.agent")
  end

  def command(text)
    @stdin.puts(text)
    @stdin.flush
    @stdout.gets.chomp
  end

  # What memvisor does: the request file, SIGURG, then wait for the socket.
  def wake(pid)
    FileUtils.touch("#{marker(pid)}.req")
    Process.kill('URG', pid)
    eventually { File.exist?(socket(pid)) }
  ensure
    FileUtils.rm_f("#{marker(pid)}.req")
  end

  def ask(pid, request)
    conn = UNIXSocket.new(socket(pid))
    conn.write("#{JSON.generate(request)}\n")
    conn
  end

  def start_time(pid)
    File.read("/proc/#{pid}/stat").split(') ', 2).last.split(' ')[19]
  end

  def test_idle_no_thread_no_socket_and_a_stray_sigurg_changes_nothing
    start
    assert_equal "#{start_time(@pid)} armed\n", File.read(marker(@pid))
    assert_equal 0o600, File.stat(marker(@pid)).mode & 0o777
    assert_equal '1', command('threads')
    Process.kill('URG', @pid) # no request file: not memvisor's
    sleep 0.3
    assert_equal '1', command('threads')
    refute File.exist?(socket(@pid))
  end

  def test_socket_mode_bad_request_and_back_to_one_thread
    start
    wake(@pid)
    assert_equal 0o600, File.stat(socket(@pid)).mode & 0o777
    assert_equal '2', command('threads')
    reply = JSON.parse(ask(@pid, { duration_ms: -1 }).gets)
    assert_equal 'error', reply['state']
    assert_includes reply['error'], 'duration_ms'
    eventually { !File.exist?(socket(@pid)) }
    eventually { command('threads') == '1' }
  end

  def test_one_window_at_a_time_and_a_hang_up_ends_it
    start
    wake(@pid)
    first = ask(@pid, { protocol: 1, duration_ms: 60_000 })
    assert_equal({ 'state' => 'recording' }, JSON.parse(first.gets))
    assert_equal 'true', command('traced')
    busy = JSON.parse(ask(@pid, { protocol: 1, duration_ms: 1000 }).gets)
    assert_equal 'error', busy['state']
    assert_includes busy['error'], 'already open'
    first.close # memvisor gone: the window ends, tracing stops, the socket goes
    eventually { !File.exist?(socket(@pid)) }
    assert_equal 'false', command('traced')
    eventually { command('threads') == '1' }
    wake(@pid)
    conn = ask(@pid, { protocol: 1, duration_ms: 200 })
    assert_equal 'recording', JSON.parse(conn.gets)['state']
    done = JSON.parse(conn.gets)
    assert_equal 'done', done['state']
    assert_equal 'ruby', done['profile']['runtime']
  end

  # The socket's name goes when the window ends, before the answer: a sample asked for right after
  # this one's answer wakes a window of its own instead of queueing on this socket and being told
  # that a window is open (a three-sample run was, once, on a loaded machine).
  def test_a_sample_right_after_an_answer_finds_no_socket_of_the_window_before
    start
    wake(@pid)
    conn = ask(@pid, { protocol: 1, duration_ms: 300 })
    assert_equal 'recording', JSON.parse(conn.gets)['state']
    assert_equal 'ok', command('retain') # 300,000 objects to walk: the answer takes a while
    eventually { !File.exist?(socket(@pid)) }
    assert_nil IO.select([conn], nil, nil, 0), 'the socket stayed until the answer was sent'
    assert_equal 'done', JSON.parse(conn.gets)['state']
    assert_raises(Errno::ENOENT) { UNIXSocket.new(socket(@pid)) }
    eventually { command('threads') == '1' }
    wake(@pid)
    again = ask(@pid, { protocol: 1, duration_ms: 200 })
    assert_equal 'recording', JSON.parse(again.gets)['state']
    assert_equal 'done', JSON.parse(again.gets)['state']
  end

  def test_an_app_trapping_sigurg_keeps_it_and_the_marker_says_so
    start({ 'APP_TRAP' => '1' })
    assert_equal 'previous "SYSTEM_DEFAULT"', @stdout.gets.chomp # as without the agent
    eventually { File.read(marker(@pid)).end_with?(" app-trap\n") }
    Process.kill('URG', @pid)
    eventually { command('urg') == '1' }
  end

  def test_a_trap_in_place_before_the_agent_is_left_alone
    pre = File.join(Dir.tmpdir, "memvisor-pre-trap-#{Process.pid}.rb")
    File.write(pre, "$pre_urg = 0\nSignal.trap('URG') { $pre_urg += 1 }\n")
    start({}, [pre, AGENT])
    assert_equal "#{start_time(@pid)} foreign-handler\n", File.read(marker(@pid))
    FileUtils.touch("#{marker(@pid)}.req")
    Process.kill('URG', @pid)
    eventually { command('urg') == '1' } # the app's handler ran, not the agent's
    refute File.exist?(socket(@pid))
    assert_equal '1', command('threads')
  ensure
    FileUtils.rm_f(pre)
  end

  def test_a_forked_child_has_its_own_marker_and_no_window_of_its_parent
    start
    wake(@pid)
    window = ask(@pid, { protocol: 1, duration_ms: 60_000 })
    assert_equal 'recording', JSON.parse(window.gets)['state']
    child = Integer(command('fork'))
    @children << child
    eventually { File.exist?(File.join(@dir, 'fork.txt')) && !File.read(File.join(@dir, 'fork.txt')).empty? }
    assert_equal 'false', File.read(File.join(@dir, 'fork.txt')) # the parent's window stopped there
    assert_equal 'true', command('traced') # and goes on in the parent
    window.close
    eventually { File.exist?(marker(child)) }
    assert_equal "#{start_time(child)} armed\n", File.read(marker(child))
    wake(child)
    conn = ask(child, { protocol: 1, duration_ms: 100 })
    assert_equal 'recording', JSON.parse(conn.gets)['state']
    assert_equal 'done', JSON.parse(conn.gets)['state']
  end
end
