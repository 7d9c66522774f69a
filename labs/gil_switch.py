# %% [markdown]
# # The GIL switch: is there a GIL, and who can turn it on?
#
# CPython 3.13 can be built without the global interpreter lock (free threading, PEP 703;
# experimental in 3.13, supported from 3.14 by PEP 779). This image matrix has one such
# build, `py3.13t`. This lab asks every interpreter what it is and what the switches do.

# %%
"""Free-threaded builds run with the GIL off; an extension that has not declared support turns it on.

* ``sysconfig.get_config_var("Py_GIL_DISABLED")`` says how the interpreter was *built*:
  1 for a free-threaded build (``--disable-gil``), 0 for a GIL build of 3.13+, and nothing
  (None) before 3.13.
* ``sys._is_gil_enabled()`` (3.13+) says whether the GIL is on *now*.
* ``PYTHON_GIL=0|1`` and ``-X gil=0|1`` choose at start-up (``-X`` wins). A free-threaded
  build obeys both; a GIL build of 3.13+ accepts ``1`` and refuses ``0`` with a fatal error
  ("Disabling the GIL is not supported by this build"); before 3.13 they mean nothing.
* A free-threaded build turns the GIL back on, at run time, when it imports a C extension
  that has not declared that it can run without it (``Py_mod_gil``), and says so with a
  ``RuntimeWarning`` naming the module. ``PYTHON_GIL=0`` (or ``-X gil=0``) keeps it off,
  at your own risk. The free-threading HOWTO
  (https://docs.python.org/3/howto/free-threading-python.html) describes both.

The extension is the labs' own single-phase module (``lab_singlephase.c``, beside this
file), built into every image. On a GIL build there is nothing to switch, so the import
questions are asked only of a free-threaded build.

Each question runs in a fresh interpreter (``snippets/gil_probe.py``): once the GIL is on,
nothing in the process turns it off again.
"""
import os
import sys
import sysconfig

import labkit as lab

PROBE = lab.snippet("gil_probe.py")


def probe(env=None, flags=(), args=()):
    """The probe's report in a fresh interpreter, or ``fatal: <reason>`` if it refused to start."""
    result = lab.run_script(PROBE, list(args), env=env, python_flags=list(flags))
    if result["returncode"] != 0:
        fatal = [ln for ln in result["stderr"].splitlines() if ln.startswith("Fatal Python error:")]
        if fatal:
            return "fatal: " + fatal[-1].rsplit(": ", 1)[-1]
    return lab.snippet_report(result)


def main(ctx):
    built = sysconfig.get_config_var("Py_GIL_DISABLED")
    lab.say(f"Py_GIL_DISABLED = {built!r}  (how this interpreter was built)")
    lab.observe("py_gil_disabled", "undefined" if built is None else built)
    enabled = getattr(sys, "_is_gil_enabled", None)  # new in 3.13
    lab.say(f"sys._is_gil_enabled() here: {enabled() if enabled else 'n/a'}  "
            f"(PYTHON_GIL={os.environ.get('PYTHON_GIL', 'unset')})")
    lab.observe("gil_enabled", enabled() if enabled else "n/a")
    os.environ.pop("PYTHON_GIL", None)  # each probe below says what it wants

    for name, env, flags in [("env_gil_1", {"PYTHON_GIL": "1"}, ()), ("env_gil_0", {"PYTHON_GIL": "0"}, ()),
                             ("x_gil_1", {}, ("-X", "gil=1")), ("x_gil_0", {}, ("-X", "gil=0"))]:
        seen = probe(env, flags)
        value = seen if isinstance(seen, str) else seen["gil"]
        lab.say(f"{' '.join(f'{k}={v}' for k, v in env.items()) or 'python ' + ' '.join(flags)}: {value}")
        lab.observe(name, value)

    cases = [("import", {}), ("import_env_gil_0", {"PYTHON_GIL": "0"}), ("import_env_gil_1", {"PYTHON_GIL": "1"})]
    if not built:
        lab.say("a GIL build: the GIL is always on, so no import can switch it (the import questions are skipped)")
        for name, _ in cases:
            lab.observe(name, "GIL build")
        return
    for name, env in cases:
        seen = probe(env, args=["import"])
        if seen.get("ext") == "not built":
            lab.say("lab_singlephase is not built here (the images build it; a host Python has no copy)")
            lab.outcome("unavailable")
            return
        lab.say(f"import lab_singlephase ({name}): {seen}")
        warned = [category for category, message in seen["warnings"] if "'lab_singlephase'" in message]
        lab.observe(name, {"gil_before": seen["gil"], "gil_after": seen["gil_after"],
                           "warning_naming_the_module": warned[0] if warned else "none"})


# %%
if __name__ == "__main__":
    lab.run(main)
