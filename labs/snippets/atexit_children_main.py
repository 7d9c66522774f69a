"""atexit handlers in the parent, its child and (sometimes) the fork server.

    ATEXIT_CHILDREN_LOG=atexit.log python atexit_children_main.py fork|spawn|forkserver|default

Three handlers, each writing "<tag> <pid>" to the log when it runs:
* module: registered at module level (runs wherever this file is imported);
* guard:  registered under the main guard (only in the parent's __main__);
* child:  registered inside the child's target function.
Prints one dict literal with the parent's and the child's pid and the child's exit code.
"""
import atexit
import multiprocessing
import os
import sys

LOG = os.environ.get("ATEXIT_CHILDREN_LOG")


def record(tag):
    if LOG:
        fd = os.open(LOG, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        os.write(fd, ("%s %d\n" % (tag, os.getpid())).encode())
        os.close(fd)


atexit.register(record, "module")


def child():
    atexit.register(record, "child")


if __name__ == "__main__":
    atexit.register(record, "guard")
    method = sys.argv[1] if len(sys.argv) > 1 else "default"
    ctx = multiprocessing if method == "default" else multiprocessing.get_context(method)
    process = ctx.Process(target=child)
    process.start()
    process.join(10)
    print(repr({"parent": os.getpid(), "child": process.pid, "exitcode": process.exitcode}))
