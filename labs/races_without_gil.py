# %% [markdown]
# # Races without the GIL: what is still safe, and what never was
#
# Four threads update shared objects at once: an int counter, a list and a dict. Which
# updates get lost, with and without the GIL?

# %%
"""``counter += 1`` was never atomic; without the GIL it loses updates all the time.

``counter += 1`` reads the counter, adds one and writes it back: three steps, and another
thread may write in between. On GIL builds since 3.10 a thread switch never falls between
those steps of this loop (the switch is checked at calls and backward jumps), so it hides
the race (the ``races`` lab shows it with a call in between); without the GIL the threads
run *at the same time*, and a large share of the increments is lost.

``lst.append(x)`` and ``d[k] = v`` lose nothing, with or without the GIL: the free-threaded
build protects built-in containers such as list, dict and set with per-object locks (the
free-threading HOWTO, https://docs.python.org/3/howto/free-threading-python.html, "Thread
safety"), so a single call on one of them is not torn. That is a property of the
implementation; the language does not promise that a compound operation such as
``d[k] += 1`` or ``if k not in d: d[k] = v`` is atomic, with or without the GIL.

``with lock:`` around the increment makes the counter exact everywhere: a ``threading.Lock``
is the documented way to make a read-modify-write atomic.
"""
import threading

import labkit as lab

THREADS = 4
ROUNDS = 20_000        # per thread, for the counter, the list and the dict
ROUNDS_LOCKED = 2_000   # per thread, with the lock
TRIES = 20             # the unlocked counter, until it loses an update (on a busy machine)

counter = 0


def together(target, *args):
    """Run THREADS threads of ``target(start, k, *args)`` from a common Barrier."""
    start = threading.Barrier(THREADS)
    threads = [threading.Thread(target=target, args=(start, k) + args, name=f"racer-{k}") for k in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(lab.BOUND)
    if any(t.is_alive() for t in threads) or start.broken:
        raise RuntimeError(f"the threads did not start together and finish within {lab.BOUND} s")


def bump(start, k):
    global counter
    start.wait(lab.BOUND)
    for _ in range(ROUNDS):
        counter += 1  # read, add, write: not atomic


def bump_locked(start, k, lock):
    global counter
    start.wait(lab.BOUND)
    for _ in range(ROUNDS_LOCKED):
        with lock:
            counter += 1


def fill(start, k, lst, d):
    start.wait(lab.BOUND)
    for i in range(ROUNDS):
        lst.append(i)
        d[(k, i)] = i


def main(ctx):
    global counter
    total = THREADS * ROUNDS
    for tries in range(1, TRIES + 1):  # noqa: B007 (reported below)
        counter = 0
        together(bump)
        lost = total - counter
        if lost:
            break
    unlocked = counter
    lst, d = [], {}
    together(fill, lst, d)
    counter = 0
    together(bump_locked, threading.Lock())
    locked = counter

    lab.say(f"counter += 1 : {THREADS} x {ROUNDS} -> {unlocked}, {lost} lost ({lost / total:.1%}), try {tries}")
    lab.say(f"list.append  : {len(lst)} items, {total - len(lst)} lost")
    lab.say(f"d[k] = v     : {len(d)} keys, {total - len(d)} lost")
    lab.say(f"with lock    : {THREADS} x {ROUNDS_LOCKED} -> {locked}")
    lab.observe("counter_lost_updates", lost > 0)
    lab.observe("counter_lost", lost)
    lab.observe("list_lost", total - len(lst))
    lab.observe("dict_lost", total - len(d))
    lab.observe("locked_counter_exact", locked == THREADS * ROUNDS_LOCKED)


# %%
if __name__ == "__main__":
    lab.run(main)
