# %% [markdown]
# # A crashed `ProcessPoolExecutor` worker, named
#
# When a worker of a `ProcessPoolExecutor` dies (a segfault, the OOM killer, `os._exit`),
# every pending future fails with `BrokenProcessPool: A process in the process pool was
# terminated abruptly while the future was running or pending.` That says nothing about
# *which* worker died or how. From 3.15 the exception's `__cause__` names the worker's pid
# and its exit code. Before 3.15 there is no cause: the lab says so and is `unavailable`.

# %%
"""From 3.15, BrokenProcessPool's cause names the crashed worker: its pid and exit code.

A pool of one worker first tells us its pid, then runs a task that ends the worker with
``os._exit(3)``. The future's exception is ``BrokenProcessPool`` (the same message in every
version). From 3.15 (gh-139462) its ``__cause__`` reads ``Process <pid> terminated
abruptly with exit code 3``; before, the cause is ``None``.

The pool here always uses the **forkserver** context, whatever the run's start method. The
pool reads a dead worker's exit code once, at the moment it sees the worker's pipe close.
A forkserver worker's exit code arrives on that very pipe (the fork server writes it), so
it is always known. A fork or spawn worker's code comes from a non-blocking ``waitpid()``,
which can run before the kernel has the dead worker ready to reap: then the code is not
known yet and the cause is missing (in our runs: most spawn runs, some fork runs). A lesson that
holds every time needs forkserver. (Windows has no forkserver.)
"""
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor

import labkit as lab

EXIT_CODE = 3


def crash():
    os._exit(EXIT_CODE)


def main(ctx):
    if "forkserver" not in multiprocessing.get_all_start_methods():
        lab.say("this platform has no forkserver")
        lab.outcome("unavailable")
        return
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("forkserver")) as pool:
        pid = pool.submit(os.getpid).result(lab.BOUND)
        future = pool.submit(crash)
        exc = future.exception(lab.BOUND)
    lab.say(f"the worker (pid {pid}) ran os._exit({EXIT_CODE}); the future raised "
            f"{lab.describe_error(exc)}")
    lab.observe("exception", lab.describe_error(exc))
    cause = exc.__cause__
    text = None if cause is None else str(cause).strip().strip("'").strip()
    lab.say(f"its __cause__: {type(cause).__name__}: {text!r}")
    lab.observe("cause_type", type(cause).__name__)
    # The pid differs per run: name it for what it is, once it is checked to be the worker's.
    lab.observe("cause", "None" if text is None else text.replace(f"Process {pid} ", "Process <worker pid> "))
    if cause is None:
        lab.say("before 3.15 BrokenProcessPool has no cause that names the worker")
        lab.outcome("unavailable")


# %%
if __name__ == "__main__":
    lab.run(main)
