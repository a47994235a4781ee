"""memvisor's in-process heap agent for CPython >= 3.8, started by sitecustomize.py.

Idle until asked: one thread blocked in accept() on a Unix socket, no CPU, no tracing. A sample
window is tracemalloc over the window, a full gc.collect(), a snapshot: every traced block was
allocated in the window and is still alive. Everything else (grouping, function names from the
source files, JSON) happens after the window, in the agent's thread, in memvisor_heap_profile.py.

Protocol, version 1 (the same for agents/ruby/memvisor_heap_agent.rb; memvisor's side is
src/runtimes/agent/agent_protocol.h):
  - The agent listens on the Unix stream socket $MEMVISOR_SAMPLER_DIR/<pid>.agent, mode 0600, and
    serves only peers whose uid (SO_PEERCRED) is 0 or the process's own. Each forked child listens
    on its own <pid>.agent. The socket goes at exit; memvisor also removes it when it reaps.
  - memvisor connects and sends one line:
      {"protocol": 1, "duration_ms": N, "frames": F, "interval_bytes": B}
  - The agent answers one line at once, {"state": "recording"} (or {"state": "error", ...} and
    closes), then one line when the profile is built, and closes:
      {"state": "done", "profile": {...}}  (the form runtime_profile_from_json() reads)
      {"state": "error", "error": "..."}
  - memvisor hanging up during the window ends it: tracing stops and nothing is sent.
  - One window at a time: a request while one is open gets an error.
"""

import _socket
import _thread
import os
import sys
import time

PROTOCOL = 1
_MAX_REQUEST = 64 * 1024
_NOSIGNAL = getattr(_socket, "MSG_NOSIGNAL", 0)  # an app with SIGPIPE at its default must not die


class _State:
    directory = ""
    pid = 0
    path = ""
    listener = None
    window_open = False
    busy = None  # a lock: one window at a time
    threads = 0  # the agent's live threads, for the fork warning of Python >= 3.12


_state = _State()


def install():
    """Starts the agent when MEMVISOR_SAMPLER_DIR is set; silent on any failure."""
    directory = os.environ.get("MEMVISOR_SAMPLER_DIR")
    if not directory or _state.pid:
        return
    _state.directory = directory
    _arm()
    import atexit

    atexit.register(_remove_socket)
    if hasattr(os, "register_at_fork"):
        os.register_at_fork(before=_before_fork, after_in_child=_after_fork_child)


def _arm():
    _state.busy = _thread.allocate_lock()
    _state.window_open = False
    _state.pid = os.getpid()
    _state.path = os.path.join(_state.directory, "%d.agent" % _state.pid)
    listener = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        try:
            # Linux takes the socket's mode at bind: the file is 0600 from its first moment.
            os.fchmod(listener.fileno(), 0o600)
        except OSError:
            pass
        # Bound and listening under a temporary name, then renamed: the socket appears only
        # once it accepts (memvisor, or a test, connects as soon as it sees the file).
        temporary = _state.path + ".tmp"
        for stale in (temporary, _state.path):  # an earlier process with this pid
            try:
                os.unlink(stale)
            except FileNotFoundError:
                pass
        listener.bind(temporary)
        os.chmod(temporary, 0o600)  # where fchmod did nothing; peers are checked by uid anyway
        listener.listen(8)
        os.rename(temporary, _state.path)
    except Exception:
        listener.close()
        try:
            os.unlink(_state.path + ".tmp")
        except OSError:
            pass
        _state.path = ""
        return
    _state.listener = listener
    _state.threads += 1
    _thread.start_new_thread(_serve, (listener,))


def _remove_socket():
    if _state.path and _state.pid == os.getpid():
        try:
            os.unlink(_state.path)
        except OSError:
            pass


# Python >= 3.12 warns on fork() when the process has more than one thread (3.12 before the
# after-fork hooks, 3.13 after them). The agent's idle thread must not make a single-threaded app
# print that warning, or fail under -W error. Before each fork a filter goes first in
# warnings.filters that ignores that one warning only while the agent's threads are the only
# extra ones (its matcher counts the threads when the warning is issued); an app with threads of
# its own still gets the warning.
def _os_thread_count():
    try:
        with open("/proc/self/stat", "rb") as f:
            stat = f.read()
        return int(stat[stat.rindex(b")") + 2 :].split()[17])
    except Exception:
        return 0


class _OnlyTheAgentsThreads:
    def match(self, text):
        return (
            text.startswith("This process (pid=")
            and "is multi-threaded" in text
            and _state.threads > 0
            and _os_thread_count() - _state.threads == 1
        )


_FORK_FILTER = ("ignore", _OnlyTheAgentsThreads(), DeprecationWarning, None, 0)


