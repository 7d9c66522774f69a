"""scripts/check's start-method hook: imported at interpreter start, never edits the script.

scripts/check mounts this folder read-only and puts it first on ``PYTHONPATH`` for the
script it checks, so ``site`` imports this module in the script's interpreter and in
every spawn child and fork server (they inherit the environment). See
https://docs.python.org/3/library/site.html (``sitecustomize``).

* ``CHECK_START_METHOD=fork|spawn|forkserver`` makes that method the *platform default*
  the way CPython's own default is held (``multiprocessing.context._default_context``),
  with the images' own hook (images/lab_mp_platform.py, in every image's site-packages),
  which does the same for macOS. ``_actual_context`` stays unset, so a script
  that pins its own method with ``set_start_method()`` or ``get_context()`` keeps it, as
  it would on a platform with that default
  (https://docs.python.org/3/library/multiprocessing.html#contexts-and-start-methods).
  multiprocessing is not imported here: a meta-path hook patches ``multiprocessing.context``
  right after it first executes, before ``multiprocessing/__init__`` copies its methods.
* ``CHECK_EVENTS=FILE`` appends one JSON line per interpreter start and per ``fork()``
  (``os.register_at_fork``): pids (to normalise output), the thread count at fork time
  and who called fork. The script never sees it: the file is outside its working folder.
* Debian's own ``sitecustomize`` (shadowed by this one on ``sys.path``) is run afterwards.

Stdlib only; Python 3.9+.
"""

import json
import os
import sys

import lab_mp_platform

_EVENTS = os.environ.get("CHECK_EVENTS")
_EVENTS_CAP = 1 << 20  # a fork bomb must not fill the scratch tmpfs with events


def _event(**item):
    if not _EVENTS:
        return
    try:
        fd = os.open(_EVENTS, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            if os.fstat(fd).st_size < _EVENTS_CAP:
                os.write(fd, (json.dumps(item) + "\n").encode())
        finally:
            os.close(fd)
    except OSError:
        pass


def _native_threads():
    # The count CPython's fork() DeprecationWarning uses: field 20 of /proc/self/stat
    # (gh-100228; Modules/posixmodule.c warn_about_fork_with_threads).
    try:
        with open("/proc/self/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[17])
    except (OSError, ValueError, IndexError):
        return 0


def _before_fork():
    frame = sys._getframe(1)  # the Python frame that called os.fork()
    _event(event="fork", pid=os.getpid(), threads=_native_threads(),
           caller=frame.f_code.co_filename if frame else "?")


def _after_fork_child():
    _event(event="child", pid=os.getpid())


def _patch(context):
    method = os.environ.get("CHECK_START_METHOD", "")
    if method in context._concrete_contexts:
        lab_mp_platform.make_default(context, method)
    else:
        _event(event="method-unavailable", method=method)


def _root_exit():
    mp = sys.modules.get("multiprocessing")
    if mp is not None:
        _event(event="exit", pid=os.getpid(), mp_method=mp.get_start_method(allow_none=True))


def _install():
    root = os.environ.pop("CHECK_ROOT", None)  # only the script's own process has it
    _event(event="start", pid=os.getpid(), root=bool(root))
    if _EVENTS and hasattr(os, "register_at_fork"):
        os.register_at_fork(before=_before_fork, after_in_child=_after_fork_child)
    if os.environ.get("CHECK_START_METHOD"):
        lab_mp_platform.when_context_loads(_patch)
    if root:
        import atexit
        atexit.register(_root_exit)


def _chain():
    """Run the next sitecustomize on sys.path (Debian ships one), which this one shadows."""
    here = os.path.dirname(os.path.abspath(__file__))
    entries = [os.path.abspath(p) for p in sys.path if p]
    after = entries[entries.index(here) + 1:] if here in entries else entries
    for entry in after:
        candidate = os.path.join(entry, "sitecustomize.py")
        if os.path.isfile(candidate):
            with open(candidate) as f:
                code = compile(f.read(), candidate, "exec")
            exec(code, {"__name__": "sitecustomize", "__file__": candidate})
            return


_install()
try:
    _chain()
except Exception:  # Debian's hook failing must not change the checked script's outcome
    pass
