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
whose MRO is ``ThreadPool → Pool → object`` (3.8 to 3.15, multiprocessing docs, "multiprocessing.dummy" and "Process Pools"). A process ``Pool``
pickles each task to worker processes (other pids, each running the task in its
``MainThread``; the start method decides how they start). A ``ThreadPool`` hands it to
threads of this process (the same pid, nothing pickled). ``imap_unordered`` yields results
as they finish, so their order is not guaranteed: compare them as a set.

Like the notebook's ``process_info``, each task also reports its process's ``__name__`` and
parent pid. A process worker started by *fork* is a copy of this script's process, so its
``__name__`` is still ``"__main__"``. Under *spawn* and *forkserver* the worker imported
the script afresh under the name ``"__mp_main__"`` (so that its ``if __name__ ==
"__main__":`` block does not run again). The parent of a spawn or fork worker is this
script; a *forkserver* worker is forked by the fork server, so its parent is the server.
A thread pool's workers are this process: ``"__main__"``, and this script's own parent.

``help(multiprocessing.dummy.Pool)`` shows the function's signature,
``Pool(processes=None, initializer=None, initargs=())``: the process ``Pool`` minus
``maxtasksperchild``.

From 3.10 a thread without a name is called after its target, so the thread pool's workers
are ``Thread-N (worker)``; up to 3.9 they are plain ``Thread-N``.
"""
import inspect
import multiprocessing.dummy as mp_dummy
import multiprocessing.pool
import os
import pydoc
import sys
import threading

import labkit as lab


def squares(x):
    return os.getpid(), os.getppid(), __name__, threading.current_thread().name, x ** 2


def run(pool, label):
    with pool:
        result = pool.imap_unordered(squares, range(10))  # doesn't guarantee order
        lab.say(f"{label}: Complete. PID: {os.getpid()}. Result = {type(result).__name__}")
        rows = list(result)
    for pid, ppid, name, thread, value in rows:
        lab.say(f"  {label}: Process ID: {pid}. Parent Process: {ppid}. {name = }. {thread}: {value}")
    return rows


def parent_of(ppid):
    """Who a worker's parent pid is: this script, the fork server, or someone else."""
    if ppid == os.getpid():
        return "this script"
    # The fork server's pid, if this process started one (a private attribute, 3.8-3.15).
    # Not imported here: Windows has no fork server, and importing it is not the lesson.
    forkserver = sys.modules.get("multiprocessing.forkserver")
    server = getattr(getattr(forkserver, "_forkserver", None), "_forkserver_pid", None)
    if ppid == server:
        return "the fork server"
    return "another process"


def main(ctx):
    lab.say(f"{inspect.isfunction(mp_dummy.Pool) = }, {mp_dummy.Pool.__module__ = }")
    lab.observe("dummy_pool_is_function", inspect.isfunction(mp_dummy.Pool))
    lab.observe("threadpool_mro", [c.__name__ for c in multiprocessing.pool.ThreadPool.mro()])
    lab.observe("pool_mro", [c.__name__ for c in multiprocessing.pool.Pool.mro()])
    shown = [line for line in pydoc.render_doc(mp_dummy.Pool, "Help on %s:", renderer=pydoc.plaintext)
             .splitlines() if line.strip()]
    lab.say("help(mp_dummy.Pool):\n" + "\n".join(shown))
    lab.observe("dummy_pool_help", shown)
    lab.observe("process_pool_signature", str(inspect.signature(ctx.Pool)))

    parent = os.getpid()
    squares_set = {x ** 2 for x in range(10)}

    pool = ctx.Pool(processes=2)
    lab.observe("process_pool_type", type(pool).__name__)
    procs = run(pool, "Pool")
    lab.observe("pool_results_are_squares", {row[-1] for row in procs} == squares_set)
    lab.observe("pool_workers_have_other_pids", all(row[0] != parent for row in procs))
    lab.observe("pool_worker_thread_is_main", all(row[3] == "MainThread" for row in procs))
    lab.observe("pool_worker_module_names", sorted({row[2] for row in procs}))
    lab.observe("pool_worker_parents", sorted({parent_of(row[1]) for row in procs}))

    pool = mp_dummy.Pool(2)
    lab.observe("dummy_pool_type", type(pool).__name__)
    threads = run(pool, "ThreadPool")
    lab.observe("threadpool_results_are_squares", {row[-1] for row in threads} == squares_set)
    lab.observe("threadpool_workers_share_parent_pid", all(row[0] == parent for row in threads))
    lab.observe("threadpool_worker_module_names", sorted({row[2] for row in threads}))
    lab.observe("threadpool_worker_names_end_with_target",
                all(row[3].endswith(" (worker)") for row in threads))


# %%
if __name__ == "__main__":
    lab.run(main)
