# %% [markdown]
# # multiprocessing.dummy: the same Pool API, on threads
#
# From the course notebook, *multiprocessing.dummy*. `multiprocessing.dummy.Pool` is a
# function that returns a `ThreadPool`, a subclass of the process `Pool`. Both run
# `squares` with `imap_unordered`; the process pool's workers have their own pids, the
# thread pool's workers share the parent's.

# %%
"""Same API, different workers.

``multiprocessing.dummy.Pool`` is a *function* that returns ``multiprocessing.pool.ThreadPool``,
whose MRO is ``ThreadPool → Pool → object`` (3.8 to 3.15, facts §10). A process ``Pool``
pickles each task to worker processes (other pids, each running the task in its
``MainThread``; the start method decides how they start). A ``ThreadPool`` hands it to
threads of this process (the same pid, nothing pickled). ``imap_unordered`` yields results
as they finish, so their order is not guaranteed: compare them as a set.

From 3.10 a thread without a name is called after its target, so the thread pool's workers
are ``Thread-N (worker)``; up to 3.9 they are plain ``Thread-N``.
"""
import inspect
import multiprocessing.dummy as mp_dummy
import multiprocessing.pool
import os
import threading

import labkit as lab


def squares(x):
    return os.getpid(), threading.current_thread().name, x ** 2


def run(pool, label):
    with pool:
        result = pool.imap_unordered(squares, range(10))  # doesn't guarantee order
        lab.say(f"{label}: Complete. PID: {os.getpid()}. Result = {type(result).__name__}")
        rows = list(result)
    for pid, thread, value in rows:
        lab.say(f"  {label}: Process ID: {pid}, {thread}: {value}")
    return rows


def main(ctx):
    lab.say(f"{inspect.isfunction(mp_dummy.Pool) = }, {mp_dummy.Pool.__module__ = }")
    lab.observe("dummy_pool_is_function", inspect.isfunction(mp_dummy.Pool))
    lab.observe("threadpool_mro", [c.__name__ for c in multiprocessing.pool.ThreadPool.mro()])
    lab.observe("pool_mro", [c.__name__ for c in multiprocessing.pool.Pool.mro()])

    parent = os.getpid()
    squares_set = {x ** 2 for x in range(10)}

    pool = ctx.Pool(processes=2)
    lab.observe("process_pool_type", type(pool).__name__)
    procs = run(pool, "Pool")
    lab.observe("pool_results_are_squares", {v for _, _, v in procs} == squares_set)
    lab.observe("pool_workers_have_other_pids", all(pid != parent for pid, _, _ in procs))
    lab.observe("pool_worker_thread_is_main", all(name == "MainThread" for _, name, _ in procs))

    pool = mp_dummy.Pool(2)
    lab.observe("dummy_pool_type", type(pool).__name__)
    threads = run(pool, "ThreadPool")
    lab.observe("threadpool_results_are_squares", {v for _, _, v in threads} == squares_set)
    lab.observe("threadpool_workers_share_parent_pid", all(pid == parent for pid, _, _ in threads))
    lab.observe("threadpool_worker_names_end_with_target",
                all(name.endswith(" (worker)") for _, name, _ in threads))


# %%
if __name__ == "__main__":
    lab.run(main)
