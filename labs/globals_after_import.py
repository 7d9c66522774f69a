# %% [markdown]
# # Globals changed after import: what does the child see?
#
# From the course notebook, *multiprocessing → fork vs spawn*: the same script, three start
# methods. Here the parent changes module globals at run time (after import, inside the
# main guard) and then starts one child, which sends back what *it* sees, through a pipe.

# %%
"""A child sees the parent's run-time state only under fork.

The parent sets ``COUNTER = 42`` and ``CONFIG["mode"] = "changed-in-main"`` after import,
and changes ``VALUE`` in a helper module it imported at run time.

* fork: the child is a copy of the parent at ``start()``, so it sees 42 and every change.
* spawn: the child is a new interpreter that imports the lab again as ``__mp_main__``, so it
  sees the *import-time* values (0, "import-time"); the helper module was imported by the
  parent at run time, so the child does not have it at all.
* forkserver: like spawn for the lab's own globals. The parent also names the helper in
  ``set_forkserver_preload()``: the fork server then imports it *itself*, fresh, so the
  child has the module but with its import-time value. Preloading saves import time; it
  never carries run-time state. (It must be called before the first process starts.) It is also only a hint: before gh-117378 (fixed in
  3.12.8 and 3.13.1) the fork server ignored the parent's ``sys.path``, could not find a
  helper importable only through a path the parent added at run time (as here), and
  silently skipped it, so the child reports "not-loaded" on 3.9 and 3.11.

Docs, "Global variables": the value a child sees "may not be the same as the value in the
parent process at the time that Process.start was called".
"""
import importlib
import sys

import labkit as lab

SNIPPETS = lab.snippet()
HELPER = "globals_after_import_helper"  # snippets/globals_after_import_helper.py

COUNTER = 0
CONFIG = {"mode": "import-time"}


def report(conn):
    """Runs in the child: send back what this process sees."""
    helper = sys.modules.get(HELPER)
    conn.send({
        "counter": COUNTER,
        "mode": CONFIG["mode"],
        "helper": helper.VALUE if helper is not None else "not-loaded",
    })
    conn.close()


def main(ctx):
    global COUNTER
    sys.path.insert(0, SNIPPETS)
    helper = importlib.import_module(HELPER)  # imported at run time, not at module level
    COUNTER = 42
    CONFIG["mode"] = "changed-in-main"
    helper.VALUE = "changed-by-parent"
    if ctx.get_start_method() == "forkserver":
        ctx.set_forkserver_preload([HELPER])  # before the first start, or it is too late
    lab.say(f"Parent after import: {COUNTER = }, {CONFIG = }, {helper.VALUE = }")

    receiver, sender = ctx.Pipe(duplex=False)
    child = ctx.Process(target=report, args=(sender,))
    child.start()
    sender.close()  # the child has its own copy; ours must go so recv() cannot hang
    if not receiver.poll(lab.BOUND):
        lab.join(child)
        raise RuntimeError("the child sent nothing (exit code %s)" % child.exitcode)
    seen = receiver.recv()
    lab.join(child)

    helper_seen = ("is not loaded at all" if seen["helper"] == "not-loaded"
                   else "is loaded, VALUE = %r" % seen["helper"])
    lab.say(f"Child ({lab.method()}) sees: COUNTER = {seen['counter']}, "
            f"CONFIG['mode'] = {seen['mode']!r}, and {HELPER} {helper_seen}")
    lab.observe("parent_counter", COUNTER)
    lab.observe("child_counter", seen["counter"])
    lab.observe("child_config_mode", seen["mode"])
    lab.observe("child_helper_value", seen["helper"])
    lab.observe("child_exitcode", child.exitcode)


# %%
if __name__ == "__main__":
    lab.run(main)
