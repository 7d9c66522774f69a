# %% [markdown]
# # Daemon threads at interpreter exit
#
# From the course notebook, *Daemon=True* ("in Jupyter we can't simulate this behaviour")
# and `threading.enumerate()`. `snippets/daemon_threads.py` is the notebook's script: a
# worker loops printing "Dummy" while the main code ends. It runs twice, once with a
# daemon worker and once with a non-daemon one. Events replace the notebook's sleeps.

# %%
"""A daemon thread does not keep the process alive; a non-daemon thread does.

When the main code is done, the interpreter joins every *non-daemon* thread
(``threading._shutdown``) before it exits: the non-daemon worker leaves its loop after
"main: end of the script", and its ``finally`` runs. A *daemon* thread is abandoned: the
process exits while the worker is in the middle of its loop, and its ``finally`` never
runs ("their resources may not be released properly", say the docs). The same on every
version and start method (no process is started by the worker).

``threading.enumerate()`` lists the live threads with their daemon flag, in no promised
order, so the lab compares its (name, daemon) pairs as a sorted set. In a Jupyter
kernel the process never exits, and the kernel runs daemon threads of its own (heartbeat,
history saving), which is why the notebook could not show this.
"""
import ast
import threading

import labkit as lab

SNIPPET = lab.snippet("daemon_threads.py")


def idle(release):
    release.wait(lab.BOUND)


def in_this_process():
    """Two idle threads, one daemon, as threading.enumerate() shows them."""
    release = threading.Event()
    threads = [threading.Thread(target=idle, args=(release,), name=name, daemon=daemon)
               for name, daemon in (("idle-daemon", True), ("idle-non-daemon", False))]
    for t in threads:
        t.start()
    # Sorted: the docs promise what enumerate() lists, not in which order.
    live = sorted((t.name, t.daemon) for t in threading.enumerate())
    lab.say(f"{threading.current_thread().name = }: {threading.enumerate() = }")
    release.set()
    for t in threads:
        t.join(lab.BOUND)
    return [list(pair) for pair in live]


def main(ctx):
    lab.observe("this_process_enumerate", in_this_process())

    for kind in ("daemon", "non-daemon"):
        result = lab.run_script(SNIPPET, [kind])
        lines = result["stdout"].splitlines()
        lab.say(f"--- python snippets/daemon_threads.py {kind}: exit code {result['returncode']}")
        lab.say("\n".join(lines))
        if result["stderr"].strip():
            lab.say("[stderr]\n" + result["stderr"].rstrip())
        listed = [line for line in lines if line.startswith("enumerate: ")]
        key = kind.replace("-", "_")
        lab.observe(f"{key}_exit", result["returncode"])
        lab.observe(f"{key}_enumerate",  # as a sorted set: enumerate()'s order is not promised
                    sorted({tuple(pair) for pair in ast.literal_eval(listed[0][len("enumerate: "):])})
                    if listed else None)
        lab.observe(f"{key}_dummy_rounds", sum(line.startswith("worker: Dummy") for line in lines))
        lab.observe(f"{key}_worker_left_loop", "worker: left its loop" in lines)
        lab.observe(f"{key}_finally_ran", "worker: finally ran" in lines)
        end = lines.index("main: end of the script") if "main: end of the script" in lines else None
        lab.observe(f"{key}_worker_printed_after_main_ended",
                    end is not None and any(line.startswith("worker:") for line in lines[end + 1:]))


# %%
if __name__ == "__main__":
    lab.run(main)
