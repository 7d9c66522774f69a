# %% [markdown]
# # RLock released by a thread that does not own it
#
# From the course notebook, *Locks → RLock()*, cell 6: "We can't release RLock which
# acquired by another Thread". Unlike a Lock (see lock_release), an RLock has an owner.

# %%
"""Only the owner may release an RLock.

``release()`` from any other thread raises ``RuntimeError: cannot release un-acquired
lock`` and changes nothing: the owner still holds it with the same count, and releases
it normally afterwards. Same text from 3.8 to 3.15 (threading docs, "Lock objects" and "RLock objects").
"""
import re
from threading import Event, RLock, Thread, current_thread

import labkit as lab


def owner_and_count(lock):
    """(owner, count) as the repr shows them, e.g. ``owner=1403... count=2``."""
    found = re.search(r"owner=(\d+) count=(\d+)", repr(lock))
    return int(found.group(1)), int(found.group(2))


class SampleLocks:
    def __init__(self):
        self.value = 0
        self.lock = RLock()
        self.held_twice = Event()
        self.tried = Event()

    def first_lock(self):
        with self.lock:
            lab.say(f"{current_thread().name = }: Lock acquired. {self.lock!r}")
            with self.lock:
                lab.say(f"{current_thread().name = }: Same lock acquired again? {self.lock!r}")
                self.held_twice.set()
                self.tried.wait(lab.BOUND)  # the "long operation": until main has tried
            lab.say(f"{current_thread().name = }: Same lock released?. {self.lock!r}")
        lab.say(f"{current_thread().name = }: Lock released?. {self.lock!r}")


def main(ctx):
    sl = SampleLocks()
    tr = Thread(target=sl.first_lock, name="Thread-1")
    tr.start()
    if not sl.held_twice.wait(lab.BOUND):
        raise RuntimeError("the worker never acquired the RLock twice")
    lab.say(f"{current_thread().name = }: Other thread after some time. {sl.lock!r}")
    try:
        sl.lock.release()  # We can't release an RLock acquired by another thread
        lab.observe("foreign_release_error", None)
    except RuntimeError as exc:
        lab.say(f"{current_thread().name = }: {lab.describe_error(exc)}")
        lab.observe("foreign_release_error", lab.describe_error(exc))
    owner, count = owner_and_count(sl.lock)
    lab.say(f"{current_thread().name = }: After the failed release. {sl.lock!r}")
    lab.observe("owner_still_worker", owner == tr.ident)
    lab.observe("count_after_foreign_release", count)
    sl.tried.set()
    tr.join(lab.BOUND)
    lab.observe("count_after_owner_released", owner_and_count(sl.lock)[1])


# %%
if __name__ == "__main__":
    lab.run(main)
