# %% [markdown]
# # `set_forkserver_preload(..., on_error=...)`: when a preload fails
#
# The fork server can import modules once, so that every child it forks has them
# already (`set_forkserver_preload`). What if one of them fails to import? Up to 3.14 the
# server ignores it silently. 3.15 adds `on_error`: `'ignore'` (the default), `'warn'` or
# `'fail'`. Each case runs in a fresh interpreter (`snippets/forkserver_preload.py`),
# because the list must be set before the server starts. Before 3.15 the keyword does not
# exist: the lab shows the TypeError and is `unavailable`.

# %%
"""From 3.15, ``set_forkserver_preload(modules, on_error=...)`` says what a failed preload does.

The snippet preloads a module that does not exist, then starts one forkserver child:

* ``'ignore'``: nothing is said; the child runs (exit code 0), as before 3.15.
* ``'warn'``: the server issues an ``ImportWarning``, "Failed to preload module
  '<name>': No module named '<name>'", and the child runs. ``ImportWarning`` is ignored
  by the default warning filters, so it shows only with e.g. ``-W always::ImportWarning``
  (the server gets the parent's ``-W`` options): without it, ``'warn'`` looks like
  ``'ignore'``.
* ``'fail'``: the server re-raises the ``ModuleNotFoundError`` and dies, so the parent's
  ``start()`` fails: ``ConnectionResetError: [Errno 104] Connection reset by peer``, with
  the note "Forkserver process may have crashed during module preloading. Check stderr."

The run's start method does not matter: the snippet always uses forkserver. See the
multiprocessing docs, ``set_forkserver_preload`` (gh-141860).
"""
import multiprocessing

import labkit as lab

SNIPPET = lab.snippet("forkserver_preload.py")
MISSING = "no_such_module_for_the_lab"
WARNED = f"ImportWarning: Failed to preload module '{MISSING}': No module named '{MISSING}'"
FAILED = f"ModuleNotFoundError: No module named '{MISSING}'"


def main(ctx):
    if "forkserver" not in multiprocessing.get_all_start_methods():
        lab.say("this platform has no forkserver")
        lab.outcome("unavailable")
        return
    try:
        # Only sets what a fork server started later would preload; none is started here.
        multiprocessing.get_context("forkserver").set_forkserver_preload(["__main__"], on_error="ignore")
        keyword = "ok"
    except TypeError as exc:
        keyword = lab.describe_error(exc)
    lab.say(f"set_forkserver_preload(['__main__'], on_error='ignore'): {keyword}")
    lab.observe("on_error_keyword", keyword)
    if keyword != "ok":
        lab.outcome("unavailable")
        return
    for name, on_error, flags in (("ignore", "ignore", ()), ("warn", "warn", ()),
                                  ("warn_shown", "warn", ("-W", "always::ImportWarning")),
                                  ("fail", "fail", ())):
        result = lab.run_script(SNIPPET, [on_error], python_flags=flags)
        started = lab.snippet_report(result)["start"]
        said = [line for line in (WARNED, FAILED) if line in result["stderr"]]
        lab.say(f"on_error={on_error!r} {' '.join(flags)}: start() -> {started}; "
                f"the server said: {said or 'nothing'}")
        lab.observe(f"{name}_start", started)
        lab.observe(f"{name}_server_said", said)


# %%
if __name__ == "__main__":
    lab.run(main)
