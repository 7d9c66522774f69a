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
never expected; what is expected is that every child ran (``children_ok``).
"""
import statistics
import time

import labkit as lab

TIMED_STARTS = 4  # plus the first start: 5 children in all


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


# %%
if __name__ == "__main__":
    lab.run(main)
