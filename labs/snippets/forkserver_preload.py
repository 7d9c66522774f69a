"""Preload a module that does not exist in the fork server, with ``on_error`` from argv;
start one forkserver child; print one dict literal.

    python forkserver_preload.py ignore|warn|fail

A fresh interpreter each time: the preload list must be set before the fork server starts.
The server's own stderr is this script's, so what it prints shows in the caller's stderr.
"""
import multiprocessing as mp
import sys


def noop():
    pass


if __name__ == "__main__":
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(["no_such_module_for_the_lab"], on_error=sys.argv[1])
    child = ctx.Process(target=noop)
    try:
        child.start()
        child.join(5)
        started = "exit code %s" % child.exitcode
    except Exception as exc:
        started = "%s: %s" % (type(exc).__name__, exc)
        notes = getattr(exc, "__notes__", [])
        if notes:
            started += " (note: %s)" % " ".join(notes)
    print({"start": started})
