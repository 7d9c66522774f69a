# %% [markdown]
# # Module side effects: how many times does the module body run?
#
# From the course notebook, *multiprocessing → `__name__ == "__main__"`: fork vs spawn*. The
# notebook showed an unguarded script crashing under spawn. Here the script is guarded and
# starts 3 children; we count how often its *module body* (the top-level code, outside the
# guard) runs, and in which process. The script is `snippets/module_side_effects_main.py`,
# run as a real `__main__`, because that is what a child imports again.

# %%
"""The module body of the main script runs once in every process that imports it.

* fork: **1**. Children are copies of the parent's memory; nothing is imported again.
* spawn: **1 + N = 4**. Each child is a fresh interpreter that imports the main script
  again, as ``__mp_main__``, to find the target function.
* forkserver, up to 3.13.7 and 3.14.0: **4**, like spawn (each child imports it again).
* forkserver from 3.13.8 / 3.14.1 (gh-126631): **2**. The fork server imports
  ``__main__`` once (a preload that was meant to work all along), and children forked from
  the server inherit it. The second run is in the server, in neither parent nor child.

So top-level code with side effects (prints, opening files, starting things) runs more
often than it looks, and how often depends on the start method *and the patch release*.
Each body run appends one line "<__name__> <pid>" to a log; we count the lines and sort
them by pid into parent, children, and "somewhere else" (the fork server).
"""
import os
import tempfile

import labkit as lab

SNIPPET = lab.snippet("module_side_effects_main.py")


def main(ctx):
    method = lab.method()
    with tempfile.TemporaryDirectory() as tmp:
        log = os.path.join(tmp, "body-runs.log")
        result = lab.run_script(SNIPPET, [method], env={"MODULE_SIDE_EFFECTS_LOG": log})
        with open(log) as f:
            runs = [line.split() for line in f.read().splitlines()]
    report = lab.snippet_report(result)
    parent, children = report["parent"], set(report["children"])

    in_parent = [name for name, pid in runs if int(pid) == report["parent"]]
    in_children = [name for name, pid in runs if int(pid) in children]
    elsewhere = [name for name, pid in runs if int(pid) != parent and int(pid) not in children]
    lab.say(f"{method = }: 3 children started, exit codes {report['exitcodes']}")
    lab.say(f"The module body ran {len(runs)} time(s): {len(in_parent)} in the parent, "
            f"{len(in_children)} in the children, {len(elsewhere)} elsewhere (the fork server).")
    for name, pid in runs:
        where = ("the parent" if int(pid) == parent else "a child" if int(pid) in children
                 else "another process: the fork server")
        lab.say(f"  {name = } ran in {where}")

    lab.observe("children_exit_codes", report["exitcodes"])
    lab.observe("body_runs", len(runs))
    lab.observe("body_runs_in_parent", len(in_parent))
    lab.observe("body_runs_in_children", len(in_children))
    lab.observe("body_runs_elsewhere", len(elsewhere))
    lab.observe("module_names", sorted(set(name for name, _ in runs)))


# %%
if __name__ == "__main__":
    lab.run(main)
