# %% [markdown]
# # The `__main__` guard under fork, spawn and forkserver
#
# From the course notebook, *multiprocessing → `__name__ == "__main__"`: fork vs spawn*,
# which says "in Jupyter we can't simulate this behaviour". Here each script really runs:
# `snippets/unguarded.py` (the notebook's cell, no guard) and `snippets/guarded.py` (with
# the guard), each as its own `__main__`, under the start method of this run.
#
# The lab's outcome is the unguarded script's fate: `ok` if it works, `error:RuntimeError`
# if its child dies while bootstrapping, or the parent's own crash (`error:EOFError`,
# `error:ConnectionResetError`).

# %%
"""Without ``if __name__ == "__main__":``, only fork works.

* **fork** copies the parent; the child runs ``dummy`` directly and prints ``Dummy``.
* **spawn** starts a fresh interpreter that imports the main script again (as
  ``__mp_main__``) to find ``dummy``. That import runs the module body, which starts a
  process *again*, while the child is still bootstrapping: ``RuntimeError: An attempt has
  been made to start a new process before the current process has finished its
  bootstrapping phase``. The child exits with 1; the parent goes on.
* **forkserver** up to 3.13.7 and 3.14.0: the same, in a child forked from the server.
  From 3.13.8 / 3.14.1 the *server* imports ``__main__`` first (gh-126631), hits the
  RuntimeError and dies, so the parent's ``start()`` crashes: ``EOFError`` (3.13) or
  ``ConnectionResetError`` (3.14, from its new authentication handshake). 3.15 ignores the
  preload error; the child then fails as under spawn, and the body has run 3 times.
* **default** is the platform's: fork on Linux up to 3.13, so the unguarded script works;
  forkserver from 3.14, so *the same script breaks*; spawn on macOS and Windows, always.

The traceback's frames show who runs the script again: under spawn
``spawn_main → _main → prepare → _fixup_main_from_path → runpy.run_path`` in the child;
under forkserver the server's ``main → _serve_one`` and then the same, or, where the
server preloads ``__main__``, ``main → import_main_path → _fixup_main_from_path →
run_path`` in the server itself. The lab shows every frame (without its source line).

With the guard, every method prints ``Dummy``; the module body (outside the guard) still
runs once more in every process that imports the script again.
From 3.11.7 / 3.12.1 the RuntimeError also points to the docs' "Safe importing of main
module" section (not yet in Debian's 3.11.2).
"""
import os
import re

import labkit as lab

SNIPPETS = lab.snippet()


FRAME = re.compile(r'^  File "(.+)", line (\d+), in (.+)$')


def frame_name(path, function):
    """``spawn._fixup_main_from_path``: a frame as module.function ("<frozen runpy>" is runpy)."""
    module = path[len("<frozen "):-1] if path.startswith("<frozen ") else os.path.basename(path)
    return (module[:-3] if module.endswith(".py") else module) + "." + function


def tracebacks(stderr):
    """The tracebacks in ``stderr``: for each, its frames and its exception lines (with a
    multi-line message), without the source lines and their ``^^^`` marks."""
    found, inside = [], False
    for line in stderr.rstrip().splitlines():
        frame = FRAME.match(line)
        if line.startswith("Traceback (most recent call last):"):
            found.append({"frames": [], "error": []})
            inside = False
        elif frame and found:
            found[-1]["frames"].append((frame.group(1), frame.group(2), frame.group(3)))
            inside = False
        elif line and not line[0].isspace():
            inside = bool(lab.last_error(line))
        if inside and found:
            found[-1]["error"].append(line)
    return found


def shown(stderr):
    """The tracebacks as the lab shows them: every frame as module.function and line, then
    the exception. The frames are the evidence of *who* ran the script's body again."""
    out = []
    for tb in tracebacks(stderr):
        out.append("Traceback (most recent call last):")
        out += [f"  {frame_name(path, function)}, line {line}" for path, line, function in tb["frames"]]
        out += tb["error"]
    return "\n".join(out)


def reimport_frames(stderr):
    """The frames of the traceback that runs the script again, from its first frame to the
    script's own module body: how a child (or the fork server) came to run it."""
    for tb in tracebacks(stderr):
        names = [frame_name(path, function) for path, _, function in tb["frames"]]
        if "runpy.run_path" in names:
            start = names.index("runpy.run_path")
            end = next((i for i in range(start, len(names)) if names[i].endswith(".<module>")), start)
            return names[:end + 1]
    return []


def run(name, method):
    result = lab.run_script(os.path.join(SNIPPETS, name), [method])
    out, err, code = result["stdout"], result["stderr"], result["returncode"]
    lab.say(f"--- python snippets/{name} {method}: exit code {code}")
    lab.say(out.rstrip())
    if err.strip():
        lab.say("[stderr, the tracebacks without their source lines]\n" + shown(err))
    lines = out.splitlines()
    child = [line.split()[-1] for line in lines if line.startswith("child exitcode")]
    bootstrapping = "bootstrapping phase" in err
    seen = {
        "dummy_printed": "Dummy" in lines,
        "script_exit": code,
        "child_exitcode": int(child[0]) if child else "never reported",
        "bootstrapping_error": bootstrapping,
        "parent_error": ("killed after timeout" if code is None else lab.last_error(err) or "unknown")
        if code != 0 else "none",
        "module_body_runs": lines.count("module body runs"),
    }
    if bootstrapping:  # observed only where the RuntimeError is printed
        seen["error_links_safe_importing"] = "Safe importing of main module" in err
        seen["reimport_frames"] = reimport_frames(err)
    return seen


def main(ctx):
    method = lab.method()
    unguarded = run("unguarded.py", method)
    for key, value in unguarded.items():
        lab.observe("unguarded_" + key, value)
    for key, value in run("guarded.py", method).items():
        lab.observe("guarded_" + key, value)

    if unguarded["script_exit"] is None:  # cannot happen: nothing in it waits without end
        lab.outcome("timeout")
    elif unguarded["script_exit"]:  # the parent itself crashed
        lab.outcome("error:" + unguarded["parent_error"])
    elif unguarded["bootstrapping_error"]:  # the parent went on; its child died
        lab.outcome("error:RuntimeError")
    lab.say(f"The unguarded script under {method}: "
            + ("it did not end within its bound" if unguarded["script_exit"] is None
               else "the parent crashed with " + unguarded["parent_error"] if unguarded["script_exit"]
               else "its child died with RuntimeError" if unguarded["bootstrapping_error"]
               else "works"))


# %%
if __name__ == "__main__":
    lab.run(main)
