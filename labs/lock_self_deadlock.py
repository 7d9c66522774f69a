# %% [markdown]
# # Lock self-deadlock: acquiring a Lock twice in one thread
#
# From the course notebook, *Locks → Lock()*, cell 3. A worker acquires the lock, then tries
# to acquire it again. It blocks, until another thread (here: main) releases the lock.
# The notebook waited `time.sleep(1)` "for sure"; here the worker first tries its second
# `acquire()` with a short timeout, which proves it would block, and an Event then tells
# main when to release.

# %%
"""A threading.Lock is not re-entrant: a second ``acquire()`` in the same thread blocks.

The lock does not remember which thread holds it, so its holder waits for itself: a
self-deadlock. ``acquire(timeout=...)`` shows it without hanging: it gives up and returns
False. Only another thread can end the wait, by calling ``release()``, which a Lock allows
(see lock_release). The worker's blocking ``acquire()`` then returns True and the worker
holds the lock again, so the lab ends with the lock *locked*. Use an RLock when the same
thread must re-enter. The same on every version and start method: no process is started.
"""
from threading import Event, Lock, Thread, current_thread

import labkit as lab


class SampleLocks:
    def __init__(self):
        self.value = 0
        self.lock = Lock()
        self.proved_stuck = Event()  # the worker's timed second acquire() gave up
        self.second_try = None       # what acquire(timeout=lab.STUCK) returned
        self.second_result = None    # what the blocking acquire() returned

    def first_lock(self):
        lab.say(f"{current_thread().name = }: First lock try acquire. {self.lock.locked() = }")
        self.lock.acquire()  # lock first time (free, so it returns at once)
        lab.say(f"{current_thread().name = }: First lock acquired. {self.lock.locked() = }")
        self.second_lock()  # lock second time

    def second_lock(self):
        lab.say(f"{current_thread().name = }: Second lock try acquire, for {lab.STUCK} s. {self.lock.locked() = }")
        self.second_try = self.lock.acquire(timeout=lab.STUCK)
        lab.say(f"{current_thread().name = }: Gave up: {self.second_try = }. I am waiting for myself.")
        self.proved_stuck.set()
        # Now wait for real (bounded, so that nothing can hang): until someone else releases.
        self.second_result = self.lock.acquire(timeout=lab.BOUND)
        lab.say(f"{current_thread().name = }: Second lock acquired? {self.second_result = }, {self.lock.locked() = }")


def main(ctx):
    sl = SampleLocks()
    tr = Thread(target=sl.first_lock, name="Thread-1")
    tr.start()
    if not sl.proved_stuck.wait(lab.BOUND):
        raise RuntimeError("the worker never reached its second acquire()")
    lab.say(f"{current_thread().name = }: Other thread after its timed try. {sl.lock.locked() = }")
    lab.observe("second_acquire_with_timeout", sl.second_try)

    sl.lock.release()  # allowed: a Lock is not owned by the thread that acquired it
    lab.say(f"{current_thread().name = }: Other thread after release lock.")
    tr.join(lab.BOUND)
    if tr.is_alive():  # cannot happen: the release above ends its wait
        lab.outcome("deadlock")
    lab.say(f"{current_thread().name = }: Other thread after the worker ended. {sl.lock.locked() = }")
    lab.observe("second_acquire_after_release", sl.second_result)
    lab.observe("locked_at_end", sl.lock.locked())


# %%
if __name__ == "__main__":
    lab.run(main)
