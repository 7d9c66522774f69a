"""labkit: the small, stdlib-only contract every lab follows.

A lab is a script in ``labs/`` that ends with::

    if __name__ == "__main__":
        lab.run(main)

``lab.run`` parses ``--start-method fork|spawn|forkserver|default``, hands ``main`` the
matching multiprocessing context (``default`` hands it the ``multiprocessing`` module
itself, i.e. no explicit context), and prints what the lab observes as structured lines::

    @@obs {'key': 'lock_locked_inside', 'value': True}
    @@obs {'key': 'process_starts', 'value': 0}
    @@outcome ok

Narration goes to stdout as ordinary lines. The driver reads only the ``@@`` lines. An
observation is a Python literal (``repr``), which :mod:`labkit.runner` reads back with
``ast.literal_eval``.

Every lab's process and every spawn or forkserver child of it imports this module (a child
re-imports the lab as ``__mp_main__``), so it imports only what a lab always uses:
``json`` would bring ``re`` and ``traceback`` (3.14) ``dataclasses`` and ``inspect``
through ``_colorize``, together more than half an interpreter start. The rest is imported
where it is needed.

The outcome is one of ``ok``, ``error:<Type>``, ``deadlock``, ``timeout``,
``crash:<signal>`` or ``unavailable``. A lab sets it with :func:`outcome`; an uncaught
exception makes it ``error:<Type>``; a start method this platform lacks makes it
``unavailable``. ``timeout`` and ``crash:<signal>`` are decided by whoever runs the lab
(see :mod:`labkit.runner`), because a lab that hangs or dies cannot report them.

Every run also observes ``process_starts``: how many processes the lab's process started
(see :func:`count_starts`). A lab that declares no start-method axis must start none, and
the driver checks that it did not.

Inside a Jupyter kernel ``lab.run(main)`` does something else: it runs the lab file as a
real script in a subprocess under every start method and shows what each printed. That
is the only honest way to show spawn and forkserver from a notebook, because a kernel's
``__main__`` is not an importable file: a child cannot re-import it, and functions defined
in a cell cannot be pickled by reference.
"""

import multiprocessing
import os
import sys
import threading

METHODS = ("fork", "spawn", "forkserver", "default")
OUTCOME_PREFIX = "@@outcome "
OBS_PREFIX = "@@obs "

#: Every bound below multiplied: set by the driver for a host far slower than any laptop
#: (QEMU user emulation); 1 everywhere else.
TIME_SCALE = float(os.environ.get("LABKIT_TIME_SCALE") or 1)
#: The bound on any wait that normally ends by itself (a child finishing, a thread
#: joining). Generous, because a loaded machine may start a spawn child slowly; it only
#: matters when something is really stuck.
BOUND = 5.0 * TIME_SCALE
#: How long a lab waits on something it expects to be stuck (a deadlock demo) before it
#: reports ``deadlock``. Nothing is ordered by this wait; it only proves "still blocked".
STUCK = 0.5 * TIME_SCALE
#: The bound on one whole lab run (a cell), enforced by :mod:`labkit.runner`.
CELL_TIMEOUT = 15.0 * TIME_SCALE

_state = {"outcome": None, "method": None, "counting": False}

#: The audit events (PEP 578; "Audit events table" in the sys docs, all there since 3.8)
#: of a call that starts a process. ``subprocess.Popen`` then starts its child with
#: ``os.posix_spawn`` or ``_posixsubprocess.fork_exec``, which is not counted again.
#: ``_posixsubprocess.fork_exec`` raises no event of its own: multiprocessing starts spawn
#: and forkserver children, the fork server and the resource tracker with it, so it is
#: counted by a wrapper.
START_EVENTS = frozenset(("subprocess.Popen", "os.fork", "os.forkpty", "os.posix_spawn", "os.spawn", "os.system",
                          "_winapi.CreateProcess"))
#: The calls through which a ``subprocess.Popen`` (already counted) starts its child.
POPEN_STARTS = frozenset(("os.posix_spawn", "_posixsubprocess.fork_exec"))
_starts = []
_in_popen = threading.local()


def _emit(line):
    # One write per line, so lines from several threads never interleave.
    sys.stdout.flush()
    os.write(sys.stdout.fileno(), (line + "\n").encode())


def observe(key, value):
    """Record one observation for the driver: ``value`` is a literal that
    ``ast.literal_eval`` reads back (None, bool, int, finite float, str, and lists, tuples
    and dicts of them)."""
    _emit(OBS_PREFIX + repr({"key": key, "value": value}))
    return value


