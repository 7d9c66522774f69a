# %% [markdown]
# # multiprocessing.dummy: the same Pool API, on threads
#
# From the course notebook, *multiprocessing.dummy*. `multiprocessing.dummy.Pool` returns a
# `ThreadPool`, a subclass of the process `Pool`. Both run `squares` with
# `imap_unordered`; the process pool's workers have their own pids, the thread pool's
# workers share the parent's.

# %%
"""Same API, different workers.

``multiprocessing.dummy.Pool`` is a function that returns ``multiprocessing.pool.ThreadPool``,
whose MRO is ``ThreadPool → Pool → object``. A process ``Pool`` pickles each task to worker
processes (other pids; the start method decides how they start), a ``ThreadPool`` hands it
to threads of this process (same pid, nothing pickled). ``imap_unordered`` yields results as
they finish, so their order is not guaranteed: compare them as sets.
"""
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
        lab.say(f"Complete. PID: {os.getpid()}. Result = {type(result).__name__}")
        rows = list(result)
    for pid, thread, value in rows:
        lab.say(f"  {label}: Process ID: {pid}, thread {thread}: {value}")
    return rows


def main(ctx):
    dummy_pool = mp_dummy.Pool(2)
    lab.observe("dummy_pool_type", type(dummy_pool).__name__)
    lab.observe("threadpool_mro", [c.__name__ for c in multiprocessing.pool.ThreadPool.mro()])
    lab.observe("pool_mro", [c.__name__ for c in multiprocessing.pool.Pool.mro()])

    parent = os.getpid()
    procs = run(ctx.Pool(processes=2), "Pool")
    threads = run(dummy_pool, "ThreadPool")
    expected = {x ** 2 for x in range(10)}
    lab.observe("pool_results_complete", {v for _, _, v in procs} == expected)
    lab.observe("threadpool_results_complete", {v for _, _, v in threads} == expected)
    lab.observe("pool_workers_have_other_pids", all(pid != parent for pid, _, _ in procs))
    lab.observe("threadpool_workers_share_parent_pid", all(pid == parent for pid, _, _ in threads))
    lab.observe("pool_worker_thread_is_main", all(name == "MainThread" for _, name, _ in procs))


# %%
if __name__ == "__main__":
    lab.run(main)
