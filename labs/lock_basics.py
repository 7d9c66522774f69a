# %% [markdown]
# # Lock basics: `locked()` inside and outside `with`
#
# From the course notebook, *Locks → Lock()*, cell 1. The notebook slept 5 s "for a long
# operation"; here nothing waits on time at all, since the main thread asks the lock directly.

# %%
"""A threading.Lock is held for exactly the body of a ``with`` block.

``with self.lock:`` calls ``acquire()`` on entry and ``release()`` on exit, so
``self.lock.locked()`` is True inside the block and False right after it. The start method
does not matter here: no process is started, which is why every method gives the same result.
"""
from threading import Lock, current_thread

import labkit as lab


class SampleLocks:
    def __init__(self):
        self.value = 0
        self.lock = Lock()

    def long_lock(self):
        with self.lock:
            lab.say(f"Inside with self.lock: {current_thread().name = }, {self.lock.locked() = }")
            lab.observe("locked_inside", self.lock.locked())
            self.value += 1  # the "long operation"
        lab.say(f"Outside self.lock: {current_thread().name = }, {self.lock.locked() = }")
        lab.observe("locked_after", self.lock.locked())


def main(ctx):
    sl = SampleLocks()
    sl.long_lock()
    lab.observe("thread", current_thread().name)


# %%
if __name__ == "__main__":
    lab.run(main)