def _before_fork():
    if sys.version_info < (3, 12) or _state.threads <= 0:
        return
    try:
        import warnings

        filters = warnings.filters
        if filters and filters[0] is _FORK_FILTER:
            return
        while _FORK_FILTER in filters:
            filters.remove(_FORK_FILTER)
        filters.insert(0, _FORK_FILTER)
        for name in ("_filters_mutated", "_filters_mutated_lock_held"):
            mutated = getattr(warnings, name, None)
            if mutated is not None:
                mutated()
                break
    except Exception:
        pass


def _after_fork_child():
    try:
        if _state.window_open:
            # The parent was recording: the child must not go on tracing every allocation.
            import tracemalloc

            tracemalloc.stop()
        if _state.listener is not None:
            _state.listener.close()  # the parent's socket; the parent's thread still serves it
            _state.listener = None
        _state.threads = 0
        if _state.pid:
            _arm()
    except Exception:
        pass


def _serve(listener):
    try:
        while _state.listener is listener:
            try:
                fd, _ = listener._accept()
            except InterruptedError:
                continue
            except OSError as error:
                if error.errno in (24, 23, 105, 12):  # EMFILE ENFILE ENOBUFS ENOMEM: wait, retry
                    time.sleep(1.0)
                    continue
                return  # closed under us (an app closing every fd, a fork): the agent is gone
            conn = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM, 0, fd)
            if not _peer_allowed(conn):
                conn.close()
                continue
            _state.threads += 1
            try:
                _thread.start_new_thread(_handle, (conn,))
            except Exception:
                _state.threads -= 1
                conn.close()
    except Exception:
        pass
    finally:
        _state.threads -= 1


def _peer_allowed(conn):
    try:
        cred = conn.getsockopt(_socket.SOL_SOCKET, _socket.SO_PEERCRED, 12)
        uid = int.from_bytes(cred[4:8], sys.byteorder)
        return uid == 0 or uid == os.getuid() or uid == os.geteuid()
    except Exception:
        return False


def _send(conn, obj):
    import json

    data = (json.dumps(obj, separators=(",", ":")) + "\n").encode()
    conn.settimeout(30.0)
    conn.sendall(data, _NOSIGNAL)


def _read_line(conn):
    conn.settimeout(10.0)
    data = b""
    while b"\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
        if len(data) > _MAX_REQUEST:
            raise ValueError("request line too long")
    return data.split(b"\n", 1)[0]


def _handle(conn):
    try:
        import json

        try:
            request = json.loads(_read_line(conn).decode())
            if not isinstance(request, dict):
                raise ValueError("not an object")
            duration_ms = request["duration_ms"]
            if not isinstance(duration_ms, int) or not 0 < duration_ms <= 86400000:
                raise ValueError("duration_ms must be an integer in 1..86400000")
            frames = request.get("frames", 16)
            frames = min(max(frames if isinstance(frames, int) else 16, 1), 128)
            if request.get("protocol", PROTOCOL) != PROTOCOL:
                raise ValueError("protocol %r is not %d" % (request.get("protocol"), PROTOCOL))
        except Exception as error:
            _send(conn, {"state": "error", "error": "bad request: %s" % error})
            return
        if not _state.busy.acquire(False):
            _send(conn, {"state": "error", "error": "a sample window is already open in this process"})
            return
        try:
            answer = _window(conn, duration_ms / 1000.0, frames)
        finally:
            _state.busy.release()
        if answer is not None:
            _send(conn, answer)
    except Exception as error:
        try:
            _send(conn, {"state": "error", "error": "%s: %s" % (type(error).__name__, error)})
        except Exception:
            pass
    finally:
        try:
            conn.close()
        except Exception:
            pass
        _state.threads -= 1


def _wait_window(conn, duration):
    """Sleeps until the window is over; False when memvisor hung up (the window is abandoned)."""
    deadline = time.monotonic() + duration
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return True
        conn.settimeout(left)
        try:
            if not conn.recv(1024):
                return False
        except _socket.timeout:
            return True


def _window(conn, duration, frames):
    import gc
    import tracemalloc

    if tracemalloc.is_tracing():
        return {
            "state": "error",
            "error": "tracemalloc is already tracing in this process (the app or PYTHONTRACEMALLOC "
            "started it); the agent does not take over or stop the app's tracing",
        }
    started = time.monotonic()
    _state.window_open = True
    tracemalloc.start(frames)
    try:
        _send(conn, {"state": "recording"})
        if not _wait_window(conn, duration):
            return None
        gc.collect()  # cyclic garbage is not retained: its blocks leave the traces
        snapshot = tracemalloc.take_snapshot()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        _state.window_open = False
    window_s = time.monotonic() - started
    return {"state": "done", "profile": _profile_module().build_profile(snapshot, frames, window_s, peak)}


def _profile_module():
    """memvisor_heap_profile.py beside this file, loaded at the first window (not at start-up),
    from its path: the app may have changed sys.path since."""
    module = sys.modules.get("memvisor_heap_profile")
    if module is None:
        import importlib.util

        path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "memvisor_heap_profile.py")
        spec = importlib.util.spec_from_file_location("memvisor_heap_profile", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules["memvisor_heap_profile"] = module
    return module
