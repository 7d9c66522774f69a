# %% [markdown]
# # Pickling the target: what spawn and forkserver can send to a child
#
# From the course notebook, *multiprocessing → fork vs spawn*: `Process(target=dummy)` with a
# plain top-level `dummy`. Here the target is something less plain: a lambda, a function
# defined inside another function, a function defined under `if __name__ == "__main__":`,
# and a bound method of an object that holds a `threading.Lock`.

# %%
"""spawn and forkserver *pickle* the Process object (target, args) in the parent; fork does not.

Pickle stores a function *by reference*, as "module.qualified_name", and the child looks
the name up again. That fails for:

* a lambda: its name is ``<lambda>``, which no module attribute has ->
  ``PicklingError`` in the parent's ``start()``;
* a local function (``make_local.<locals>.local``): not reachable from its module ->
  ``AttributeError`` up to 3.13 (text "Can't pickle local object" ≤3.12, "Can't get local
  object" in 3.13), ``PicklingError`` from 3.14;
* an object holding a ``threading.Lock``: the lock itself cannot be pickled ->
  ``TypeError: cannot pickle '_thread.lock' object``;
* a function defined under the main guard: the *parent* can pickle it (``__main__`` has it),
  but the child imports the script again as ``__mp_main__``, where the guarded block never
  ran -> the *child* dies with ``AttributeError``, exit code 1 (3.14 words it differently).
  That case needs a real script as ``__main__``: ``snippets/pickling_target_guard.py``.

Under fork nothing is pickled: the child already has every object, so all of them run.
``Pool.map`` is different: it always pickles the function and its arguments, so a lambda
fails there *even under fork*.
"""
import ast
import re
import threading

import labkit as lab

GUARD_SNIPPET = lab.snippet("pickling_target_guard.py")

anonymous = lambda: None  # noqa: E731 -- the lesson is about lambdas


def top_level():
    pass


def make_local():
    def local():
        pass
    return local


class Holder:
    def __init__(self):
        self.lock = threading.Lock()

    def run(self):
        with self.lock:
            pass


def square(x):
    return x * x


def stable(message):
    """The message without addresses and file paths, which differ between runs and hosts."""
    message = re.sub(r" at 0x[0-9a-fA-F]+", "", message)
    return re.sub(r" from '[^']*'", "", message)


def try_target(ctx, target):
    child = ctx.Process(target=target)
    try:
        child.start()
    except Exception as exc:
        return "start:" + type(exc).__name__, stable(str(exc))
    lab.join(child)
    return ("ok" if child.exitcode == 0 else "child:exit%s" % child.exitcode), ""


def main(ctx):
    targets = [("top_level", top_level), ("lambda", anonymous),
               ("local", make_local()), ("lock_holder", Holder().run)]
    for name, target in targets:
        result, message = try_target(ctx, target)
        lab.say(f"{name:>12}: {result}" + (f"  ({message})" if message else ""))
        lab.observe(name + "_result", result)
        lab.observe(name + "_message", message)

    run = lab.run_script(GUARD_SNIPPET, [lab.method()])
    exitcode = ast.literal_eval(run["stdout"].splitlines()[-1])["exitcode"] if run["stdout"].strip() else None
    child_error = lab.last_error(run["stderr"]) or ""
    lines = [ln for ln in run["stderr"].splitlines() if child_error and ln.startswith(child_error + ":")]
    message = stable(lines[-1].split(":", 1)[1].strip()) if lines else ""
    result = "ok" if exitcode == 0 else "child:%s" % (child_error or "exit%s" % exitcode)
    lab.say(f"{'in_guard':>12}: {result}" + (f"  ({message})" if message else ""))
    lab.observe("in_guard_result", result)
    lab.observe("in_guard_message", message)
    lab.observe("in_guard_exitcode", exitcode)

    with ctx.Pool(1) as pool:
        try:
            pool.map(anonymous, [1])
            pool_result = "ok"
        except Exception as exc:
            pool_result = type(exc).__name__
        lab.observe("pool_map_square", pool.map(square, [3]))
    lab.say(f"Pool.map(lambda): {pool_result}; Pool.map(square, [3]) works")
    lab.observe("pool_map_lambda", pool_result)


# %%
if __name__ == "__main__":
    lab.run(main)
