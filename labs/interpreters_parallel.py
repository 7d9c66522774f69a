# %% [markdown]
# # CPU-bound Python: threads, interpreters, processes
#
# The same pure-Python function, called twice: one call after the other, in 2 threads,
# in an `InterpreterPoolExecutor` with 2 workers (3.14+: each worker is an interpreter
# with its own GIL), and in a `ProcessPoolExecutor` with 2 workers under this run's start
# method. Each call notes when it started and ended. Do the two calls run at the same
# time, and how much faster than one after the other? And what does each cost to start?
#
# The driver runs the default run, which times threads and interpreters, alone, after the
# other labs, so that nothing else of the run competes for the cores.

# %%
"""On a GIL build, CPU-bound Python runs at the same time in interpreters and processes, not in threads.

``spin`` is a pure-Python loop (about 20 ms). Each call notes its start and end
(``time.monotonic``, one clock for every thread and process). The lab runs 2 calls in a
row, then in 2 threads (``ThreadPoolExecutor``), in 2 interpreters
(``InterpreterPoolExecutor``, 3.14+, PEP 734) and in 2 processes, each 3 times,
alternating, with warm pools.

* **Overlap**: how much of the shorter call ran while the other ran too. Threads share
  one GIL; with a long switch interval (``sys.setswitchinterval``) the holder never has to
  hand it over, so one call runs whole before the other starts: overlap 0. Interpreters
  (each with its own GIL, PEP 684) and processes do not wait for each other: on 2 cores
  they run side by side, and even on a busy core the kernel interleaves them. This holds
  on any machine; the lab expects it.
* **Speed-up**: the fastest of 3 in a row divided by the fastest of 3 in the pool. Close
  to 2 for interpreters and processes on 2 idle cores, about 1 for threads. It needs free
  cores: when another container keeps the cores busy, the kernel shares the CPU between
  containers, not threads, and the speed-up of anything drops towards 1. So it is a
  figure, reported, not expected.

A default run also times what a start costs: a thread (``start()`` + ``join()`` of a
do-nothing target) and an interpreter (``create()``, ``exec('pass')``, ``close()``), 5
of each, minimum and median. Before 3.14 there is no ``InterpreterPoolExecutor``: the
default run measures the threads and is ``unavailable``. Every run times the start of its
``ProcessPoolExecutor``: creating it and one first result from each of its 2 workers (only
the default run is timed alone, in the driver's solo phase; the others share the cores).
"""
import statistics
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import labkit as lab

N = 2  # workers: the 2 cores of the lab's reference machine
STEPS = 600_000  # one call of spin(): about 20 ms of pure Python
TRIALS = 3
STARTS = 5
SAME_TIME = 0.2  # an overlap of at least this much of the shorter call: "at the same time"


def spin(steps):
    total = 0
    for i in range(steps):
        total += i
    return total


def timed_spin(steps):
    """One call, with when it began and ended (nothing in it gives up the GIL)."""
    began = time.monotonic()
    spin(steps)
    return began, time.monotonic()


_gate = None


def _set_gate(gate):
    """A process pool worker's initializer: the Barrier its calls meet at."""
    global _gate
    _gate = gate


def gated_spin(steps):
    """timed_spin in a process pool worker, once every worker holds one call: on busy cores
    one idle worker could otherwise take both calls in turn, which says nothing about
    whether processes can run at once. The wait is bounded (BrokenBarrierError)."""
    _gate.wait(lab.BOUND)
    return timed_spin(steps)


def nothing():
    pass


def overlap(spans):
    """How much of the shorter of two calls ran while the other ran too (0 to 1)."""
    (a0, a1), (b0, b1) = spans
    return max(0.0, min(a1, b1) - max(a0, b0)) / min(a1 - a0, b1 - b0)


def in_a_row():
    return [timed_spin(STEPS) for _ in range(N)]


def on_pool(pool, call=timed_spin):
    return lambda: list(pool.map(call, [STEPS] * N, timeout=lab.BOUND))


