# %% [markdown]
# # A Lock released by another thread
#
# From the course notebook, *Locks → Lock()*, cell 2. A worker thread holds the lock in a
# `with` block; the main thread releases it from outside. The notebook ordered this with
# `time.sleep(2)` and `time.sleep(5)`; here two Events order it exactly.

# %%
"""A threading.Lock has no owner: any thread may release it.

The docs say so ("any thread may release it"), so the main thread's ``release()`` works and
the lock is unlocked while the worker is still inside its ``with`` block. When the worker
then leaves the block, ``with`` calls ``release()`` once more, on a lock that is no longer
held: ``RuntimeError: release unlocked lock``, raised in the worker. The same on every
version and start method: no process is started.
"""
from threading import Event, Lock, Thread, current_thread

import labkit as lab


class SampleLocks:
    def __init__(self):
        self.value = 0
        self.lock = Lock()
        self.inside = Event()     # the worker holds the lock
        self.released = Event()   # the main thread has released it
        self.error = None

    def long_lock(self):
        try:
            with self.lock:
                lab.say(f"{current_thread().name = }: Inside `with self.lock`. Before the long operation. {self.lock.locked() = }")
                self.inside.set()
                self.released.wait(lab.BOUND)  # the "long operation" ends once main has released
                lab.say(f"{current_thread().name = }: Inside `with self.lock`. After the long operation. {self.lock.locked() = }")
                lab.observe("worker_sees_locked", self.lock.locked())
        except RuntimeError as exc:
            self.error = lab.describe_error(exc)
            lab.say(f"{current_thread().name = }: leaving `with` raised {self.error}")


def main(ctx):
    sl = SampleLocks()
    tr = Thread(target=sl.long_lock, name="Thread-1")
    tr.start()
    if not sl.inside.wait(lab.BOUND):
        raise RuntimeError("the worker never acquired the lock")
    lab.say(f"{current_thread().name = }: After lock in other thread. {sl.lock.locked() = }")
    lab.observe("locked_while_worker_holds", sl.lock.locked())

    sl.lock.release()  # allowed: a Lock is not owned by the thread that acquired it
    lab.say(f"{current_thread().name = }: Other thread after release lock. {sl.lock.locked() = }")
    lab.observe("locked_after_foreign_release", sl.lock.locked())
    sl.released.set()
    tr.join(lab.BOUND)
    lab.observe("owner_release_error", sl.error)


# %%
if __name__ == "__main__":
    lab.run(main)
