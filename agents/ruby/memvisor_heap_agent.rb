# frozen_string_literal: true

# memvisor's in-process heap agent for CRuby (>= 2.7; fork hook by Process._fork from 3.1), loaded
# by RUBYOPT=-r.../memvisor_heap_agent.rb when a service has heap_sampler set. Inert unless
# MEMVISOR_SAMPLER_DIR is set.
#
# Idle until asked: one thread blocked in accept on a Unix socket (no CPU; Ruby exits when its main
# thread ends, whatever this thread does). A sample window is ObjectSpace allocation tracing over
# the window, a full GC at its end, then a walk of the heap for the objects allocated in the window
# that are still alive, by allocation site (memvisor_heap_profile.rb). The GC is never disabled.
#
# Protocol, version 1 (the same for agents/python/memvisor_heap_agent.py; memvisor's side is
# src/runtimes/agent/agent_protocol.h):
#   - The agent listens on the Unix stream socket $MEMVISOR_SAMPLER_DIR/<pid>.agent, mode 0600,
#     and serves only peers whose uid (SO_PEERCRED) is 0 or the process's own. Each forked child
#     listens on its own <pid>.agent. The socket goes at exit; memvisor removes it when it reaps.
#   - memvisor connects and sends one line:
#       {"protocol": 1, "duration_ms": N, "frames": F, "interval_bytes": B}
#   - The agent answers one line at once, {"state": "recording"} (or {"state": "error", ...} and
#     closes), then one line when the profile is built, and closes:
#       {"state": "done", "profile": {...}}  (the form runtime_profile_from_json() reads)
#       {"state": "error", "error": "..."}
#   - memvisor hanging up during the window ends it: tracing stops and nothing is sent.
#   - One window at a time: a request while one is open gets an error.
module MemvisorHeapAgent
  PROTOCOL = 1
  MAX_REQUEST = 64 * 1024
  # The agent's own files: objects allocated there are the agent's, never the app's.
  AGENT_FILES = [File.expand_path(__FILE__), File.expand_path('memvisor_heap_profile.rb', __dir__)].freeze

  @directory = nil
  @pid = nil
  @path = nil
  @server = nil
  @busy = nil
  @window_open = false

  class << self
    attr_reader :path

    def install
      directory = ENV['MEMVISOR_SAMPLER_DIR']
      return if directory.nil? || directory.empty? || @pid

      require 'socket'
      require 'io/wait'
      @directory = directory
      arm
      at_exit { remove_socket }
      install_fork_hook
    rescue Exception # rubocop:disable Lint/RescueException -- never into the app
      nil
    end

    def arm
      @busy = Mutex.new
      @window_open = false
      @pid = Process.pid
      @path = File.join(@directory, "#{@pid}.agent")
      server = Socket.new(:UNIX, :STREAM)
      begin
        begin
          File.unlink(@path) # a stale socket of an earlier process with this pid
        rescue Errno::ENOENT
          nil
        end
        server.bind(Socket.pack_sockaddr_un(@path))
        File.chmod(0o600, @path) # whoever connects before this is checked by uid all the same
        server.listen(8)
      rescue Exception # rubocop:disable Lint/RescueException
        server.close
        @path = nil
        return
      end
      @server = server
      thread = Thread.new { serve(server) }
      thread.report_on_exception = false
      thread.name = 'memvisor-heap-agent' if thread.respond_to?(:name=)
    end

    def remove_socket
      File.unlink(@path) if @path && @pid == Process.pid
    rescue StandardError
      nil
    end

    def install_fork_hook
      hook = Module.new do
        def _fork
          pid = super
          MemvisorHeapAgent.after_fork_child if pid.zero?
          pid
        end
      end
      if Process.respond_to?(:_fork)
        Process.singleton_class.prepend(hook) # Ruby >= 3.1: every fork goes through Process._fork
      else
        legacy = Module.new do
          def fork(*args, &block)
            if block
              super(*args) do
                MemvisorHeapAgent.after_fork_child
                block.call
              end
            else
              pid = super
              MemvisorHeapAgent.after_fork_child if pid.nil?
              pid
            end
          end
        end
        Kernel.prepend(legacy)
        Process.singleton_class.prepend(legacy)
      end
    end

    # In the child: the parent's thread is gone, its socket is the parent's; a window the parent
    # had open must not go on tracing here.
    def after_fork_child
      if @window_open
        ObjectSpace.trace_object_allocations_stop
        ObjectSpace.trace_object_allocations_clear
      end
      @server&.close
      @server = nil
      arm if @pid
    rescue Exception # rubocop:disable Lint/RescueException
      nil
    end

    def serve(server)
      Thread.current.report_on_exception = false
      while @server.equal?(server)
        begin
          conn, = server.accept
        rescue Errno::EINTR, Errno::ECONNABORTED
          next
        rescue Errno::EMFILE, Errno::ENFILE, Errno::ENOBUFS, Errno::ENOMEM
          sleep 1
          next
        rescue Exception # rubocop:disable Lint/RescueException -- closed under us: the agent is gone
          return
        end
        unless peer_allowed?(conn)
          conn.close
          next
        end
        handler = Thread.new(conn) { |c| handle(c) }
        handler.report_on_exception = false
      end
    rescue Exception # rubocop:disable Lint/RescueException
      nil
    end

    def peer_allowed?(conn)
      uid, = conn.getpeereid
      uid.zero? || uid == Process.uid || uid == Process.euid
    rescue StandardError
      false
    end

    def send_line(conn, obj)
      require 'json'
      data = "#{JSON.generate(obj)}\n"
      until data.empty?
        raise IOError, 'memvisor is not reading' unless conn.wait_writable(30)

        written = conn.send(data, Socket::MSG_NOSIGNAL)
        data = data.byteslice(written..-1)
      end
    end

    def read_line(conn)
      data = +''
      deadline = monotonic + 10
      until data.include?("\n")
        left = deadline - monotonic
        break if left <= 0 || !IO.select([conn], nil, nil, left)

        chunk = conn.read_nonblock(4096, exception: false)
        break if chunk.nil?
        next if chunk == :wait_readable

        data << chunk
        raise ArgumentError, 'request line too long' if data.bytesize > MAX_REQUEST
      end
      data.split("\n", 2).first || ''
    end

    def monotonic
      Process.clock_gettime(Process::CLOCK_MONOTONIC)
    end

    def handle(conn)
      require 'json'
      begin
        request = JSON.parse(read_line(conn))
        raise ArgumentError, 'not an object' unless request.is_a?(Hash)

        duration_ms = request['duration_ms']
        unless duration_ms.is_a?(Integer) && duration_ms.positive? && duration_ms <= 86_400_000
          raise ArgumentError, 'duration_ms must be an integer in 1..86400000'
        end

        protocol = request.fetch('protocol', PROTOCOL)
        raise ArgumentError, "protocol #{protocol.inspect} is not #{PROTOCOL}" unless protocol == PROTOCOL
      rescue StandardError => e
        send_line(conn, { state: 'error', error: "bad request: #{e.message}" })
        return
      end
      unless @busy.try_lock
        send_line(conn, { state: 'error', error: 'a sample window is already open in this process' })
        return
      end
      begin
        answer = window(conn, duration_ms / 1000.0)
      ensure
        @busy.unlock
      end
      send_line(conn, answer) if answer
    rescue Exception => e # rubocop:disable Lint/RescueException
      begin
        send_line(conn, { state: 'error', error: "#{e.class}: #{e.message}" })
      rescue Exception # rubocop:disable Lint/RescueException
        nil
      end
    ensure
      begin
        conn.close
      rescue StandardError
        nil
      end
    end

    # Sleeps until the window is over; false when memvisor hung up (the window is abandoned).
    def wait_window(conn, duration)
      deadline = monotonic + duration
      loop do
        left = deadline - monotonic
        return true if left <= 0
        next unless IO.select([conn], nil, nil, left)

        chunk = conn.read_nonblock(1024, exception: false)
        return false if chunk.nil?
      end
    end

    def window(conn, duration)
      require 'objspace'
      require_relative 'memvisor_heap_profile' # the profile's code, loaded at the first window
      started = monotonic
      start_generation = GC.count
      start_allocated = GC.stat(:total_allocated_objects)
      @window_open = true
      ObjectSpace.trace_object_allocations_start
      begin
        send_line(conn, { state: 'recording' })
        return nil unless wait_window(conn, duration)

        allocated = GC.stat(:total_allocated_objects) - start_allocated
        GC.start(full_mark: true, immediate_sweep: true)
        window_s = monotonic - started
        # Tracing stays on during the walk: a traced object freed meanwhile then leaves the table,
        # so no new object is taken for it; the walk's own objects are told apart by their file.
        objects = Profile.retained_since(start_generation)
      ensure
        ObjectSpace.trace_object_allocations_stop
        ObjectSpace.trace_object_allocations_clear
        @window_open = false
      end
      { state: 'done', profile: Profile.build(objects, window_s, allocated) }
    end
  end
end

MemvisorHeapAgent.install
