# frozen_string_literal: true

# memvisor's in-process heap agent for CRuby (>= 2.7; fork hook by Process._fork from 3.1), loaded
# by RUBYOPT=-r.../memvisor_heap_agent.rb when a service has heap_sampler set. Inert unless
# MEMVISOR_SAMPLER_DIR is set.
#
# Idle until asked: one thread blocked in accept on a Unix socket (no CPU; Ruby exits when its main
# thread ends, whatever this thread does). A sample window is ObjectSpace allocation tracing over
# the window, a full GC at its end, then a walk of the heap for the objects allocated in the window
# that are still alive, by allocation site. The GC is never disabled.
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
  THIS_FILE = File.expand_path(__FILE__)

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
            return super unless block
            super(*args) do
              MemvisorHeapAgent.after_fork_child
              block.call
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

  # After the window: the profile, from the objects it allocated that are still alive.
  module Profile
    MAX_ENTRIES = 20_000

    class << self
      # [file, line, class_path, method_id, class name, memsize] of each live traced object
      # allocated at or after GC generation `start`.
      def retained_since(start)
        out = []
        ObjectSpace.each_object do |obj|
          file = ObjectSpace.allocation_sourcefile(obj)
          next if file.nil? || file == THIS_FILE
          next if ObjectSpace.allocation_generation(obj).to_i < start

          out << [file, ObjectSpace.allocation_sourceline(obj).to_i,
                  ObjectSpace.allocation_class_path(obj), ObjectSpace.allocation_method_id(obj),
                  class_name(obj), ObjectSpace.memsize_of(obj)]
        end
        out
      end

      # The object's class without calling a method of the object (BasicObject has no #class, and
      # an app may redefine it).
      def class_name(obj)
        klass = ObjectSpace.internal_class_of(obj)
        klass = klass.superclass while klass&.singleton_class?
        klass ? module_name(klass) : '?'
      rescue StandardError
        '?'
      end

      def module_name(mod)
        Module.instance_method(:name).bind_call(mod) || '(anonymous class)'
      end

      def build(objects, window_s, allocated)
        groups = Hash.new { |h, k| h[k] = [0, 0] }
        objects.each do |file, line, class_path, method_id, type, size|
          group = groups[[file, line, class_path, method_id, type]]
          group[0] += size
          group[1] += 1
        end
        sources = Sources.new
        ranked = groups.sort_by { |_, (size, _)| -size }
        entries = ranked.first(MAX_ENTRIES).map do |(file, line, class_path, method_id, type), (size, count)|
          frames, site = sources.frames(file, line, class_path, method_id)
          { frames: frames, site: site, type: type, allocated_bytes: 0, allocated_count: 0,
            retained_bytes: size, retained_count: count, samples: count }
        end
        caveats = [
          'every object allocated in the window was traced (no sampling); bytes are ' \
          'ObjectSpace.memsize_of (the slot and what the object itself allocated)',
          'retained = allocated during the window and still alive after a full GC at its end; ' \
          "freed objects leave no record, so what was allocated in total is not told by site (#{allocated} " \
          'objects were allocated in the window, by GC.stat)',
          'one frame per object: the allocation site. A C method (Hash#merge, String#*, Class#new) ' \
          'is charged to the Ruby line that called it; an allocation inside a Ruby-level library ' \
          'method (set.rb, a gem) is charged to that method, not to its caller',
          'names of the enclosing method for C-method sites come from the source file as it is now ' \
          'on disk (RubyVM::AbstractSyntaxTree)'
        ]
        if ranked.size > MAX_ENTRIES
          caveats << "#{ranked.size} distinct sites: the #{MAX_ENTRIES} largest are kept"
        end
        { runtime: 'ruby',
          method: 'ObjectSpace.trace_object_allocations over the window, a full GC.start, then ' \
                  'ObjectSpace.each_object: objects allocated in the window and still alive',
          covers: 'Ruby objects and the memory they allocate themselves (memsize_of); not memory ' \
                  'of C extensions outside Ruby objects, not objects allocated before the window',
          window_s: window_s.round(3), complete: true, interval_bytes: 0,
          allocated_known: false, retained_known: true, entries: entries, types: [],
          caveats: caveats, ruby: RUBY_VERSION }
      end
    end

    # Frames for a site: the Ruby method that allocated, or for a C method (which Ruby reports at
    # its Ruby caller's file:line) the C method and then the enclosing Ruby method, charged.
    class Sources
      def initialize
        @c_method = {}
        @methods = {}
        @modules = {}
        @roots = ($LOAD_PATH.map(&:to_s) + [Dir.pwd, File.dirname(File.expand_path($PROGRAM_NAME))])
                 .map { |p| File.expand_path(p) + File::SEPARATOR }.uniq.sort_by { |p| -p.size }
      end

      def frames(file, line, class_path, method_id)
        ruby = { function: nil, file: file, line: line, module: module_of(file) }
        if method_id && class_path && c_method?(class_path, method_id)
          ruby[:function] = enclosing(file, line)
          c = { function: method_label(class_path, method_id), file: '', line: 0, module: 'ruby' }
          return [[c, ruby], 1]
        end
        ruby[:function] = method_id ? method_label(class_path, method_id) : enclosing(file, line)
        [[ruby], 0]
      end

      # "Order#archive", "Order.build" (a singleton method), "Object#archive_order" (top level).
      def method_label(class_path, method_id)
        return method_id.to_s unless class_path

        if (owner = class_path[/\A#<Class:([^>]+)>\z/, 1])
          "#{owner}.#{method_id}"
        else
          "#{class_path}##{method_id}"
        end
      end

      def c_method?(class_path, method_id)
        key = [class_path, method_id]
        return @c_method[key] if @c_method.key?(key)

        @c_method[key] = begin
          owner = class_path[/\A#<Class:([^>]+)>\z/, 1]
          mod = Object.const_get(owner || class_path)
          mod = mod.singleton_class if owner
          mod.instance_method(method_id).source_location.nil?
        rescue StandardError, NameError
          false
        end
      end

      # The gem's name for gems/<name>-<version>/..., else the first path component under the
      # load path, the working directory or the script's directory ("app", "set", "leaky_app").
      def module_of(file)
        @modules[file] ||= begin
          if (gem = file[%r{/gems/([^/]+?)-\d[^/]*/}, 1])
            gem
          else
            path = File.expand_path(file)
            root = @roots.find { |r| path.start_with?(r) }
            rest = root ? path[root.size..].split(File::SEPARATOR, 2).first : File.basename(path)
            rest.sub(/\.(rb|so)\z/, '')
          end
        end
      end

      def enclosing(file, line)
        names = (@methods[file] ||= method_lines(file))
        names[line] || '<main>'
      end

      # For each line of a file, the innermost def around it ("Order#archive", "Order.build") or
      # class body ("<class:Order>"); {} when the file cannot be parsed.
      def method_lines(file)
        names = {}
        return names unless defined?(RubyVM::AbstractSyntaxTree)

        visit(RubyVM::AbstractSyntaxTree.parse_file(file), [], names, false)
        names
      rescue StandardError, SyntaxError
        {}
      end

      def visit(node, scope, names, singleton)
        return unless node.is_a?(RubyVM::AbstractSyntaxTree::Node)

        case node.type
        when :CLASS, :MODULE
          inner = scope + [const_name(node.children[0])]
          label(names, node, "<#{node.type == :CLASS ? 'class' : 'module'}:#{inner.last}>")
          node.children.drop(1).each { |c| visit(c, inner, names, false) }
          return
        when :SCLASS
          node.children.drop(1).each { |c| visit(c, scope, names, true) }
          return
        when :DEFN
          owner = scope.empty? ? 'Object' : scope.join('::')
          label(names, node, singleton ? "#{owner}.#{node.children[0]}" : "#{owner}##{node.children[0]}")
        when :DEFS
          owner = scope.empty? ? 'main' : scope.join('::')
          label(names, node, "#{owner}.#{node.children[1]}")
        end
        node.children.each { |c| visit(c, scope, names, singleton) }
      end

      def label(names, node, name)
        (node.first_lineno..node.last_lineno).each { |l| names[l] = name }
      end

      def const_name(node)
        return '?' unless node.is_a?(RubyVM::AbstractSyntaxTree::Node)

        node.children.reverse.find { |c| c.is_a?(Symbol) }.to_s
      end
    end
  end
end

MemvisorHeapAgent.install
