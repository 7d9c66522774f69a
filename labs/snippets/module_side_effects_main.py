"""A guarded script that starts 3 children. Every run of its module body leaves one line in a log.

    MODULE_SIDE_EFFECTS_LOG=body-runs.log python module_side_effects_main.py spawn

The line names the module (``__main__`` in the parent, ``__mp_main__`` when a child or the
fork server imports this file again) and the pid of the process that ran the body. The
script prints one dict literal: its own pid, the children's pids and their exit codes.
"""
import multiprocessing
import os
import sys

# The module-level side effect being counted. One os.write of one line, so lines written
# by different processes never interleave. (Deliberately no sys.argv here: see the lab.)
_log = os.environ.get("MODULE_SIDE_EFFECTS_LOG")
if _log:
    _fd = os.open(_log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    os.write(_fd, ("%s %d\n" % (__name__, os.getpid())).encode())
    os.close(_fd)


def work():
    pass


if __name__ == "__main__":
    method = sys.argv[1] if len(sys.argv) > 1 else "default"
    ctx = multiprocessing if method == "default" else multiprocessing.get_context(method)
    children = [ctx.Process(target=work) for _ in range(3)]
    for child in children:
        child.start()
    for child in children:
        child.join(10)
    print(repr({"parent": os.getpid(), "children": [c.pid for c in children],
                "exitcodes": [c.exitcode for c in children]}))
