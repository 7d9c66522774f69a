"""A small package whose tests behave differently per start method and GIL mode (each on purpose)."""

import multiprocessing as mp
import threading

SETTINGS = {"scale": 1}


def configure(scale):
    """State set at run time: a fork child sees it, a spawn or forkserver child does not."""
    SETTINGS["scale"] = scale


def scaled(x):
    return x * SETTINGS["scale"]


def scale_all(values):
    with mp.Pool(2) as pool:
        return pool.map(scaled, values)


def run_in_child(func):
    """Run ``func`` in a child process and return its exit code."""
    p = mp.Process(target=func)
    p.start()
    p.join(30)
    return p.exitcode


class Counter:
    def __init__(self):
        self.n = 0

    def bump(self, start, times):
        start.wait()  # every thread counts at the same time
        for _ in range(times):
            self.n += 1  # not atomic: the GIL only made lost updates rare


def count_in_threads(threads, times):
    c = Counter()
    start = threading.Barrier(threads)
    workers = [threading.Thread(target=c.bump, args=(start, times)) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return c.n
