# %% [markdown]
# # The default start method, and how it gets "locked in"
#
# From the course notebook, *multiprocessing → fork vs spawn*: there every cell picked its
# method with `mp.get_context("fork")`. What happens when a script picks *nothing*? Each
# question below runs in a fresh interpreter (`snippets/default_method_probe.py`), because
# the first call that fixes the start method cannot be undone in the same process.

# %%
"""What "the default start method" is, and which calls fix it for the rest of the process.

* ``get_start_method(allow_none=True)`` at start is ``None``: nothing is chosen yet. The
  *platform default* is fork on Linux up to 3.13, forkserver on Linux from 3.14, and spawn
  on macOS (since 3.8) and Windows. (The spawn-default image emulates macOS.)
* ``get_all_start_methods()`` lists the default first from 3.14; before that the order is
  fixed: Linux ``['fork', 'spawn', 'forkserver']``, macOS ``['spawn', 'fork', 'forkserver']``.
  Asking it does not lock anything.
* Many calls *lock in* the default: ``get_context()`` with no argument, starting a Process,
  a Pool, a Queue, a Lock -- and even a ``ThreadPool``, which starts no process at all
  (``Pool.__init__`` calls ``get_context()``). After that, ``set_start_method('spawn')``
  raises ``RuntimeError: context has already been set``.
* ``set_start_method('fork')`` as the first thing works without ``force=True``, on Linux
  and on macOS alike: the platform default is only a default. (Windows has no fork:
  ``ValueError: cannot find context for 'fork'``.)
* Using ``get_context('spawn')`` to start a child also locked the *global* default, as a
  side effect, until gh-109263 (fixed in 3.13.12 and 3.14.3): afterwards the parent's
  ``get_start_method(allow_none=True)`` was the platform default instead of ``None``.

The requested start method of this run does not change any of that; it only decides what
``ctx`` is, and ``default`` resolves to the platform default (``effective_method``). So the
probes, which ask about the default itself, run in the ``default`` run only; a run with a
named method shows just that its context is the method it names.
"""

import labkit as lab

PROBE = lab.snippet("default_method_probe.py")


def probe(scenario):
    return lab.snippet_report(lab.run_script(PROBE, [scenario]))


def main(ctx):
    lab.observe("effective_method", ctx.get_start_method())
    if lab.method() != "default":
        lab.say(f"--start-method {lab.method()}: the context is {ctx.get_start_method()!r}. The questions "
                "about the default run in fresh interpreters, the same whatever this run names: "
                "see the default run.")
        return

    fresh = probe("fresh")
    lab.say(f"Fresh interpreter: get_start_method(allow_none=True) = {fresh['chosen_at_start']}")
    lab.say(f"get_all_start_methods() = {fresh['all_start_methods']}, "
            f"and still nothing chosen: {fresh['chosen_after_get_all_start_methods']}")
    lab.say(f"After get_context(): chosen = {fresh['chosen_after_get_context']!r}; "
            f"set_start_method('spawn') -> {fresh['set_spawn_after_get_context']}")

    pool = probe("threadpool")
    lab.say(f"After a ThreadPool (threads only!): chosen = {pool['chosen_after_threadpool']!r}; "
            f"set_start_method('spawn') -> {pool['set_spawn_after_threadpool']}")

    first = probe("fork_first")
    lab.say(f"set_start_method('fork') first thing -> {first['set_fork_first']}; "
            f"chosen = {first['chosen_after_set_fork']!r}")

    spawned = probe("spawn_child")
    lab.say(f"After get_context('spawn').Process(...).start(): the parent's global choice is "
            f"{spawned['chosen_after_spawn_child']}")

    for report in (fresh, pool, first, spawned):
        for key, value in report.items():
            if key != "chosen_at_start":
                lab.observe(key, value)
    lab.observe("chosen_at_start", fresh["chosen_at_start"])


# %%
if __name__ == "__main__":
    lab.run(main)
