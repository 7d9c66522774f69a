# %% [markdown]
# # Races: lost updates without a lock
#
# From the course notebook, *Locks → Lock()*: `SampleLocks` has a `value` and a `lock`, and
# the lock guards the "long operation". What goes wrong without it? Four threads add 1 to a
# shared counter, read-modify-write, with a function call in the middle.

# %%
"""``counter = inc(counter)`` is three steps: read ``counter``, call ``inc``, write the result.

If the interpreter switches threads between the read and the write, the other threads'
increments in between are overwritten: *lost updates*. CPython switches threads every
``sys.getswitchinterval()`` seconds (5 ms by default), at points such as function calls;
we set it to 10 µs so that switches happen often, and start the threads together at a
``Barrier``. Then the unlocked loop loses a large share of its updates on every version
3.9-3.15 (GIL builds). (A bare ``counter += 1`` without the call loses updates on 3.9 but,
by luck of where 3.10+ checks for switches, not on GIL builds from 3.10: don't rely on it.)

Races depend on timing, so one run may get lucky: on a busy machine the other threads may
not even be scheduled while one of them runs its loop, and then nothing is lost. A race
that did not show is still a bug. We repeat the unlocked run (up to 20 rounds) until an
update is lost; it usually takes one round, under heavy load a few.

With ``with lock:`` around the read-modify-write, nothing is lost: 0, every time. We run
the locked version with fewer iterations: with a 10 µs switch interval, every switch while
a thread holds the lock makes the others queue up behind it (a *lock convoy*), which up to
3.12 is very slow. Correctness costs time; compare ``ms_without_lock`` and ``ms_with_lock``.
"""
import sys
import threading
import time

import labkit as lab

THREADS = 4
ITERATIONS = 50_000         # per thread, without the lock
ITERATIONS_LOCKED = 5_000   # per thread, with the lock
ROUNDS = 20

counter = 0


def inc(value):
    return value + 1


def add_unlocked(n, start):
    global counter
    start.wait(lab.BOUND)
    for _ in range(n):
        counter = inc(counter)  # read, call, write: another thread may run in between


def add_locked(n, start, lock):
    global counter
    start.wait(lab.BOUND)
    for _ in range(n):
        with lock:
            counter = inc(counter)


def race(target, n, *args):
    """Run THREADS threads from a common start; return (updates lost, milliseconds)."""
    global counter
    counter = 0
    start = threading.Barrier(THREADS)
    threads = [threading.Thread(target=target, args=(n, start) + args, name="adder-%d" % i)
               for i in range(THREADS)]
    began = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(lab.BOUND)
    elapsed = (time.perf_counter() - began) * 1000
    if any(t.is_alive() for t in threads):
        raise RuntimeError("an adder thread did not finish within %s s" % lab.BOUND)
    if start.broken:
        raise RuntimeError("the threads did not all reach the start barrier within %s s" % lab.BOUND)
    return THREADS * n - counter, elapsed


def main(ctx):
    old_interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    try:
        rounds, lost = 0, 0
        while rounds < ROUNDS and not lost:
            rounds += 1
            lost, ms_unlocked = race(add_unlocked, ITERATIONS)
        lost_locked, ms_locked = race(add_locked, ITERATIONS_LOCKED, threading.Lock())
        locked_total = counter
    finally:
        sys.setswitchinterval(old_interval)

    expected = THREADS * ITERATIONS
    lab.say(f"Without a lock: {THREADS} threads x {ITERATIONS} increments -> counter = {expected - lost}, "
            f"{lost} updates lost ({lost / expected:.0%}), round {rounds}, {ms_unlocked:.0f} ms")
    lab.say(f"With a lock:    {THREADS} threads x {ITERATIONS_LOCKED} increments -> counter = {locked_total}, "
            f"{lost_locked} lost, {ms_locked:.0f} ms")
    lab.observe("lost_updates_without_lock", lost > 0)
    lab.observe("lost_without_lock", lost)
    lab.observe("rounds_needed", rounds)
    lab.observe("lost_with_lock", lost_locked)
    lab.observe("counter_with_lock", locked_total)
    lab.observe("ms_without_lock", round(ms_unlocked, 1))
    lab.observe("ms_with_lock", round(ms_locked, 1))


# %%
if __name__ == "__main__":
    lab.run(main)
