"""Warnings as errors, then a fork child started while a thread runs: from 3.15 the
fork-with-threads DeprecationWarning is raised from os.fork() in the parent (gh-135427)."""
import multiprocessing as mp
import threading
import warnings


def child():
    pass


if __name__ == "__main__":
    warnings.simplefilter("error")
    stop = threading.Event()
    t = threading.Thread(target=stop.wait)
    t.start()
    try:
        p = mp.get_context("fork").Process(target=child)
        p.start()
        p.join()
    finally:
        stop.set()
        t.join()
