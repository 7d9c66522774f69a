"""A multiprocessing fork-context start while a second thread runs (fork_with_threads lab).

    python [-W default::DeprecationWarning] fork_with_threads_mp.py

The 3.12+ fork-with-threads DeprecationWarning is raised by os.fork() inside
multiprocessing/popen_fork.py, not in __main__, so the default filters hide it;
-W default::DeprecationWarning shows it. (spawn and forkserver never warn: see the lab.)
"""
import multiprocessing
import threading


def noop():
    pass


if __name__ == "__main__":
    stop = threading.Event()
    waiter = threading.Thread(target=stop.wait, args=(10,), name="waiter")
    waiter.start()
    child = multiprocessing.get_context("fork").Process(target=noop)
    child.start()
    child.join(10)
    stop.set()
    waiter.join(10)
    print("child exit code", child.exitcode)
