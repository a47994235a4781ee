# memvisor's loader for its Python heap agent. memvisor puts this directory first on PYTHONPATH when
# a service has heap_sampler set; Python imports the first sitecustomize it finds, so this one
# starts the agent (only when MEMVISOR_SAMPLER_DIR is set) and then runs the sitecustomize it
# shadows (Debian's /etc/python3.X/sitecustomize.py, a virtualenv's, the app's own), as if this
# one were not there. It imports nothing beyond what Python has already loaded at startup.


def _memvisor_start_agent():
    import os

    if not os.environ.get("MEMVISOR_SAMPLER_DIR"):
        return
    try:
        import memvisor_heap_agent

        memvisor_heap_agent.install()
    except Exception:
        # Never into the app, never on its stderr: `memvisor sample` says the agent is absent.
        pass


def _memvisor_chain():
    # The next sitecustomize on sys.path after this directory, found and run the way site.py
    # would have; its own errors propagate to site.py, which reports them as it would without us.
    import os
    import sys

    here = os.path.realpath(__file__)
    here_dir = os.path.dirname(here)
    try:
        external = sys.modules["_frozen_importlib_external"]
        bootstrap = sys.modules["_frozen_importlib"]
        find_spec, module_from_spec = external.PathFinder.find_spec, bootstrap.module_from_spec
    except (KeyError, AttributeError):  # not CPython's usual import system: take the public one
        import importlib.machinery
        import importlib.util

        find_spec = importlib.machinery.PathFinder.find_spec
        module_from_spec = importlib.util.module_from_spec
    entries = list(sys.path)
    for i, entry in enumerate(entries):
        if os.path.realpath(entry or os.curdir) == here_dir:
            entries = entries[i + 1 :]
            break
    for entry in entries:
        if not isinstance(entry, str):
            continue
        try:
            spec = find_spec("sitecustomize", [entry])
        except Exception:
            continue
        if spec is None or spec.loader is None:
            continue
        if spec.origin and os.path.realpath(spec.origin) == here:
            continue
        module = module_from_spec(spec)
        # The app's `import sitecustomize` gets the module it would have had without memvisor.
        sys.modules["sitecustomize"] = module
        spec.loader.exec_module(module)
        return


_memvisor_start_agent()
_memvisor_chain()
