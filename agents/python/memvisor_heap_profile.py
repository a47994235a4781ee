"""The profile of a sample window of memvisor's Python heap agent (memvisor_heap_agent.py), built
after the window from tracemalloc's snapshot: blocks grouped by traceback, function names from the
source files (ast), modules, and the frame charged (the innermost outside the standard library).
Loaded at the first window only. The JSON form is the one runtime_profile_from_json() reads."""

import os
import sys

_MAX_FULL_STACKS = 2000  # the rest are merged by their charged frame (only top_stacks lose detail)
_MAX_SITES = 20000
_HERE = os.path.dirname(os.path.realpath(__file__))
_AGENT_FILES = {
    os.path.join(_HERE, "memvisor_heap_agent.py"),
    os.path.join(_HERE, "memvisor_heap_profile.py"),
}


def _raw_traces(snapshot):
    """(size, frames innermost first as (filename, lineno)) for every traced block."""
    raw = getattr(snapshot.traces, "_traces", None)
    if isinstance(raw, list) and (not raw or isinstance(raw[0][2], tuple)):
        return ((t[1], t[2]) for t in raw)  # CPython 3.8-3.13: tracemalloc's own tuples
    return (
        (t.size, tuple((f.filename, f.lineno) for f in reversed(list(t.traceback))))
        for t in snapshot.traces
    )


class SourceIndex:
    """Function names, modules and the runtime's own frames, from the files; each file once."""

    def __init__(self):
        import sysconfig

        paths = sysconfig.get_paths()
        self._stdlib = self._dirs(paths.get("stdlib"), paths.get("platstdlib"))
        self._packages = self._dirs(paths.get("purelib"), paths.get("platlib"))
        roots = {os.path.abspath(p or os.curdir) for p in sys.path if isinstance(p, str)}
        self._roots = sorted((r.rstrip(os.sep) + os.sep for r in roots), key=len, reverse=True)
        self._functions = {}
        self._modules = {}
        self._plumbing = {}
        self._own = {}

    @staticmethod
    def _dirs(*dirs):
        return tuple(os.path.abspath(d).rstrip(os.sep) + os.sep for d in dirs if d)

    def own(self, filename):
        known = self._own.get(filename)
        if known is None:
            known = self._own[filename] = os.path.realpath(filename) in _AGENT_FILES
        return known

    def plumbing(self, filename):
        """The standard library and the agent itself: their frames charge the caller."""
        known = self._plumbing.get(filename)
        if known is None:
            path = os.path.abspath(filename)
            known = (
                filename.startswith("<frozen ")
                or self.own(filename)
                or (path.startswith(self._stdlib) and not path.startswith(self._packages))
            )
            self._plumbing[filename] = known
        return known

    def module(self, filename):
        """The top-level package or module: site-packages/<pkg>, json, the script's name."""
        known = self._modules.get(filename)
        if known is None:
            path = os.path.abspath(filename)
            rest = os.path.basename(path)
            for root in self._roots:
                if path.startswith(root):
                    rest = path[len(root) :].split(os.sep, 1)[0]
                    break
            known = rest.split(".", 1)[0] if not filename.startswith("<") else filename
            self._modules[filename] = known
        return known

    def function(self, filename, line):
        names = self._functions.get(filename)
        if names is None:
            names = self._functions[filename] = function_lines(filename)
        if not names:
            return "?"
        return names[line] if 0 <= line < len(names) else "<module>"


def function_lines(filename):
    """For each line of a source file, the qualified name of the innermost def or class around it
    ("Class.method", "outer.<locals>.inner", "<module>"); [] when the source cannot be read."""
    import ast

    try:
        with open(filename, "rb") as f:
            source = f.read()
        tree = ast.parse(source, filename)
    except Exception:
        return []
    names = ["<module>"] * (source.count(b"\n") + 2)

    def visit(node, prefix):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                qualname = prefix + child.name
                end = getattr(child, "end_lineno", None) or child.lineno
                for line in range(child.lineno, min(end, len(names) - 1) + 1):
                    names[line] = qualname
                is_class = isinstance(child, ast.ClassDef)
                visit(child, qualname + ("." if is_class else ".<locals>."))
            else:
                visit(child, prefix)

    visit(tree, "")
    return names


def build_profile(snapshot, frames, window_s, peak, index=None):
    index = index or SourceIndex()
    groups = {}
    for size, stack in _raw_traces(snapshot):
        group = groups.get(stack)
        if group is None:
            groups[stack] = [size, 1]
        else:
            group[0] += size
            group[1] += 1
    frame_cache = {}

    def frame(filename, line):
        key = (filename, line)
        out = frame_cache.get(key)
        if out is None:
            out = frame_cache[key] = {
                "function": index.function(filename, line),
                "file": filename,
                "line": line,
                "module": index.module(filename),
            }
        return out

    entries, merged = [], {}
    total_bytes = total_count = 0
    ranked = sorted(groups.items(), key=lambda item: item[1][0], reverse=True)
    for stack, (size, count) in ranked:
        if any(index.own(f) for f, _ in stack):
            continue  # the agent's own allocations
        total_bytes += size
        total_count += count
        site = next((i for i, (f, _) in enumerate(stack) if not index.plumbing(f)), 0)
        if len(entries) < _MAX_FULL_STACKS:
            entries.append(_entry([frame(f, l) for f, l in stack], site, size, count))
            continue
        key = stack[site] if stack else ("?", 0)
        group = merged.get(key)
        if group is None:
            group = merged[key] = [0, 0]
        group[0] += size
        group[1] += count
    merged_sites = sorted(merged.items(), key=lambda item: item[1][0], reverse=True)
    for (filename, line), (size, count) in merged_sites[:_MAX_SITES]:
        entries.append(_entry([frame(filename, line)], 0, size, count))
    caveats = [
        "every allocation in the window was traced (no sampling): the figures are exact for "
        "memory allocated through Python's allocators",
        "retained = allocated during the window and still alive after a full gc.collect() at its "
        "end; tracemalloc keeps no record of freed blocks, so what was allocated in total is not "
        "known (the window's live traced memory peaked at %.1f MiB)" % (peak / 1048576.0),
        "stacks hold at most %d frames; the charged frame is the innermost outside the standard "
        "library" % frames,
        "function names come from the source files as they are now on disk (ast), by line",
        "tracemalloc gives no object types: by_type is empty",
    ]
    if len(ranked) > _MAX_FULL_STACKS:
        caveats.append(
            "%d distinct stacks: the %d largest are kept whole, the rest merged by their "
            "charged frame" % (len(ranked), _MAX_FULL_STACKS)
        )
    return {
        "runtime": "python",
        "method": "tracemalloc over the window (%d frames), then gc.collect() and a snapshot: "
        "blocks allocated in the window and still alive" % frames,
        "covers": "memory allocated through Python's allocators (objects, their buffers, "
        "extensions using PyMem or PyTraceMalloc_Track); not plain malloc in C extensions, not "
        "memory allocated before the window",
        "window_s": round(window_s, 3),
        "complete": True,
        "interval_bytes": 0,
        "allocated_known": False,
        "retained_known": True,
        "entries": entries,
        "types": [],
        "caveats": caveats,
        "python": "%d.%d.%d" % sys.version_info[:3],
        "retained_bytes": total_bytes,
        "retained_count": total_count,
    }


def _entry(frames, site, size, count):
    return {
        "frames": frames,
        "site": site,
        "type": "",
        "allocated_bytes": 0,
        "allocated_count": 0,
        "retained_bytes": size,
        "retained_count": count,
        "samples": count,
    }
