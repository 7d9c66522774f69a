# %% [markdown]
# # RLock re-entry: one thread acquires twice, the others wait
#
# From the course notebook, *Locks → RLock()*, cell 5. The worker takes the same RLock twice
# (`with` inside `with`); its repr shows the owner and `count=2`. The main thread cannot
# take it until the count is back to 0. Events replace the notebook's sleeps.

# %%
"""An RLock has an owner and counts how often the owner acquired it.

The owning thread may acquire it again (count 2); every acquire needs its own release, and
only at count 0 is the lock free for other threads. The repr shows ``owner=<thread ident>``
(``threading.get_ident()`` of the owner, 0 when free) and ``count=N``; it is the same from
3.8 to 3.15 (threading docs, "Lock objects" and "RLock objects"). Main first tries for a short while and gives up (False) while the
worker holds the lock; then it waits, bounded, and gets it as soon as the worker's count
is back to 0. ``RLock.locked()`` only exists from 3.14; before, the repr was the only way
to ask.
"""
import re
from threading import Event, RLock, Thread, current_thread, get_ident

import labkit as lab


def owner_and_count(lock):
    """(owner, count) as the repr shows them, e.g. ``owner=1403... count=2``."""
    found = re.search(r"owner=(\d+) count=(\d+)", repr(lock))
    return int(found.group(1)), int(found.group(2))


class SampleLocks:
    def __init__(self):
        self.value = 0
        self.lock = RLock()  # Now use RLock
        self.held_twice = Event()
        self.checked = Event()
        self.count_after_inner = None

    def first_lock(self):
        lab.say(f"{current_thread().name = }: Try acquire lock. {self.lock!r}")
        with self.lock:  # lock first time
            lab.say(f"{current_thread().name = }: Lock acquired. {self.lock!r}")
            self.second_lock()  # lock second time
            self.count_after_inner = owner_and_count(self.lock)[1]
        lab.say(f"{current_thread().name = }: Lock released?. {self.lock!r}")

    def second_lock(self):
        lab.say(f"{current_thread().name = }: Try acquire lock same lock again. {self.lock!r}")
        with self.lock:  # lock second time, same thread: no deadlock
            lab.say(f"{current_thread().name = }: Same lock acquired again? {self.lock!r}")
            self.held_twice.set()
            self.checked.wait(lab.BOUND)  # the "long operation": until main has looked
        lab.say(f"{current_thread().name = }: Same lock released?. {self.lock!r}")


def main(ctx):
    sl = SampleLocks()
    tr = Thread(target=sl.first_lock, name="Thread-1")
    tr.start()
    if not sl.held_twice.wait(lab.BOUND):
        raise RuntimeError("the worker never acquired the RLock twice")
    owner, count = owner_and_count(sl.lock)
    lab.say(f"{current_thread().name = }: Other thread after some time. {sl.lock!r}")
    lab.say(f"{current_thread().name = }: {owner = }, {tr.ident = }, {count = }")
    lab.observe("count_while_held_twice", count)
    lab.observe("owner_is_worker", owner == tr.ident)
    lab.observe("rlock_locked_while_held",
                sl.lock.locked() if hasattr(sl.lock, "locked") else "no locked() method")

    got = sl.lock.acquire(timeout=lab.STUCK)
    lab.say(f"{current_thread().name = }: acquire(timeout={lab.STUCK}) while the worker holds it: {got}")
    lab.observe("main_acquired_while_held", got)

    sl.checked.set()  # the worker may now leave both `with` blocks
    got = sl.lock.acquire(timeout=lab.BOUND)  # returns once the worker's count is 0
    try:
        owner, count = owner_and_count(sl.lock)
        lab.say(f"{current_thread().name = }: Other thread use lock. {got = }, {sl.lock!r}")
        lab.observe("main_acquired_after_count_zero", got)
        lab.observe("worker_count_after_inner_release", sl.count_after_inner)
        lab.observe("count_when_main_holds", count)
        lab.observe("owner_is_main", owner == get_ident())
    finally:
        if got:
            sl.lock.release()
    tr.join(lab.BOUND)
    lab.say(f"{current_thread().name = }: Released. {sl.lock!r}")
    lab.observe("owner_and_count_at_end", list(owner_and_count(sl.lock)))


# %%
if __name__ == "__main__":
    lab.run(main)
