# %% [markdown]
# # CPU-bound threads: does a second thread make pure Python faster?
#
# The same pure-Python function runs N times in one thread, then once in each of N threads
# at the same time. With a GIL only one thread runs Python at a time; without it, N threads
# run on N cores.

# %%
"""With the GIL, N threads of pure-Python CPU work take as long as one thread doing it all.

Only one thread holds the GIL, and only the holder runs Python bytecode, so threads share
one core's worth of Python however many cores there are: the speed-up of N threads over
one is about 1 (slightly less: they hand the GIL over every ``sys.getswitchinterval()``).
A free-threaded build (PEP 703) runs them truly in parallel: about N on N idle cores.
``PYTHON_GIL=1`` brings the GIL back, and the speed-up with it.

N = min(4, usable cores). Each round times 1 thread and then N threads, back to back; the
speed-up is the median over rounds of each round's ratio, shown as a figure. What is
expected is how many threads ran Python at once: the process's CPU time over the wall
time of the N threads (best round). A thread waiting for the GIL uses no CPU, so with a
GIL it is at most about 1 (*serialised* at 1.2 or less); without it about N (*parallel* at
0.75 N or more); *unclear* in between (never expected: the cores were too busy to tell).
The speed-up itself is not expected: on a 2-vCPU virtual machine two threads running at
once need not finish twice as fast. Measured alone here with N = 2: GIL off, 1.98 threads
at once for a speed-up of 1.27; GIL on, 1.00 at once for a speed-up of up to 1.32.
With one core there is
nothing to compare: the lab is ``unavailable``. No process is started, so only a
``--start-method default`` run measures (the driver runs it alone, in its solo phase).
"""
import os
import statistics
import sys
import threading
import time

import labkit as lab

STEPS = 400_000  # one unit of work: about 30-60 ms of pure Python, far above a thread's start
ROUNDS = 3


def work(steps=STEPS):
    total = 0
    for i in range(steps):
        total += i * i % 7
    return total


def serial(n):
    began = time.perf_counter()
    for _ in range(n):
        work()
    return time.perf_counter() - began


def parallel(n):
    """Wall seconds of n threads doing one unit each, and the CPU seconds they used."""
    start = threading.Barrier(n + 1)
    threads = [threading.Thread(target=lambda: (start.wait(lab.BOUND), work()), name=f"cpu-{i}") for i in range(n)]
    for t in threads:
        t.start()
    start.wait(lab.BOUND)  # all threads are ready: time from here
    began, cpu = time.perf_counter(), time.process_time()
    for t in threads:
        t.join(lab.BOUND)
    if any(t.is_alive() for t in threads):
        raise RuntimeError(f"a worker thread did not finish within {lab.BOUND} s")
    return time.perf_counter() - began, time.process_time() - cpu


def cores():
    if hasattr(os, "process_cpu_count"):  # 3.13+: honours the affinity mask
        return os.process_cpu_count() or 1
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def band(at_once, n):
    """How many threads ran Python at once (CPU time over wall time, best round)."""
    if at_once >= 0.75 * n:
        return "parallel"
    if at_once <= 1.2:
        return "serialised"
    return "unclear"


def main(ctx):
    usable = cores()
    n = min(4, usable)
    lab.observe("cores", usable)
    if n < 2:
        lab.say(f"{usable} usable core: nothing to run in parallel")
        lab.outcome("unavailable")
        return
    if lab.method() != "default":
        lab.say("threads only: measured once per interpreter, under --start-method default")
        return
    gil = getattr(sys, "_is_gil_enabled", lambda: True)()
    work(STEPS // 10)  # warm up
    one, many = [], []
    for _ in range(ROUNDS):
        one.append(serial(n))
        many.append(parallel(n))
    speedup = statistics.median(t1 / wall for t1, (wall, _) in zip(one, many))
    at_once = max(cpu / wall for wall, cpu in many)
    lab.say(f"GIL {'on' if gil else 'off'}: {n} units of work in 1 thread {min(one) * 1000:.0f} ms, "
            f"in {n} threads {min(wall for wall, _ in many) * 1000:.0f} ms (fastest); speed-up {speedup:.2f} "
            f"(median of {ROUNDS} rounds, N = {n}); "
            f"threads running at once: {at_once:.2f}")
    lab.observe("threads", n)
    lab.observe("speedup", round(speedup, 2))
    lab.observe("threads_at_once", round(at_once, 2))
    lab.observe("threads_band", band(at_once, n))


# %%
if __name__ == "__main__":
    lab.run(main)
