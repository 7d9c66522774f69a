"""multiprocessing start while a second thread runs (fork_with_threads lab).

    python [-W default::DeprecationWarning] fork_with_threads_mp.py fork|spawn|forkserver|default

Under fork the warning is raised by os.fork() inside multiprocessing/popen_fork.py, not in
__main__, so the default filters hide it; -W default::DeprecationWarning shows it.
"""
import multiprocessing
import sys
import threading


def noop():
    pass


if __name__ == "__main__":
    method = sys.argv[1] if len(sys.argv) > 1 else "default"
    ctx = multiprocessing if method == "default" else multiprocessing.get_context(method)
    stop = threading.Event()
    waiter = threading.Thread(target=stop.wait, args=(10,), name="waiter")
    waiter.start()
    child = ctx.Process(target=noop)
    child.start()
    child.join(10)
    stop.set()
    waiter.join(10)
    print("child exit code", child.exitcode)
