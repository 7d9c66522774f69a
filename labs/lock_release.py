# %% [markdown]
# # A Lock released by another thread
#
# From the course notebook, *Locks → Lock()*, cell 2. A worker thread holds the lock in a
# `with` block; the main thread releases it from outside. The notebook ordered this with
# `time.sleep(2)` and `time.sleep(5)`; here two Events order it exactly. As in the
# notebook, the worker does not catch the error it gets: it dies of it, and
# `threading.excepthook` prints `Exception in thread ...` while main carries on.

# %%
"""A threading.Lock has no owner: any thread may release it.

The docs say so ("any thread may release it"), so the main thread's ``release()`` works and
the lock is unlocked while the worker is still inside its ``with`` block. When the worker
then leaves the block, ``with`` calls ``release()`` once more, on a lock that is no longer
held: ``RuntimeError: release unlocked lock``, raised in the worker. Nothing catches it, so
the worker dies and ``threading.excepthook`` prints ``Exception in thread <name>:`` and the
traceback; the main thread is not affected and goes on. The same on every version and
start method: no process is started.

The worker is started without a name, as in the notebook. Up to 3.9 such a thread is
called ``Thread-N``; from 3.10 its target's name is added: ``Thread-1 (long_lock)``.
"""
import io
import sys
import threading
from threading import Event, Lock, Thread, current_thread

import labkit as lab


class SampleLocks:
    def __init__(self):
        self.value = 0
        self.lock = Lock()
        self.inside = Event()     # the worker holds the lock
        self.released = Event()   # the main thread has released it

    def long_lock(self):
        with self.lock:
            lab.say(f"{current_thread().name = }: Inside `with self.lock`. Before the long operation. {self.lock.locked() = }")
            self.inside.set()
            self.released.wait(lab.BOUND)  # the "long operation" ends once main has released
            lab.say(f"{current_thread().name = }: Inside `with self.lock`. After the long operation. {self.lock.locked() = }")
            lab.observe("worker_sees_locked", self.lock.locked())
        lab.say("not reached: leaving `with` raises")


class ExceptHook:
    """threading.excepthook that records what the default hook prints, then prints it."""

    def __init__(self, default):
        self.default = default  # threading.__excepthook__ exists only from 3.10
        self.seen = []          # (thread name, exception, what the default hook printed)
        self.called = Event()

    def __call__(self, args):
        stderr, sys.stderr = sys.stderr, io.StringIO()
        try:
            self.default(args)
            printed = sys.stderr.getvalue()
        finally:
            sys.stderr = stderr
        sys.stderr.write(printed)
        sys.stderr.flush()
        self.seen.append((args.thread.name, lab.describe_error(args.exc_value), printed))
        self.called.set()


def main(ctx):
    hook = ExceptHook(threading.excepthook)
    threading.excepthook = hook
    sl = SampleLocks()
    tr = Thread(target=sl.long_lock)  # no name: the default naming is part of the lesson
    tr.start()
    if not sl.inside.wait(lab.BOUND):
        raise RuntimeError("the worker never acquired the lock")
    lab.say(f"{current_thread().name = }: After lock in other thread. {sl.lock.locked() = }")
    lab.observe("locked_while_worker_holds", sl.lock.locked())

    sl.lock.release()  # allowed: a Lock is not owned by the thread that acquired it
    lab.say(f"{current_thread().name = }: Other thread after release lock. {sl.lock.locked() = }")
    lab.observe("locked_after_foreign_release", sl.lock.locked())
    sl.released.set()
    if not hook.called.wait(lab.BOUND):
        raise RuntimeError("the worker's error never reached threading.excepthook")
    tr.join(lab.BOUND)
    name, error, printed = hook.seen[0]
    lab.say(f"{current_thread().name = }: still running after {name!r} died of {error}. "
            f"{tr.is_alive() = }, {sl.lock.locked() = }")
    lab.observe("worker_default_name", tr.name)
    lab.observe("owner_release_error", error)
    lab.observe("excepthook_thread_is_worker", name == tr.name)
    lines = printed.splitlines()
    lab.observe("excepthook_first_line", lines[0] if lines else None)
    lab.observe("excepthook_last_line", lines[-1] if lines else None)
    lab.observe("worker_alive_after_its_error", tr.is_alive())


# %%
if __name__ == "__main__":
    lab.run(main)
