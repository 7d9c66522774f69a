# %% [markdown]
# # Lock self-deadlock: acquiring a Lock twice in one thread
#
# From the course notebook, *Locks → Lock()*, cell 3. A worker acquires the lock, then tries
# to acquire it again. It blocks, until another thread (here: main) releases the lock.
# The notebook waited `time.sleep(1)` "for sure"; here an Event says when the worker is at
# its second `acquire()`, and `join(timeout)` proves it is still stuck there.

# %%
"""A threading.Lock is not re-entrant: a second ``acquire()`` in the same thread blocks.

The lock does not know which thread holds it, so the holder waits for itself: a
self-deadlock. Only another thread can end it, by calling ``release()`` (which is allowed,
see lock_release). Then the blocked ``acquire()`` returns True, and the worker holds the
lock again, so it ends the lab *locked*. Use an RLock when the same thread must re-enter.
The worker's second acquire is bounded (timeout) so that nothing can hang.
"""
from threading import Event, Lock, Thread, current_thread

import labkit as lab


class SampleLocks:
    def __init__(self):
        self.value = 0
        self.lock = Lock()
        self.second_try = Event()
        self.second_result = None

    def first_lock(self):
        lab.say(f"{current_thread().name = }: First lock try acquire. {self.lock.locked() = }")
        self.lock.acquire()  # lock first time
        lab.say(f"{current_thread().name = }: First lock acquired. {self.lock.locked() = }")
        self.second_lock()  # lock second time

    def second_lock(self):
        lab.say(f"{current_thread().name = }: Second lock try acquire. {self.lock.locked() = }")
        self.second_try.set()
        self.second_result = self.lock.acquire(timeout=lab.BOUND)
        lab.say(f"{current_thread().name = }: Second lock acquired? {self.second_result = }, {self.lock.locked() = }")


def main(ctx):
    sl = SampleLocks()
    tr = Thread(target=sl.first_lock, name="Thread-1")
    tr.start()
    sl.second_try.wait(lab.BOUND)
    tr.join(lab.STUCK)  # if the second acquire() returned, the thread would have ended
    lab.say(f"{current_thread().name = }: Other thread after some time. {sl.lock.locked() = }, {tr.is_alive() = }")
    lab.observe("worker_blocked_on_second_acquire", tr.is_alive())

    sl.lock.release()
    lab.say(f"{current_thread().name = }: Other thread after release lock.")
    tr.join(lab.BOUND)
    lab.say(f"{current_thread().name = }: Other thread after the worker ended. {sl.lock.locked() = }")
    lab.observe("second_acquire_after_release", sl.second_result)
    lab.observe("locked_at_end", sl.lock.locked())


# %%
if __name__ == "__main__":
    lab.run(main)