def say(*args):
    """Narrate, in the notebook's style, and flush so the order is the real order."""
    print(*args, flush=True)


def outcome(value):
    """Set this run's outcome class, e.g. ``deadlock`` or ``error:RuntimeError``."""
    _state["outcome"] = value


def error_class(exc):
    """``error:<Type>`` for an exception instance or type."""
    kind = exc if isinstance(exc, type) else type(exc)
    return "error:" + kind.__name__


def method():
    """The start method requested on the command line (``default`` for none)."""
    return _state["method"]


def describe_error(exc):
    """``Type: first line of message`` (the message may start with a newline)."""
    lines = [part.strip() for part in str(exc).splitlines() if part.strip()]
    return type(exc).__name__ + (": " + lines[0] if lines else "")


def join(process, timeout=BOUND):
    """Join a process within a bound. If it is still alive, kill it and return False."""
    process.join(timeout)
    if process.is_alive():
        process.kill()
        process.join(BOUND)
        return False
    return True


def run_script(path, args=(), env=None, timeout=2 * BOUND, python_flags=()):
    """Run ``path`` as its own ``__main__`` in a fresh interpreter, stdout/stderr piped.

    Returns a dict with returncode (None if it had to be killed), stdout and stderr.
    ``PYTHONUNBUFFERED`` is removed unless ``env`` sets it, since buffering is a lesson.
    """
    import subprocess

    # Buffering is a lesson, and a notebook kernel's forced colours would garble tracebacks.
    dropped = ("PYTHONUNBUFFERED", "FORCE_COLOR", "CLICOLOR_FORCE")
    child_env = {k: v for k, v in os.environ.items() if k not in dropped}
    child_env.update(env or {})
    proc = subprocess.Popen(
        [sys.executable, *python_flags, str(path), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=child_env,
        start_new_session=True,
        text=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
        code = proc.returncode
    except subprocess.TimeoutExpired:
        kill_group(proc)
        out, err = proc.communicate()
        code = None
    return {"returncode": code, "stdout": out, "stderr": err}


def snippet_report(result):
    """The Python literal a snippet printed on its last line; its failure is the lab's error.

    Snippets report with a dict literal rather than JSON, so a fresh interpreter need not
    import json (measurable on every spawn child).
    """
    if result["returncode"] != 0:
        say(result["stderr"])
        raise RuntimeError("the snippet failed with exit code %s" % result["returncode"])
    import ast
    return ast.literal_eval(result["stdout"].splitlines()[-1])


def kill_group(proc):
    """Kill ``proc`` and every process in its group (it was started with
    ``start_new_session=True``), so no child of a lab outlives it. Windows has no
    process groups: there only ``proc`` itself is killed, if it still runs."""
    if hasattr(os, "killpg"):
        try:
            os.killpg(proc.pid, 9)  # SIGKILL, which Windows' signal module lacks
        except (ProcessLookupError, PermissionError):
            pass
    elif proc.poll() is None:
        proc.kill()


def last_error(stderr):
    """The exception type named on the last ``Type: message`` line of a traceback."""
    for line in reversed(stderr.splitlines()):
        head = line.split(":", 1)[0].strip()
        if head and " " not in head and (head.endswith("Error") or head.endswith("Exception")
                                         or head.endswith("Warning") or head == "KeyboardInterrupt"):
            return head.rsplit(".", 1)[-1]
    return None


def _in_kernel():
    # A kernel's __main__ is not a file (its argv[0] is ipykernel_launcher.py, though).
    return "ipykernel" in sys.modules and not hasattr(sys.modules["__main__"], "__file__")


SNIPPETS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "snippets")


def snippet(name=""):
    """The path of ``labs/snippets/<name>``; works from a script and from a notebook alike."""
    return os.path.join(SNIPPETS_DIR, name) if name else SNIPPETS_DIR


def count_starts():
    """From now on, count every process this process starts: ``subprocess``, ``os.fork``
    (and so the fork method), ``os.posix_spawn``, ``os.system``, ``os.spawn*`` and, on
    Windows, ``CreateProcess`` through their audit events; and ``_posixsubprocess.fork_exec``
    (the spawn and forkserver methods) through a wrapper. The count is the number of those
    starts so far: :func:`starts`. A process the lab did not start itself (a child's own
    child) exists only if the lab started one first, so a count of 0 means the lab's
    process tree is the lab alone."""
    if _state["counting"]:
        return
    _state["counting"] = True

    def started(event):
        if event in POPEN_STARTS and getattr(_in_popen, "event", False):
            _in_popen.event = False  # the child of the Popen just counted
            return
        _in_popen.event = event == "subprocess.Popen"
        _starts.append(event)

    def hook(event, args):
        if event in START_EVENTS:
            started(event)
    sys.addaudithook(hook)
    try:
        import _posixsubprocess
    except ImportError:  # Windows: CreateProcess is audited
        return
    fork_exec = _posixsubprocess.fork_exec

    def counted_fork_exec(*args, **kwargs):
        started("_posixsubprocess.fork_exec")
        return fork_exec(*args, **kwargs)
    _posixsubprocess.fork_exec = counted_fork_exec


def starts():
    """How many processes this process has started since :func:`count_starts`."""
    return len(_starts)


def _context(name):
    if name == "default":
        return multiprocessing
    return multiprocessing.get_context(name)


def _usage_error(message):
    sys.stderr.write(message + "\n")
    sys.exit(2)


def _parse_method(argv):
    value = "default"
    args = list(argv)
    while args:
        arg = args.pop(0)
        if arg.startswith("--start-method="):
            value = arg.split("=", 1)[1]
        elif arg == "--start-method":
            if not args:
                _usage_error("--start-method needs a value: one of " + ", ".join(METHODS))
            value = args.pop(0)
        elif arg in ("-h", "--help"):
            print("usage: python LAB.py [--start-method {%s}]" % "|".join(METHODS))
            sys.exit(0)
        else:
            _usage_error("unknown argument %r; usage: python LAB.py [--start-method {%s}]"
                         % (arg, "|".join(METHODS)))
    if value not in METHODS:
        _usage_error("unknown start method %r; valid: %s" % (value, ", ".join(METHODS)))
    return value


def run(main, argv=None):
    """Run a lab: resolve the start method, call ``main(ctx)``, report the outcome."""
    if argv is None and _in_kernel():
        return run_in_notebook(main)
    name = _parse_method(sys.argv[1:] if argv is None else argv)
    _state["method"] = name
    count_starts()
    observe("python", "%d.%d.%d" % sys.version_info[:3])
    observe("platform", os.environ.get("LAB_MP_PLATFORM") or sys.platform)
    observe("requested_method", name)
    try:
        ctx = _context(name)
    except ValueError as exc:  # e.g. fork on Windows: "cannot find context for 'fork'"
        say(describe_error(exc))
        observe("process_starts", starts())
        _emit(OUTCOME_PREFIX + "unavailable")
        return
    try:
        main(ctx)
    except Exception as exc:  # the lab's own error is a result, not a crash
        import traceback

        traceback.print_exc()
        observe("process_starts", starts())
        _emit(OUTCOME_PREFIX + error_class(exc))
        sys.stdout.flush()
        os._exit(1)
    observe("process_starts", starts())
    _emit(OUTCOME_PREFIX + (_state["outcome"] or "ok"))


def run_in_notebook(main, methods=METHODS):
    """From a notebook: run the lab file for real, once per start method, and show it."""
    path = _lab_path(main)
    print("Running %s as a real script, once per start method.\n"
          "(In this kernel, __main__ is not a file: spawn and forkserver children could not\n"
          "re-import it, so running main() here would not show what a script does.)\n"
          % os.path.basename(path))
    for name in methods:
        result = run_script(path, ["--start-method", name], timeout=10)
        print("=" * 20, "--start-method", name, "=" * 20)
        for line in result["stdout"].splitlines():
            if not line.startswith("@@"):
                print(line)
        if result["stderr"].strip():
            print("[stderr]\n" + result["stderr"].rstrip())
        outcome_lines = [ln for ln in result["stdout"].splitlines() if ln.startswith(OUTCOME_PREFIX)]
        code = result["returncode"]
        print("[outcome: %s, exit code %s]\n" % (
            outcome_lines[-1][len(OUTCOME_PREFIX):] if outcome_lines else "none reported",
            "killed after timeout" if code is None else code))


def _lab_path(main):
    candidates = [main.__globals__.get("__file__"), os.environ.get("JPY_SESSION_NAME")]
    for candidate in candidates:
        if candidate and candidate.endswith(".py") and os.path.exists(candidate):
            return os.path.abspath(candidate)
    raise RuntimeError("cannot tell which lab file this notebook is; run it as "
                       "`python labs/<name>.py --start-method spawn` in a terminal")


def thread_name():
    return threading.current_thread().name
