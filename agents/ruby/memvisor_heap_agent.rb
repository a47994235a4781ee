# frozen_string_literal: true

# memvisor's in-process heap agent for CRuby (>= 2.7; fork hook by Process._fork from 3.1), loaded
# by RUBYOPT=-r.../memvisor_heap_agent.rb when a service has heap_sampler set. Inert unless
# MEMVISOR_SAMPLER_DIR is set.
#
# No thread while idle: a thread blocked in accept would keep Ruby's deadlock detection ("No live
# threads left. Deadlock?") from firing and would show in Thread.list. The agent only traps
# SIGURG (ignored by default, unused by Ruby itself) and leaves a marker file saying so; memvisor
# writes a request file and sends SIGURG, and the trap starts one short-lived thread that opens
# the socket, serves one window and ends. A sample window is ObjectSpace allocation tracing over
# the window, a full GC at its end, then a walk of the heap for the objects allocated in the window
# that are still alive, by allocation site (memvisor_heap_profile.rb). The GC is never disabled.
#
# Protocol, version 1 (the window's part is the same for agents/python/memvisor_heap_agent.py;
# memvisor's side is src/runtimes/agent/agent_protocol.h):
#   - At start the agent writes $MEMVISOR_SAMPLER_DIR/<pid>.wake, one line
#     "<start time of the process, field 22 of /proc/self/stat> <state>", state "armed" when its
#     SIGURG trap is in; else why not: "app-trap" (the app traps SIGURG itself, before or after
#     the agent: memvisor must not signal it), "foreign-handler" (SIGURG was handled already at
#     start), "no-proc" (/proc/self/status unreadable). A forked child writes its own.
#   - To wake it memvisor creates <pid>.wake.req, then sends SIGURG. The trap does nothing
#     without that file (a stray SIGURG stays ignored) or while a window's thread is alive.
#     Otherwise a thread binds the Unix stream socket <pid>.agent, mode 0600, serving only peers
#     whose uid (SO_PEERCRED) is 0 or the process's own, waits up to 10 s for one connection,
#     serves it, and removes the socket. memvisor removes <pid>.wake.req once done.
#   - memvisor connects and sends one line:
#       {"protocol": 1, "duration_ms": N, "frames": F, "interval_bytes": B}
#   - The agent answers one line at once, {"state": "recording"} (or {"state": "error", ...} and
#     closes), then one line when the profile is built, and closes:
#       {"state": "done", "profile": {...}}  (the form runtime_profile_from_json() reads)
#       {"state": "error", "error": "..."}
#   - memvisor hanging up during the window ends it: tracing stops and nothing is sent.
#   - One window at a time: another connection while one is open gets an error.
module MemvisorHeapAgent
  PROTOCOL = 1
  MAX_REQUEST = 64 * 1024
  ACCEPT_WAIT = 10 # seconds the socket waits for memvisor after SIGURG
  URG = 'URG'
  # The agent's own files: objects allocated there are the agent's, never the app's.
  AGENT_FILES = [File.expand_path(__FILE__), File.expand_path('memvisor_heap_profile.rb', __dir__)].freeze

  # Watches the app's traps: once the app traps SIGURG the agent steps aside (the app's handler is
  # installed as asked) and trap returns what it would have returned without the agent.
  module TrapWatch
    def trap(*args, &block)
      MemvisorHeapAgent.trap_set(args.first, super)
    end
  end

  # The same for Kernel#trap, private like the method it covers.
  module PrivateTrapWatch
    private

    def trap(*args, &block)
      MemvisorHeapAgent.trap_set(args.first, super)
    end
  end

  @directory = nil
  @pid = nil        # the process the marker is written for
  @state = nil      # the marker's state word
  @handler = nil    # the agent's SIGURG trap
  @before = nil     # what Signal.trap returned when the agent's trap went in
  @thread = nil     # a window's thread: alive from SIGURG to the window's end
  @server = nil     # its listening socket and connection (closed in a forked child)
  @conn = nil
  @window_open = false

  class << self
    def install
      directory = ENV['MEMVISOR_SAMPLER_DIR']
      return if directory.nil? || directory.empty? || @directory

      @directory = directory
      @pid = Process.pid
      @state = arm
      write_marker
      if @state == 'armed'
        Signal.singleton_class.prepend(TrapWatch)
        Kernel.singleton_class.prepend(TrapWatch)
        Kernel.prepend(PrivateTrapWatch)
      end
      install_fork_hook
      at_exit { remove_marker }
    rescue Exception # rubocop:disable Lint/RescueException -- never into the app
      nil
    end

    # Traps SIGURG unless something handles it already; the marker's state.
    def arm
      caught = sigurg_caught?
      return 'no-proc' if caught.nil?
      return 'foreign-handler' if caught # an earlier -r trapped it, or native code: left alone

      @handler = proc { on_signal }
      previous = Signal.trap(URG, @handler)
      unless %w[SYSTEM_DEFAULT IGNORE DEFAULT].include?(previous)
        Signal.trap(URG, previous) # a trap came in between: put it back
        return 'app-trap'
      end
      @before = previous
      'armed'
    end

    # Whether SIGURG has a handler (SigCgt of /proc/self/status); nil when that is unreadable.
    def sigurg_caught?
      mask = File.read('/proc/self/status')[/^SigCgt:\s*(\h+)/, 1]
      mask && (mask.to_i(16) >> (Signal.list[URG] - 1)).odd?
    rescue StandardError
      nil
    end

    def start_time
      File.read('/proc/self/stat').split(') ', 2).last.split(' ')[19]
    rescue StandardError
      '0'
    end

    def marker_path
      File.join(@directory, "#{@pid}.wake")
    end

    # Written whole under a temporary name, then renamed: memvisor never reads half a line.
    def write_marker
      path = marker_path
      temporary = "#{path}.#{Process.pid}.tmp"
      File.open(temporary, File::WRONLY | File::CREAT | File::TRUNC | File::NOFOLLOW, 0o600) do |f|
        f.write("#{start_time} #{@state}\n")
      end
      File.rename(temporary, path)
    rescue StandardError
      begin
        File.unlink(temporary) if temporary
      rescue StandardError
        nil
      end
    end

    def remove_marker
      File.unlink(marker_path) if @pid == Process.pid
    rescue StandardError
      nil
    end

    # Called by every Signal.trap, Kernel.trap and trap with the app's signal and what trap
    # returned; gives back what trap returns to the app.
    def trap_set(signal, previous)
      return previous unless @state == 'armed' && urg?(signal)

      @state = 'app-trap'
      write_marker
      previous.equal?(@handler) ? @before : previous
    rescue Exception # rubocop:disable Lint/RescueException
      previous
    end

    def urg?(signal)
      signal = signal.to_str if !signal.is_a?(Integer) && signal.respond_to?(:to_str)
      return signal == Signal.list[URG] if signal.is_a?(Integer)

      signal.to_s.delete_prefix('SIG') == URG
    end

    # The SIGURG trap, on the main thread in trap context (no Mutex here): starts a window's thread
    # when memvisor asked for one.
    def on_signal
      return unless @state == 'armed' && @pid == Process.pid
      return if @thread&.alive?
      return unless File.exist?("#{marker_path}.req")

      @thread = Thread.new { serve }
    rescue Exception # rubocop:disable Lint/RescueException
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

    # In the child: the SIGURG trap is inherited, the window's thread is not. A window open at the
    # fork must not go on tracing here, and its sockets are the parent's. The child's own marker.
    def after_fork_child
      if @window_open
        ObjectSpace.trace_object_allocations_stop
        ObjectSpace.trace_object_allocations_clear
        @window_open = false
      end
      [@conn, @server].each do |io|
        io&.close
      rescue StandardError
        nil
      end
      @thread = @conn = @server = nil
      @pid = Process.pid
      write_marker
    rescue Exception # rubocop:disable Lint/RescueException
      nil
    end

    # The window's thread: the socket, one connection within ACCEPT_WAIT, one window, no socket.
    def serve
      Thread.current.report_on_exception = false
      Thread.current.name = 'memvisor-heap-agent' if Thread.current.respond_to?(:name=)
      require 'socket'
      require 'io/wait'
      path = File.join(@directory, "#{Process.pid}.agent")
      @server = listen(path)
      return unless @server

      begin
        @conn = accept_one(@server)
        handle(@conn, @server, path) if @conn
        refuse_waiting(@server)
      ensure
        close_window_sockets(path)
      end
    rescue Exception # rubocop:disable Lint/RescueException
      nil
    end

    def listen(path)
      server = Socket.new(:UNIX, :STREAM)
      # Bound and listening under a temporary name, then renamed: the socket appears only once
      # it accepts (memvisor, or a test, connects as soon as it sees the file).
      temporary = "#{path}.tmp"
      [temporary, path].each do |stale| # an earlier process with this pid
        File.unlink(stale)
      rescue Errno::ENOENT
        nil
      end
      # Linux takes a socket file's mode from the socket at bind: 0600 from its first moment (a
      # chmod after bind would leave a window, seen by the agent's own test). The chmod after is
      # for kernels where fchmod of a socket does nothing; peers are checked by uid anyway.
      File.for_fd(server.fileno, autoclose: false).chmod(0o600)
      server.bind(Socket.pack_sockaddr_un(temporary))
      File.chmod(0o600, temporary)
      server.listen(8)
      File.rename(temporary, path)
      server
    rescue Exception # rubocop:disable Lint/RescueException
      server&.close
      begin
        File.unlink(temporary) if temporary
      rescue StandardError
        nil
      end
      nil
    end

    def close_window_sockets(path)
      [@conn, @server].each do |io|
        io&.close
      rescue StandardError
        nil
      end
      @conn = @server = nil
      File.unlink(path)
    rescue StandardError
      nil
    end

    # The first allowed connection within ACCEPT_WAIT, or nil.
    def accept_one(server)
      deadline = monotonic + ACCEPT_WAIT
      loop do
        left = deadline - monotonic
        return nil if left <= 0
        next unless IO.select([server], nil, nil, left)

        conn, = server.accept_nonblock(exception: false)
        next if conn.nil? || conn == :wait_readable
        return conn if peer_allowed?(conn)

        conn.close
      end
    end

    # Connections waiting on the socket while a window is open: each told so once its request is in
    # (or after a second: closing with the request unread would lose the answer), then closed.
    def refuse_waiting(server)
      loop do
        extra, = server.accept_nonblock(exception: false)
        return if extra.nil? || extra == :wait_readable

        begin
          if peer_allowed?(extra)
            read_line(extra, 1)
            send_line(extra, { state: 'error', error: 'a sample window is already open in this process' })
          end
        rescue StandardError
          nil
        ensure
          extra.close
        end
      end
    end

    def stop_listening(server, path)
      File.unlink(path)
    rescue StandardError
      nil
    ensure
      refuse_waiting(server) # those that came while the window was open: it was
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

    def read_line(conn, wait = 10)
      data = +''
      deadline = monotonic + wait
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

    def handle(conn, server, path)
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
      answer = window(conn, server, path, duration_ms / 1000.0)
      send_line(conn, answer) if answer
    rescue Exception => e # rubocop:disable Lint/RescueException
      begin
        send_line(conn, { state: 'error', error: "#{e.class}: #{e.message}" })
      rescue Exception # rubocop:disable Lint/RescueException
        nil
      end
    end

    # Sleeps until the window is over, refusing other connections; false when memvisor hung up
    # (the window is abandoned).
    def wait_window(conn, server, duration)
      deadline = monotonic + duration
      loop do
        left = deadline - monotonic
        return true if left <= 0

        ready, = IO.select([conn, server], nil, nil, left)
        next unless ready

        refuse_waiting(server) if ready.include?(server)
        next unless ready.include?(conn)

        chunk = conn.read_nonblock(1024, exception: false)
        return false if chunk.nil?
      end
    end

    def window(conn, server, path, duration)
      require 'objspace'
      require_relative 'memvisor_heap_profile' # the profile's code, loaded at the first window
      started = monotonic
      start_generation = GC.count
      start_allocated = GC.stat(:total_allocated_objects)
      @window_open = true
      ObjectSpace.trace_object_allocations_start
      begin
        send_line(conn, { state: 'recording' })
        return nil unless wait_window(conn, server, duration)

        # The window is over: its socket's name goes now, before the profile is built and sent.
        # A sample asked for right after this one's answer must wake a window of its own, not
        # queue on this socket and be refused as if this window were still open.
        stop_listening(server, path)

        allocated = GC.stat(:total_allocated_objects) - start_allocated
        GC.start(full_mark: true, immediate_sweep: true)
        end_generation = GC.count
        window_s = monotonic - started
        # Tracing stays on during the walk: a traced object freed meanwhile then leaves the table,
        # so no new object is taken for it; the walk's own objects are told apart by their file.
        # The worker's threads run on meanwhile: what they allocate after the final GC is in
        # flight, not retained (it outnumbered a slow leak once on a loaded machine), so only
        # generations before end_generation count.
        objects = Profile.retained_since(start_generation, end_generation)
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
