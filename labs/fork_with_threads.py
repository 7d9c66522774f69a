# %% [markdown]
# # Fork while another thread holds a lock
#
# From the course notebook, *Locks → Lock()*, cell 2: a second thread holds `sl.lock` while
# the main thread looks at it. Now the main thread starts a *process* at that moment. Under
# fork the child gets a copy of the lock -- in the state "held" -- but not the thread that
# would release it.

# %%
"""fork copies memory, not threads: a lock held by another thread stays held in the child.

A background thread takes the module-level ``LOCK`` and waits; while it holds it, the main
thread starts a child that tries ``LOCK.acquire(timeout=lab.STUCK)``:

* fork: the child's copy of ``LOCK`` is locked and no thread in the child will ever release
  it. With a timeout ``acquire`` returns False; without one the child would hang forever
  (and so would the parent's ``join()``). The lab reports ``deadlock``.
* spawn and forkserver: the child imports the module again and gets a fresh, unlocked
  ``LOCK``: ``acquire`` returns True at once.

CPython re-initialises its *own* locks after fork; yours it cannot know about. That is why
3.12+ warns: ``DeprecationWarning: This process (pid=…) is multi-threaded, use of fork()
may lead to deadlocks in the child.`` Here ``start()`` is watched with
``warnings.catch_warnings``: only fork warns; spawn does not fork at all, and the fork
server that forks forkserver children is single-threaded.

Would you have *seen* it? The warning is attributed to the code that called ``os.fork()``.
Called from ``__main__`` it is shown by default; through multiprocessing the caller is
``multiprocessing/popen_fork.py``, so the default filters hide it unless you run with
``-W default::DeprecationWarning`` (or ``-X dev``). Two snippets show that, each with a
second thread running: ``os.fork()`` in ``__main__``, and a multiprocessing fork start.
"""
import os
import re
import threading
import warnings

import labkit as lab

SNIPPETS = lab.snippet()
WARNING = "is multi-threaded, use of fork() may lead to deadlocks in the child"

LOCK = threading.Lock()


def hold_lock(held, done):
    with LOCK:
        held.set()
        done.wait(lab.BOUND)  # holds LOCK until the main thread is done with the child


def try_lock(conn):
    """Runs in the child."""
    conn.send(LOCK.acquire(timeout=lab.STUCK))
    conn.close()


def warning_seen(flags, script, *args):
    result = lab.run_script(os.path.join(SNIPPETS, script), list(args), python_flags=flags)
    lines = [ln for ln in result["stderr"].splitlines() if WARNING in ln]
    text = re.sub(r"pid=\d+", "pid=N", lines[0].split("DeprecationWarning: ", 1)[-1]) if lines else ""
    return bool(lines), text


def main(ctx):
    held, done = threading.Event(), threading.Event()
    holder = threading.Thread(target=hold_lock, args=(held, done), name="holder")
    holder.start()
    held.wait(lab.BOUND)
    lab.say(f"{lab.thread_name()}: thread 'holder' holds LOCK: {LOCK.locked() = }")

    receiver, sender = ctx.Pipe(duplex=False)
    child = ctx.Process(target=try_lock, args=(sender,))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DeprecationWarning)
        child.start()
    sender.close()
    start_warned = any(WARNING in str(w.message) for w in caught)
    acquired = receiver.recv() if receiver.poll(lab.BOUND) else None
    done.set()
    holder.join(lab.BOUND)
    lab.join(child)
    lab.say(f"child ({lab.method()}): LOCK.acquire(timeout={lab.STUCK}) -> {acquired}")
    lab.say(f"start() raised the fork-with-threads DeprecationWarning: {start_warned}")
    lab.observe("start_warned", start_warned)
    lab.observe("child_acquired", acquired)
    lab.observe("child_exitcode", child.exitcode)
    if acquired is False:
        lab.say("The child's copy of LOCK is held by a thread that does not exist in the child.")
        lab.outcome("deadlock")

    if not hasattr(os, "fork"):
        lab.say("This platform has no os.fork(): nothing to warn about.")
        lab.observe("os_fork_warns_by_default", False)
        lab.observe("warning_text", "")
        lab.observe("mp_fork_warns_by_default", False)
        lab.observe("mp_fork_warns_with_w", False)
        return
    os_fork, text = warning_seen((), "fork_with_threads_os_fork.py")
    lab.say(f"os.fork() in __main__ with a thread running, default filters: warning shown = {os_fork}")
    if text:
        lab.say(f"  DeprecationWarning: {text}")
    mp_default, _ = warning_seen((), "fork_with_threads_mp.py")
    mp_w, _ = warning_seen(("-W", "default::DeprecationWarning"), "fork_with_threads_mp.py")
    lab.say(f"multiprocessing fork start with a thread running: warning shown = {mp_default}; "
            f"with -W default::DeprecationWarning = {mp_w}")
    lab.observe("os_fork_warns_by_default", os_fork)
    lab.observe("warning_text", text)
    lab.observe("mp_fork_warns_by_default", mp_default)
    lab.observe("mp_fork_warns_with_w", mp_w)


# %%
if __name__ == "__main__":
    lab.run(main)
