# %% [markdown]
# # The `__main__` guard under fork, spawn and forkserver
#
# From the course notebook, *multiprocessing → `__name__ == "__main__"`: fork vs spawn*,
# which says "in Jupyter we can't simulate this behaviour". Here each script really runs:
# `snippets/unguarded.py` (the notebook's cell, no guard) and `snippets/guarded.py` (with
# the guard), each as its own `__main__`, under the start method of this run.

# %%
"""Without ``if __name__ == "__main__":``, only fork works.

* **fork** copies the parent; the child runs ``dummy`` directly and prints ``Dummy``.
* **spawn** starts a fresh interpreter that imports the main script again (as
  ``__mp_main__``) to find ``dummy``. That import runs the module body, which starts a
  process *again*, while the child is still bootstrapping: ``RuntimeError: An attempt has
  been made to start a new process before the current process has finished its
  bootstrapping phase``. The child exits with 1; the parent goes on.
* **forkserver** up to 3.13.7: the same, in a child forked from the server. From 3.13.8 /
  3.14.1 the *server* imports ``__main__`` first (gh-126631), hits the RuntimeError and dies,
  so the parent's ``start()`` crashes: ``EOFError`` (3.13) or ``ConnectionResetError``
  (3.14). 3.15 swallows the preload error; the child then fails as under spawn.
* **default** is the platform's: fork on Linux up to 3.13, so the unguarded script works;
  forkserver from 3.14, so *the same script breaks*; spawn on macOS and Windows, always.

With the guard, every method prints ``Dummy``.
"""
import os

import labkit as lab

SNIPPETS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "snippets")


def run(name, method):
    result = lab.run_script(os.path.join(SNIPPETS, name), [method])
    out, err = result["stdout"], result["stderr"]
    lab.say(f"--- python snippets/{name} {method}: exit code {result['returncode']}")
    lab.say(out.rstrip())
    if err.strip():
        lab.say("[stderr, last lines]\n" + "\n".join(err.rstrip().splitlines()[-3:]))
    child = [line.split()[-1] for line in out.splitlines() if line.startswith("child exitcode")]
    return {
        "dummy_printed": "Dummy" in out.splitlines(),
        "script_exit": result["returncode"],
        "child_exitcode": int(child[0]) if child else "never reported",
        "bootstrapping_error": "bootstrapping phase" in err,
        "parent_error": lab.last_error(err) if result["returncode"] else "none",
        "module_body_runs": out.splitlines().count("module body runs"),
    }


def main(ctx):
    method = lab.method()
    for key, value in run("unguarded.py", method).items():
        lab.observe("unguarded_" + key, value)
    for key, value in run("guarded.py", method).items():
        lab.observe("guarded_" + key, value)


# %%
if __name__ == "__main__":
    lab.run(main)
