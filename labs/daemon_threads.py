# %% [markdown]
# # Daemon threads at interpreter exit
#
# From the course notebook, *Daemon=True* ("in Jupyter we can't simulate this behaviour")
# and `threading.enumerate()`. `snippets/daemon_threads.py` starts a worker that is still
# running when the script's last line is done, once as a daemon and once not.

# %%
"""A daemon thread does not keep the process alive; a non-daemon thread does.

At exit the interpreter joins every *non-daemon* thread (``threading._shutdown``), so the
non-daemon worker finishes its work, after "main: end of the script", and its ``finally``
runs. A *daemon* thread is abandoned: the process exits while it is blocked, and its
``finally`` never runs (its resources are not released properly, say the docs).
In a Jupyter kernel the process never exits, which is why the notebook could not show it.
"""
import os
import threading

import labkit as lab

SNIPPET = os.path.join(os.path.dirname(os.path.abspath(__file__)), "snippets", "daemon_threads.py")


def main(ctx):
    for kind in ("daemon", "non-daemon"):
        result = lab.run_script(SNIPPET, [kind])
        lines = result["stdout"].splitlines()
        lab.say(f"--- python snippets/daemon_threads.py {kind}: exit code {result['returncode']}")
        lab.say("\n".join(lines))
        key = kind.replace("-", "_")
        lab.observe(f"{key}_exit", result["returncode"])
        lab.observe(f"{key}_enumerate", lines[1] if len(lines) > 1 else None)
        lab.observe(f"{key}_worker_finished", "worker: finished its work" in lines)
        lab.observe(f"{key}_finally_ran", "worker: finally ran" in lines)
        lab.observe(f"{key}_worker_outlived_main",
                    "main: end of the script" in lines and "worker: finished its work" in lines
                    and lines.index("main: end of the script") < lines.index("worker: finished its work"))

    lab.observe("this_process_threads", [t.name for t in threading.enumerate()])


# %%
if __name__ == "__main__":
    lab.run(main)
