# %% [markdown]
# # Subinterpreters: an old-style C extension cannot come in
#
# `lab_singlephase` is a tiny C extension of this lab's own, built in the image
# (`lab_singlephase.c`, beside this lab). It initialises the old way, in a single phase, and
# keeps its state in a C global. The main interpreter imports it as usual; an isolated
# subinterpreter (`concurrent.interpreters`, 3.14+) refuses it. A standard-library
# extension that uses multi-phase initialisation (`_csv`) imports in both.

# %%
"""A single-phase-init extension module cannot be imported in an isolated subinterpreter.

A module initialised in a single phase (``PyModule_Create`` in its ``PyInit_``
function, no module slots) has one set of C-level state for the whole process. An
isolated interpreter (its own GIL, PEP 684) accepts only modules that declare support
(multi-phase init, PEP 489, and the ``Py_mod_multiple_interpreters`` slot). Importing
``lab_singlephase`` there raises ``ImportError: module lab_singlephase does not support
loading in subinterpreters``, which reaches the main interpreter as
``concurrent.interpreters.ExecutionFailed``. The same module imports fine in the main
interpreter, and ``_csv`` (multi-phase) imports in both.

The start method does not matter: no process is started. See PEP 734, PEP 684 and the
C API docs, "Isolating Extension Modules".
"""
import labkit as lab

EXTENSION = "lab_singlephase"


def main(ctx):
    try:
        from concurrent import interpreters
    except ImportError as exc:
        lab.say(lab.describe_error(exc).split(" (")[0] + ": no public subinterpreters before 3.14")
        lab.observe("interpreters_import", lab.describe_error(exc).split(" (")[0])
        lab.outcome("unavailable")
        return
    lab.observe("interpreters_import", "ok")
    try:
        import lab_singlephase
    except ImportError as exc:  # e.g. on a host: only the images build it
        lab.say(f"{lab.describe_error(exc)}: the images build it (labs/lab_singlephase.c)")
        lab.observe("main_import", lab.describe_error(exc))
        lab.outcome("unavailable")
        return
    first = lab_singlephase.count()
    lab.say(f"main interpreter: import {EXTENSION} works; its C counter says {first}")
    lab.observe("main_import", "ok")
    lab.observe("main_count", first)
    interp = interpreters.create()
    try:
        lab.observe("sub_import_csv", import_in(interpreters, interp, "_csv"))
        lab.observe("sub_import_singlephase", import_in(interpreters, interp, EXTENSION))
    finally:
        interp.close()
    lab.observe("main_count_after", lab_singlephase.count())


def import_in(interpreters, interp, name):
    """``ok``, or what importing ``name`` in ``interp`` raised there (``Type: message``)."""
    try:
        interp.exec(f"import {name}")
    except interpreters.ExecutionFailed as exc:
        # ExecutionFailed's message is the original "Type: message", then the traceback.
        raised = str(exc).splitlines()[0]
        lab.say(f"subinterpreter: import {name} -> ExecutionFailed: {raised}")
        return raised
    lab.say(f"subinterpreter: import {name} works")
    return "ok"


# %%
if __name__ == "__main__":
    lab.run(main)
