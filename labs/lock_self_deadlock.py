# %% [markdown]
# # Lock self-deadlock: acquiring a Lock twice in one thread
#
# From the course notebook, *Locks → Lock()*, cell 3. A worker acquires the lock, then tries
# to acquire it again. It blocks, until another thread (here: main) releases the lock.
# The notebook waited `time.sleep(1)` "for sure"; here the worker first tries its second
# `acquire()` with a short timeout, which proves it would block, and an Event then tells
# main when to release. Like the notebook, main reads `locked()` right after its
# `release()`: that answer differs between versions.

# %%
"""A threading.Lock is not re-entrant: a second ``acquire()`` in the same thread blocks.

The lock does not remember which thread holds it, so its holder waits for itself: a
self-deadlock. ``acquire(timeout=...)`` shows it without hanging: it gives up and returns
False. Only another thread can end the wait, by calling ``release()``, which a Lock allows
(see lock_release). The worker's blocking ``acquire()`` then returns True and the worker
holds the lock again, so the lab ends with the lock *locked*. Use an RLock when the same
thread must re-enter. No process is started, so the start method does not matter.

What ``locked()`` says *right after* main's ``release()`` depends on the version. Up to
3.13.0 the lock is free for a moment: the worker is woken, but it must first get the GIL,
which main holds, so main reads False. From 3.13.1 a Lock is a ``PyMutex`` (gh-117721),
which is fair to a thread that has waited longer than 1 ms: ``release()`` hands the lock
straight to that waiter, so main reads True. Here the worker has been blocked for 50 ms
when main releases.
"""
import sys
import time
from threading import Event, Lock, Thread, current_thread

import labkit as lab

#: How long the worker is blocked in acquire() before main releases: far past the 1 ms
#: after which a PyMutex hands the lock to its waiter (TIME_TO_BE_FAIR_NS, Python/lock.c).
WAITED = 0.05


class SampleLocks:
    def __init__(self):
        self.value = 0
        self.lock = Lock()
        self.proved_stuck = Event()  # the worker's timed second acquire() gave up
        self.second_try = None       # what acquire(timeout=lab.STUCK) returned
        self.blocked_since = None    # monotonic time right before the blocking acquire()
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
        # Nothing between set() and acquire() gives up the GIL (no output), so main, which
        # needs the GIL to run on, runs only once this thread is parked in acquire().
        self.blocked_since = time.monotonic()
        self.proved_stuck.set()
        # Now wait for real (bounded, so that nothing can hang): until someone else releases.
        self.second_result = self.lock.acquire(timeout=lab.BOUND)
        lab.say(f"{current_thread().name = }: Second lock acquired? {self.second_result = }, {self.lock.locked() = }")


def main(ctx):
    sl = SampleLocks()
    tr = Thread(target=sl.first_lock, name="Thread-1")
    # A long switch interval: main never takes the GIL from the worker by force, it gets it
    # only when the worker blocks. So once main runs after proved_stuck, the worker is in
    # its blocking acquire().
    interval = sys.getswitchinterval()
    sys.setswitchinterval(lab.BOUND)
    try:
        tr.start()
        if not sl.proved_stuck.wait(lab.BOUND):
            raise RuntimeError("the worker never reached its second acquire()")
        lab.say(f"{current_thread().name = }: Other thread after its timed try. {sl.lock.locked() = }")
        lab.observe("second_acquire_with_timeout", sl.second_try)
        Event().wait(WAITED)  # a bounded wait, measured: nobody sets this Event
        blocked_ms = (time.monotonic() - sl.blocked_since) * 1000
        still_waiting = sl.second_result is None
        sl.lock.release()  # allowed: a Lock is not owned by the thread that acquired it
        right_after = sl.lock.locked()
    finally:
        sys.setswitchinterval(interval)
    lab.say(f"{current_thread().name = }: Other thread after release lock, the worker blocked "
            f"for {blocked_ms:.0f} ms before it. {right_after = }")
    lab.observe("worker_still_in_acquire_at_release", still_waiting)
    lab.observe("locked_right_after_release", right_after)
    tr.join(lab.BOUND)
    if tr.is_alive():  # cannot happen: the release above ends its wait
        lab.outcome("deadlock")
    lab.say(f"{current_thread().name = }: Other thread after the worker ended. {sl.lock.locked() = }")
    lab.observe("second_acquire_after_release", sl.second_result)
    lab.observe("locked_at_end", sl.lock.locked())


# %%
if __name__ == "__main__":
    lab.run(main)
