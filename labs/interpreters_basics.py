# %% [markdown]
# # Subinterpreters: one process, several isolated interpreters
#
# Python 3.14 made them public: `concurrent.interpreters` (PEP 734). An interpreter has
# its own modules, its own `__main__` and, since 3.12, its own GIL (PEP 684). Here we
# create one, `exec` code in it, `call` a function in it, and see what crosses between
# interpreters and what does not. Before 3.14 the module does not exist: the lab says so
# and is `unavailable`.

# %%
"""Each interpreter has its own modules: nothing is shared unless it is passed.

* ``interp.exec(code)`` runs code in the interpreter's own ``__main__``: a global of
  the main interpreter is not there, and a global set there does not change ours.
* ``interp.call(func, *args)`` runs a function there and returns its result. A function
  of our ``__main__`` travels by reference (pickle), so the interpreter runs the main
  script again to find it, as a spawn child does, under the name ``<fake __main__>``:
  it sees the script's import-time globals, not our run-time values.
* What can cross: the *shareable* types (``None``, ``bool``, ``int``, ``float``,
  ``str``, ``bytes``, tuples of them, ``memoryview``, queues, ...) are passed by
  ``prepare_main`` and by an interpreters ``Queue``. A queue also pickles what it can
  (a list arrives as a copy); ``prepare_main`` does not. What cannot cross raises
  ``concurrent.interpreters.NotShareableError`` (a ``TypeError``): "``<obj>`` does not
  support cross-interpreter data".
* An exception inside the interpreter reaches us as ``ExecutionFailed``, whose message
  is the original ``Type: message``.

The start method does not matter: no process is started. See the docs section
"concurrent.interpreters" and PEP 734.
"""
import re
import threading

import labkit as lab

#: A global of this script. Its import-time value is 1; main() sets it to 42 at run time.
SETTING = 1


def square(x):
    return x * x


def where_am_i():
    """Run in the subinterpreter by call(): which module is this, and what does it see?"""
    return __name__, SETTING


def normalized(exc):
    """``Type: message`` with object addresses (0x7f...) written as 0x…, for comparison."""
    return re.sub(r"0x[0-9a-f]+", "0x…", lab.describe_error(exc))


def main(ctx):
    global SETTING
    try:
        from concurrent import interpreters
    except ImportError as exc:
        # "... from 'concurrent' (/usr/lib/python3.X/concurrent/__init__.py)": drop the path.
        lab.say(lab.describe_error(exc))
        lab.observe("interpreters_import", lab.describe_error(exc).split(" (")[0])
        lab.outcome("unavailable")
        return
    lab.observe("interpreters_import", "ok")
    SETTING = 42
    interp = interpreters.create()
    try:
        queue = interpreters.create_queue()
        interp.prepare_main(queue=queue)

        # exec: its own __main__, its own globals.
        interp.exec("queue.put(__name__)\n"
                    "queue.put('SETTING' in globals())\n"
                    "SETTING = 2\n"
                    "queue.put(SETTING)\n")
        name, sees_ours, theirs = (queue.get(timeout=lab.BOUND) for _ in range(3))
        lab.say(f"exec: the interpreter's __name__ is {name!r}; our SETTING visible there: "
                f"{sees_ours}; it set its own to {theirs}; ours is still {SETTING}")
        lab.observe("exec_name", name)
        lab.observe("exec_sees_main_global", sees_ours)
        lab.observe("exec_set_global", theirs)
        lab.observe("main_global_after_exec", SETTING)

        # call: a function runs there and its result comes back.
        lab.observe("call_square_7", interp.call(square, 7))
        module, setting = interp.call(where_am_i)
        lab.say(f"call: square(7) ran there; where_am_i() ran in module {module!r}, which "
                f"sees SETTING = {setting} (ours is {SETTING})")
        lab.observe("call_module_name", module)
        lab.observe("call_sees_setting", setting)

        # Shareable values through the queue: the interpreter sends back what it got.
        # (exec() returns when the code has run, so the item goes in first.)
        sent = ("hello", 1, 2.5, b"x", None, True)
        queue.put(sent)
        interp.exec("item = queue.get(timeout=5)\n"
                    "queue.put((type(item).__name__, item))\n")
        kind, back = queue.get(timeout=lab.BOUND)
        lab.say(f"queue: sent {sent!r}, the interpreter got a {kind} and sent back {back!r}")
        lab.observe("queue_roundtrip_equal", back == sent)
        lab.observe("queue_roundtrip_is_same_object", back is sent)

        # A list: the queue pickles it (a copy arrives); prepare_main refuses it.
        queue.put([1, 2])
        interp.exec("queue.put(queue.get(timeout=5) + [3])")
        lab.observe("queue_list_plus_3", queue.get(timeout=lab.BOUND))
        lab.observe("prepare_main_list", attempt(lambda: interp.prepare_main(items=[1, 2])))
        lab.observe("prepare_main_object", attempt(lambda: interp.prepare_main(obj=object())))
        lab.observe("queue_put_lock", attempt(lambda: queue.put(threading.Lock())))
        lab.observe("not_shareable_is_type_error", issubclass(interpreters.NotShareableError, TypeError))

        # An exception in the interpreter, as we see it.
        try:
            interp.exec("raise ValueError('boom')")
            failed = "no exception"
        except interpreters.ExecutionFailed as exc:
            failed = lab.describe_error(exc)
        lab.say(f"exec of raise ValueError('boom'): {failed}")
        lab.observe("exec_raises", failed)
    finally:
        interp.close()


def attempt(action):
    """``ok``, or the normalized ``Type: message`` of what the action raised."""
    try:
        action()
    except Exception as exc:  # the exact exception is the observation
        lab.say(f"  raised {normalized(exc)}")
        return normalized(exc)
    return "ok"


# %%
if __name__ == "__main__":
    lab.run(main)
