# frozen_string_literal: true

# Unit tests of memvisor's Ruby agent (agents/ruby), run by ctest with /usr/bin/ruby: method names
# from the source, modules of gems and scripts, classes of BasicObjects, C-method sites charged to
# the caller, and the protocol's refusals from a real agent in a child Ruby.
require 'minitest/autorun'
require 'json'
require 'socket'
require 'tmpdir'
require 'objspace'

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

class ProtocolTest < Minitest::Test
  def setup
    @dir = Dir.mktmpdir
    @out = File.join(@dir, 'out.txt')
    @pid = spawn({ 'MEMVISOR_SAMPLER_DIR' => @dir }, RbConfig.ruby, "-r#{AGENT}", '-e',
                 'loop { sleep 0.05 }', out: @out, err: @out)
    @path = File.join(@dir, "#{@pid}.agent")
    deadline = Time.now + 20
    sleep 0.02 until File.exist?(@path) || Time.now > deadline
  end

  def teardown
    Process.kill('TERM', @pid)
    Process.wait(@pid)
    assert_equal '', File.read(@out) # the agent never writes on the app's streams
    FileUtils.rm_rf(@dir)
  end

  def ask(request)
    conn = UNIXSocket.new(@path)
    conn.write("#{JSON.generate(request)}\n")
    conn
  end

  def test_socket_mode_and_bad_request
    assert_equal 0o600, File.stat(@path).mode & 0o777
    reply = JSON.parse(ask({ duration_ms: -1 }).gets)
    assert_equal 'error', reply['state']
    assert_includes reply['error'], 'duration_ms'
  end

  def test_one_window_at_a_time_and_a_hang_up_ends_it
    first = ask({ protocol: 1, duration_ms: 60_000 })
    assert_equal({ 'state' => 'recording' }, JSON.parse(first.gets))
    busy = JSON.parse(ask({ protocol: 1, duration_ms: 1000 }).gets)
    assert_equal 'error', busy['state']
    assert_includes busy['error'], 'already open'
    first.close # memvisor gone: the window ends, the next one can start
    reply = nil
    deadline = Time.now + 20
    loop do
      conn = ask({ protocol: 1, duration_ms: 200 })
      reply = JSON.parse(conn.gets)
      if reply['state'] == 'recording'
        done = JSON.parse(conn.gets)
        assert_equal 'done', done['state']
        assert_equal 'ruby', done['profile']['runtime']
        break
      end
      break if Time.now > deadline

      sleep 0.1
    end
    assert_equal 'recording', reply['state']
  end
end
