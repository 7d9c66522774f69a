# %% [markdown]
# # Buffered output printed twice after `os.fork()`
#
# From the course notebook, *multiprocessing → fork vs spawn*: the scripts there print from
# the parent and the child. Here the parent prints a line, without `flush`, *before* the
# child exists -- and we count how many times that line reaches stdout.

# %%
"""A fork child inherits the parent's unflushed output buffer; whoever flushes it prints it.

When stdout is a pipe or a file (a container log, ``| cat``, a CI job) it is
block-buffered: ``print()`` only fills a buffer in the process's memory. ``os.fork()``
copies that memory, buffer included:

* the child leaves with ``sys.exit()``: normal interpreter shutdown flushes its copy, and
  the parent flushes its own later -> the line appears **twice**;
* the child leaves with ``os._exit()``: no flush, no shutdown -> **once**;
* multiprocessing (any start method): it flushes stdout and stderr before it forks, and
  its children end with ``os._exit()`` -> **once**;
* ``PYTHONUNBUFFERED=1`` (set in many Dockerfiles): nothing is ever buffered, so the
  ``sys.exit()`` case prints **once** too, and the bug hides until the variable is gone.

On a terminal stdout is line-buffered, which hides it as well. The snippet
``snippets/fork_buffer_main.py`` runs with stdout a pipe and without PYTHONUNBUFFERED; for
each case it prints one line naming the case, then makes that case's child.
"""
import os

import labkit as lab

SNIPPET = lab.snippet("fork_buffer_main.py")
LINE = "hello before the child is made: "


def counts(cases, env=None):
    """Run the snippet for these cases: how many times each case's line reached stdout."""
    result = lab.run_script(SNIPPET, cases, env=env)
    if result["returncode"] != 0:
        lab.say(result["stderr"])
        raise RuntimeError("the snippet failed with exit code %s" % result["returncode"])
    lines = result["stdout"].splitlines()
    return [lines.count(LINE + case) for case in cases]


def main(ctx):
    if not hasattr(os, "fork"):  # Windows: only the multiprocessing case exists
        (with_mp,) = counts([lab.method()])
        lab.say(f"No os.fork() here. multiprocessing ({lab.method()}): printed {with_mp} time(s)")
        lab.observe("printed_with_multiprocessing", with_mp)
        return
    sys_exit, os_exit, with_mp = counts(["sys_exit", "os_exit", lab.method()])
    (unbuffered,) = counts(["sys_exit"], env={"PYTHONUNBUFFERED": "1"})
    for label, n in (("os.fork(), child leaves with sys.exit():", sys_exit),
                     ("os.fork(), child leaves with os._exit():", os_exit),
                     ("multiprocessing (%s):" % lab.method(), with_mp),
                     ("sys.exit() again, PYTHONUNBUFFERED=1:", unbuffered)):
        lab.say(f"{label:<42} printed {n} time(s)")
    lab.observe("printed_with_sys_exit", sys_exit)
    lab.observe("printed_with_os_exit", os_exit)
    lab.observe("printed_with_multiprocessing", with_mp)
    lab.observe("printed_with_sys_exit_unbuffered", unbuffered)


# %%
if __name__ == "__main__":
    lab.run(main)
