# %% [markdown]
# # `Process.interrupt()`: Ctrl-C for one child
#
# New in 3.14: `Process.interrupt()` sends the child SIGINT, the signal of Ctrl-C. The
# child gets a `KeyboardInterrupt` where it is, and may clean up, unlike `terminate()`
# (SIGTERM), which ends it with no Python code run. Before 3.14 there is no such method:
# the lab says so and is `unavailable`.

# %%
"""``Process.interrupt()`` (3.14) raises KeyboardInterrupt in the child; ``terminate()`` kills it.

The child says it is ready (over a pipe) from inside its ``try`` block, then waits on an
Event, with a bound, that nobody sets. The parent then calls ``interrupt()``: the child's
wait ends in ``KeyboardInterrupt``, its ``except`` block reports it, and it exits
normally, exit code 0. The same child ended with ``terminate()`` runs no more Python
code: exit code ``-15`` (-SIGTERM) and no report. Both under the start method of this run.
See the multiprocessing docs, ``Process.interrupt`` (gh-131913).
"""
import labkit as lab


def child(conn, never):
    try:
        conn.send("ready")
        never.wait(lab.BOUND)  # nobody sets it: only a signal ends this wait early
        conn.send("wait ended without a signal")
    except KeyboardInterrupt:
        conn.send("KeyboardInterrupt")


def start_child(ctx):
    parent_end, child_end = ctx.Pipe()
    never = ctx.Event()  # kept here until the child has it (spawn unpickles it later)
    process = ctx.Process(target=child, args=(child_end, never))
    process.start()
    child_end.close()
    if not parent_end.poll(lab.BOUND) or parent_end.recv() != "ready":
        raise RuntimeError("the child never said it was ready")
    return process, parent_end


def report(process, conn):
    # Two bounds: an interrupted child that has already answered still has to exit (its
    # finalizers, and under forkserver the fork server reporting its exit code), which on
    # two loaded cores once took longer than one bound.
    finished = lab.join(process, timeout=2 * lab.BOUND)
    try:
        said = conn.recv() if conn.poll(0) else "nothing"
    except EOFError:  # the child closed its end without a word
        said = "nothing"
    return said, process.exitcode if finished else "still running"


def main(ctx):
    has = hasattr(ctx.Process, "interrupt")
    lab.observe("has_interrupt", has)
    process, conn = start_child(ctx)
    if has:
        process.interrupt()
        said, code = report(process, conn)
        lab.say(f"interrupt(): the child said {said!r}; exit code {code}")
        lab.observe("interrupt_child_said", said)
        lab.observe("interrupt_exitcode", code)
    process_t, conn_t = (process, conn) if not has else start_child(ctx)
    process_t.terminate()
    said, code = report(process_t, conn_t)
    lab.say(f"terminate(): the child said {said!r}; exit code {code}")
    lab.observe("terminate_child_said", said)
    lab.observe("terminate_exitcode", code)
    if not has:
        lab.say(f"{type(process).__name__} has no interrupt() before 3.14")
        lab.outcome("unavailable")


# %%
if __name__ == "__main__":
    lab.run(main)
