# %% [markdown]
# # RLock re-entry: one thread acquires twice, the others wait
#
# From the course notebook, *Locks → RLock()*, cell 5. The worker takes the same RLock twice
# (`with` inside `with`); its repr shows the owner and `count=2`. The main thread cannot
# take it until the count is back to 0. Events replace the notebook's sleeps.

# %%
"""An RLock counts how often its owner acquired it.

The owning thread may acquire it again (count 2); every acquire needs its release, and
only at count 0 is the lock free for other threads. The repr shows ``owner=<thread ident>``
and ``count=N``; this is the same from 3.8 to 3.15 (facts §8).
"""
import re
from threading import Event, RLock, Thread, current_thread

import labkit as lab


def count(lock):
    return int(re.search(r"count=(\d+)", repr(lock)).group(1))


class SampleLocks:
    def __init__(self):
        self.value = 0
        self.lock = RLock()  # Now use RLock
        self.held_twice = Event()
        self.checked = Event()

    def first_lock(self):
        lab.say(f"{current_thread().name = }: Try acquire lock. {self.lock!r}")
        with self.lock:  # lock first time
            lab.say(f"{current_thread().name = }: Lock acquired. {self.lock!r}")
            self.second_lock()  # lock second time
        lab.say(f"{current_thread().name = }: Lock released?. {self.lock!r}")

    def second_lock(self):
        lab.say(f"{current_thread().name = }: Try acquire lock same lock again. {self.lock!r}")
        with self.lock:  # lock second time, same thread
            lab.say(f"{current_thread().name = }: Same lock acquired again? {self.lock!r}")
            self.held_twice.set()
            self.checked.wait(lab.BOUND)  # the "long operation": until main has looked
        lab.say(f"{current_thread().name = }: Same lock released?. {self.lock!r}")


def main(ctx):
    sl = SampleLocks()
    tr = Thread(target=sl.first_lock, name="Thread-1")
    tr.start()
    sl.held_twice.wait(lab.BOUND)
    lab.say(f"{current_thread().name = }: Other thread after some time. {sl.lock!r}")
    lab.observe("count_while_held_twice", count(sl.lock))
    lab.observe("owner_is_worker", f"owner={tr.ident} " in repr(sl.lock))
    lab.observe("main_can_acquire_while_held", sl.lock.acquire(timeout=lab.STUCK))
    sl.checked.set()
    tr.join(lab.BOUND)

    with sl.lock:
        lab.say(f"{current_thread().name = }: Other thread use lock. {sl.lock!r}")
        lab.observe("count_when_main_holds", count(sl.lock))
    lab.observe("count_at_end", count(sl.lock))


# %%
if __name__ == "__main__":
    lab.run(main)
