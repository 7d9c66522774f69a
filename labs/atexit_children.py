# %% [markdown]
# # `atexit` handlers in child processes
#
# From the course notebook, *multiprocessing → fork vs spawn*: a script with a top-level part
# and a guarded part. Here each part registers an `atexit` handler, and so does the child's
# target. Which handlers run, and in which process, when everything exits?

# %%
"""Which atexit handlers run in a child depends on the start method and on the version.

Three handlers (``snippets/atexit_children_main.py``), each writing "<tag> <pid>" to a log:
``module`` (registered at module level), ``guard`` (under the main guard) and ``child``
(registered inside the child's target).

* The parent always runs ``guard`` and ``module``.
* spawn: the child is a new interpreter that imports the script (``module`` registered
  again) and exits normally, so it runs ``child`` and ``module``, on every version.
* fork, up to 3.12: the child ends with ``os._exit()``, so *no* handler runs in it -- not
  even one it registered itself. From 3.13 (gh-83856) the child runs the handlers
  registered *in the child*; the ones inherited from the parent are cleared first.
* forkserver, up to 3.12: like fork, none. 3.13.0-3.13.7: ``child``, plus ``module``
  because the child imported the script again. From 3.13.8 / 3.14.1 the fork server itself
  imports the script once (gh-126631), so ``module`` runs *in the fork server* when it
  exits, after the parent -- in neither the parent nor the child.

So cleanup in an atexit handler (removing temp files, flushing a log) may run once, never,
or in an unexpected process, depending on how the process was made.
"""
import os
import tempfile

import labkit as lab

SNIPPET = lab.snippet("atexit_children_main.py")


def main(ctx):
    with tempfile.TemporaryDirectory() as tmp:
        log = os.path.join(tmp, "atexit.log")
        result = lab.run_script(SNIPPET, [lab.method()], env={"ATEXIT_CHILDREN_LOG": log})
        runs = []
        if os.path.exists(log):
            with open(log) as f:
                runs = [line.split() for line in f.read().splitlines()]
    report = lab.snippet_report(result)
    parent, child = str(report["parent"]), str(report["child"])

    in_parent = sorted(tag for tag, pid in runs if pid == parent)
    in_child = sorted(tag for tag, pid in runs if pid == child)
    elsewhere = sorted(tag for tag, pid in runs if pid not in (parent, child))
    lab.say(f"{lab.method()}: child exit code {report['exitcode']}")
    lab.say(f"  handlers run in the parent: {in_parent}")
    lab.say(f"  handlers run in the child:  {in_child}")
    lab.say(f"  handlers run elsewhere (the fork server): {elsewhere}")
    lab.observe("child_exitcode", report["exitcode"])
    lab.observe("parent_handlers", in_parent)
    lab.observe("child_handlers", in_child)
    lab.observe("other_process_handlers", elsewhere)


# %%
if __name__ == "__main__":
    lab.run(main)