def measure(pools, call=timed_spin):
    """Per pool: its speed-up over in_a_row (fastest of TRIALS each) and the largest overlap."""
    runs = {"in a row": in_a_row, **{name: on_pool(pool, call) for name, pool in pools.items()}}
    for pool in pools.values():
        on_pool(pool, call)()  # once untimed: every worker has imported what spin() needs
    best = {name: float("inf") for name in runs}
    most = {name: 0.0 for name in runs}
    for _ in range(TRIALS):
        for name, run in runs.items():
            began = time.perf_counter()
            spans = run()
            best[name] = min(best[name], time.perf_counter() - began)
            most[name] = max(most[name], overlap(spans))
    lab.say(f"fastest of {TRIALS}: " + ", ".join(f"{name} {s * 1000:.0f} ms" for name, s in best.items()))
    for name in pools:
        speedup = best["in a row"] / best[name]
        lab.say(f"  {name}: speed-up {speedup:.2f}, the 2 calls overlapped by up to {most[name]:.0%}")
        key = name.replace(" ", "_")
        lab.observe(f"{key}_speedup", round(speedup, 2))
        lab.observe(f"{key}_overlap", round(most[name], 2))
        lab.observe(f"{key}_ran", "at the same time" if most[name] >= SAME_TIME else "one after the other")


def start_costs(name, start_once):
    times = [start_once() * 1000 for _ in range(STARTS)]
    lab.say(f"{name} start: min {min(times):.2f} ms, median {statistics.median(times):.2f} ms")
    lab.observe(f"{name}_start_ms_min", round(min(times), 3))
    lab.observe(f"{name}_start_ms_median", round(statistics.median(times), 3))


def timed(action):
    began = time.perf_counter()
    action()
    return time.perf_counter() - began


def thread_start():
    def once():
        t = threading.Thread(target=nothing)
        t.start()
        t.join(lab.BOUND)
    return timed(once)


def interpreter_start(interpreters):
    def once():
        interp = interpreters.create()
        interp.exec("pass")
        interp.close()
    return timed(once)


def warm(pool):
    """Start every worker: N tasks at once make N workers."""
    list(pool.map(spin, [1] * N, timeout=lab.BOUND))


def threads_and_interpreters():
    start_costs("thread", thread_start)
    pools = {}
    try:
        from concurrent import interpreters
        from concurrent.futures import InterpreterPoolExecutor
    except ImportError as exc:
        lab.say(lab.describe_error(exc).split(" (")[0] + ": no interpreters before 3.14")
        interpreters = None
    else:
        start_costs("interpreter", lambda: interpreter_start(interpreters))
        pools["interpreters"] = InterpreterPoolExecutor(N)
    pools["threads"] = ThreadPoolExecutor(N)
    interval = sys.getswitchinterval()
    sys.setswitchinterval(lab.BOUND)  # a thread holding the GIL keeps it until it blocks
    try:
        for pool in pools.values():
            warm(pool)
        measure(pools)
    finally:
        sys.setswitchinterval(interval)
        for pool in pools.values():
            pool.shutdown()
    if interpreters is None:
        lab.outcome("unavailable")


def main(ctx):
    if lab.method() == "default":
        threads_and_interpreters()
    context = ctx.get_context()  # the default context for a default run
    method = context.get_start_method()
    began = time.perf_counter()
    gate = context.Barrier(N)
    with ProcessPoolExecutor(N, mp_context=context, initializer=_set_gate, initargs=(gate,)) as processes:
        warm(processes)
        pool_start = time.perf_counter() - began
        measure({"processes": processes}, gated_spin)
    lab.say(f"process pool ({method}): {N} workers started in {pool_start * 1000:.0f} ms")
    lab.observe("effective_method", method)
    lab.observe("process_pool_start_ms", round(pool_start * 1000, 1))


# %%
if __name__ == "__main__":
    lab.run(main)
