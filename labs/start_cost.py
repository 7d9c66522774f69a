# %% [markdown]
# # What a process start costs, per start method
#
# From the course notebook, *multiprocessing → fork vs spawn*: `process.start()` then
# `process.join()` of a `dummy` target. Here we time exactly that, a few times, for the
# start method of this run. (The matrix report plots the medians per method and image.)

# %%
"""start() + join() of a do-nothing child costs very different amounts per start method.

* fork: copy the parent's page tables -- about a millisecond or two.
* forkserver: ask the (single-threaded) fork server to fork -- a few milliseconds from
  3.13.8 / 3.14.1. Before that the server did not preload ``__main__``, so every child
  imported the main module (and what it imports) again: 10-25 ms here. The *first* start
  also starts the server itself, which is one interpreter start.
* spawn: a brand-new interpreter imports the main module and unpickles the target --
  tens of milliseconds, and more without cached ``.pyc`` files.

The first start is timed separately (``first_start_ms``); the median and minimum are over
the following starts. Times depend on the machine and its load, so they are reported but
never expected; what is expected is that every child ran (``children_ok``), and the order.
A run with the default method also times fork against spawn, alternating, in this one
process, and compares the fastest start of each: fork must be at least 3 times cheaper
than spawn. Load on the machine only makes a start slower, so the fastest of a few is the
steadiest measure, and fork is usually 10 to 50 times cheaper, which leaves a wide margin
for a busy machine. (Windows has no fork.)
"""
import multiprocessing
import statistics
import time

import labkit as lab

TIMED_STARTS = 4  # plus the first start: 5 children in all
COMPARED_STARTS = 3  # fork and spawn each, alternating, in a default run
BAND = 3  # spawn's fastest start must cost at least this many times fork's


def nothing():
    pass


def start_and_join(ctx):
    child = ctx.Process(target=nothing)
    began = time.perf_counter()
    child.start()
    finished = lab.join(child)
    elapsed = (time.perf_counter() - began) * 1000
    return elapsed, finished and child.exitcode == 0


def main(ctx):
    method = ctx.get_start_method()
    first_ms, first_ok = start_and_join(ctx)
    runs = [start_and_join(ctx) for _ in range(TIMED_STARTS)]
    times = [ms for ms, _ in runs]
    ok = int(first_ok) + sum(1 for _, good in runs if good)
    median = statistics.median(times)
    lab.say(f"{method}: first start {first_ms:.1f} ms; then {TIMED_STARTS} starts: "
            f"median {median:.1f} ms, min {min(times):.1f} ms, max {max(times):.1f} ms")
    lab.observe("effective_method", method)
    lab.observe("first_start_ms", round(first_ms, 2))
    lab.observe("start_ms_median", round(median, 2))
    lab.observe("start_ms_min", round(min(times), 2))
    lab.observe("start_ms_max", round(max(times), 2))
    lab.observe("timed_starts", TIMED_STARTS)
    lab.observe("children_ok", ok)
    if lab.method() == "default":
        compare_fork_with_spawn()


def compare_fork_with_spawn():
    if "fork" not in multiprocessing.get_all_start_methods():
        lab.say("fork vs spawn: this platform has no fork")
        lab.observe("fork_vs_spawn", "no fork")
        return
    fork, spawn = multiprocessing.get_context("fork"), multiprocessing.get_context("spawn")
    times = {"fork": [], "spawn": []}
    for _ in range(COMPARED_STARTS):
        for name, ctx in (("fork", fork), ("spawn", spawn)):
            ms, good = start_and_join(ctx)
            if not good:
                raise RuntimeError(f"a {name} child did not run")
            times[name].append(ms)
    fastest_fork, fastest_spawn = min(times["fork"]), min(times["spawn"])
    ratio = fastest_spawn / fastest_fork
    lab.say(f"fork vs spawn, fastest of {COMPARED_STARTS} each: fork {fastest_fork:.1f} ms, "
            f"spawn {fastest_spawn:.1f} ms: spawn costs {ratio:.1f} times as much")
    lab.observe("fork_vs_spawn_ratio", round(ratio, 1))
    lab.observe("fork_vs_spawn", f"fork at least {BAND}x cheaper" if ratio >= BAND
                else "fork cheaper" if ratio > 1 else "fork not cheaper")


# %%
if __name__ == "__main__":
    lab.run(main)
