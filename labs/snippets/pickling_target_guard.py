"""A target function defined *under* the main guard.

    python pickling_target_guard.py fork|spawn|forkserver|default

The parent can pickle ``in_guard`` by reference (``__main__.in_guard`` exists in the
parent), so ``start()`` succeeds. A spawn or forkserver child imports this file again as
``__mp_main__``, where the guarded block never runs, so the name does not exist there.
Prints one dict literal with the child's exit code; the child's traceback goes to stderr.
"""
import multiprocessing
import sys

if __name__ == "__main__":
    def in_guard():
        pass

    method = sys.argv[1] if len(sys.argv) > 1 else "default"
    ctx = multiprocessing if method == "default" else multiprocessing.get_context(method)
    child = ctx.Process(target=in_guard)
    child.start()
    child.join(10)
    print(repr({"exitcode": child.exitcode}))
