# frozen_string_literal: true

# The profile of a sample window of memvisor's Ruby heap agent (memvisor_heap_agent.rb): the live
# objects the window allocated, by site, class and size, with method names and modules; loaded at
# the first window only. The JSON form is the one runtime_profile_from_json() reads.
module MemvisorHeapAgent
  # After the window: the profile, from the objects it allocated that are still alive.
  module Profile
    MAX_ENTRIES = 20_000

    class << self
      # [file, line, class_path, method_id, class name, memsize] of each live traced object
      # allocated at or after GC generation `start`.
      def retained_since(start, before)
        out = []
        ObjectSpace.each_object do |obj|
          file = ObjectSpace.allocation_sourcefile(obj)
          next if file.nil? || AGENT_FILES.include?(file)
          generation = ObjectSpace.allocation_generation(obj).to_i
          next if generation < start || generation >= before

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
        ruby[:function] =
          if method_id && class_path then method_label(class_path, method_id)
          elsif method_id then singleton_label(file, line, method_id)
          else enclosing(file, line)
          end
        [[ruby], 0]
      end

      # Ruby gives no class path for an object made in a singleton method (def self.x): the
      # source names it whole, as it does for a C method's site there ("Metrics::Collector.label").
      def singleton_label(file, line, method_id)
        around = enclosing(file, line)
        around.end_with?(".#{method_id}", "##{method_id}") ? around : method_id.to_s
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
