# %% [markdown]
# # asyncio and threads
#
# An event loop runs in one thread and is not thread-safe. Another thread that wants the
# loop to do something must say so with `call_soon_threadsafe` (or
# `run_coroutine_threadsafe`); plain `call_soon` queues the callback but does not wake a
# loop that is waiting for I/O. A blocking call in a coroutine stops the whole loop;
# `asyncio.to_thread` moves it to a thread. Every thread may run a loop of its own.
#
# Each step waits on an Event with a bound, so the lab proves "did not happen within the
# bound" rather than guessing with sleeps.

# %%
"""An event loop is woken only by ``call_soon_threadsafe``, and blocked by any blocking call.

1. The loop waits in ``select()`` (a future nobody completes, under a 5 s bound). Another
   thread, once it sees the loop's thread inside the selector's ``select``, calls
   ``loop.call_soon(callback)``: the callback is queued, but nothing wakes the loop, so it
   has not run 0.5 s later. ``call_soon_threadsafe`` also writes to the loop's self-pipe:
   the loop wakes and runs the callback (and the one queued before it) at once. With
   debug mode on, plain ``call_soon`` from another thread raises ``RuntimeError:
   Non-thread-safe operation invoked on an event loop other than the current one``.
2. ``asyncio.to_thread(f)`` runs ``f`` in a worker thread and awaits its result;
   ``asyncio.run_coroutine_threadsafe(coro, loop)`` hands a coroutine to the loop from
   another thread and returns a ``concurrent.futures.Future``.
3. A heartbeat task ticks. A coroutine that calls a blocking function (here a bounded
   ``Event.wait`` that only the heartbeat could end) stops the loop: the heartbeat cannot
   tick, the wait runs out, and the heartbeat shows a gap as long as the block. The same
   function under ``to_thread`` ends at once, because the heartbeat keeps running.
4. One loop per thread: two threads each ``asyncio.run`` their own loop at the same
   time (they meet at a Barrier inside their coroutines); a thread with no loop gets
   ``RuntimeError: There is no current event loop in thread '...'`` from
   ``get_event_loop()``; ``asyncio.run`` inside a running loop is refused.

No process is started: the start method does not matter. See the asyncio docs,
"Developing with asyncio → Concurrency and Multithreading".
"""
import asyncio
import sys
import threading
import time

import labkit as lab

#: The heartbeat's period.
TICK = 0.01


def loop_is_in_select(thread_id):
    """Is the thread ``thread_id`` inside a selector's ``select()`` right now?"""
    frame = sys._current_frames().get(thread_id)
    return (frame is not None and frame.f_code.co_name == "select"
            and frame.f_code.co_filename.endswith("selectors.py"))


def wait_until_in_select(thread_id):
    """Bounded: until the loop's thread sleeps in ``select()``; each look waits on an
    Event nobody sets, so this thread gives the loop its time to get there."""
    deadline = time.monotonic() + lab.BOUND
    pause = threading.Event()
    while not loop_is_in_select(thread_id):
        if time.monotonic() > deadline:
            raise RuntimeError("the loop never went to sleep in select()")
        pause.wait(0.001)


# ---------------------------------------------------------------- 1. waking a loop


async def wake_probe(how):
    """The loop sleeps; another thread schedules a callback with ``how``. What happens?"""
    loop = asyncio.get_running_loop()
    loop_thread = threading.get_ident()
    ran = threading.Event()
    report = {}

    def callback():
        ran.set()

    def other_thread():
        try:
            wait_until_in_select(loop_thread)
            try:
                getattr(loop, how)(callback)
            except RuntimeError as exc:
                report["raised"] = lab.describe_error(exc)
                return
            report["ran_within_stuck"] = ran.wait(lab.STUCK)
            if not report["ran_within_stuck"]:
                loop.call_soon_threadsafe(lambda: None)  # now wake it, the right way
                report["ran_after_threadsafe_wakeup"] = ran.wait(lab.BOUND)
        finally:
            loop.call_soon_threadsafe(finished.set_result, None)

    finished = loop.create_future()
    helper = threading.Thread(target=other_thread, name="other")
    helper.start()
    await asyncio.wait_for(finished, lab.BOUND)  # the loop sleeps in select() here
    helper.join(lab.BOUND)
    return report


# ------------------------------------------------------- 2. to_thread, run_coroutine_threadsafe


def blocking_work(x):
    return x * 2, threading.current_thread().name


async def in_loop(x):
    return x + 1, threading.current_thread().name


async def handoffs():
    loop = asyncio.get_running_loop()
    me = threading.current_thread().name
    value, where = await asyncio.to_thread(blocking_work, 21)
    lab.say(f"to_thread: blocking_work(21) = {value}, in thread {where!r} (the loop runs in {me!r})")
    lab.observe("to_thread_result", value)
    lab.observe("to_thread_ran_off_loop_thread", where != me)

    result = {}

    def from_other_thread():
        future = asyncio.run_coroutine_threadsafe(in_loop(41), loop)
        result["value"], result["where"] = future.result(lab.BOUND)

    helper = threading.Thread(target=from_other_thread, name="submitter")
    helper.start()
    await asyncio.to_thread(helper.join, lab.BOUND)  # keep the loop free while we wait
    lab.say(f"run_coroutine_threadsafe from 'submitter': in_loop(41) = {result['value']}, "
            f"ran in thread {result['where']!r}")
    lab.observe("run_coroutine_threadsafe_result", result["value"])
    lab.observe("run_coroutine_threadsafe_ran_on_loop_thread", result["where"] == me)


# ------------------------------------------------------------- 3. a blocking call stalls


async def heartbeat(beats, ticked, stop):
    while not stop.is_set():
        beats.append(time.monotonic())
        ticked.set()
        await asyncio.sleep(TICK)  # the heartbeat's period; nothing waits on it


def wait_for_heartbeat(ticked, bound):
    """A blocking call: wait (bounded) until the heartbeat ticks again."""
    ticked.clear()
    return ticked.wait(bound)


async def stall(offload):
    beats, ticked, stop = [], threading.Event(), threading.Event()
    task = asyncio.ensure_future(heartbeat(beats, ticked, stop))
    await asyncio.wait_for(asyncio.to_thread(ticked.wait, lab.BOUND), lab.BOUND)  # it beats
    began = time.monotonic()
    if offload:
        beat_during_call = await asyncio.to_thread(wait_for_heartbeat, ticked, lab.BOUND)
    else:
        beat_during_call = wait_for_heartbeat(ticked, lab.STUCK)  # blocks the loop itself
    call_s = time.monotonic() - began
    await asyncio.to_thread(ticked.wait, lab.BOUND)  # one more beat after the call
    stop.set()
    await asyncio.wait_for(task, lab.BOUND)
    gap = max(b - a for a, b in zip(beats, beats[1:]))
    return beat_during_call, call_s, gap


# ------------------------------------------------------------------ 4. one loop per thread


def loops_per_thread():
    meet = threading.Barrier(2)
    seen = {}

    async def own_loop():
        loop = asyncio.get_running_loop()
        meet.wait(lab.BOUND)  # both loops are running now, each in its own thread
        return id(loop), loop.is_running()

    def runner():
        seen[threading.current_thread().name] = asyncio.run(own_loop())

    threads = [threading.Thread(target=runner, name=f"loop-{i}") for i in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(lab.BOUND)
    loops = {loop_id for loop_id, _ in seen.values()}
    lab.say(f"two threads, each asyncio.run(): {len(seen)} ran, {len(loops)} distinct loops, "
            f"running at the same time (they met at a Barrier)")
    lab.observe("threads_with_own_loop", len(seen))
    lab.observe("distinct_loops", len(loops))

    found = {}

    def no_loop():
        try:
            asyncio.get_event_loop()
            found["get_event_loop"] = "a loop"
        except RuntimeError as exc:
            found["get_event_loop"] = lab.describe_error(exc)

    helper = threading.Thread(target=no_loop, name="no-loop")
    helper.start()
    helper.join(lab.BOUND)
    lab.say(f"get_event_loop() in a thread with no loop: {found['get_event_loop']}")
    lab.observe("get_event_loop_in_other_thread", found["get_event_loop"])


async def nested_run():
    coro = in_loop(0)  # never runs: asyncio.run refuses to start a loop inside a loop
    try:
        asyncio.run(coro)
        return "ran"
    except RuntimeError as exc:
        return lab.describe_error(exc)
    finally:
        coro.close()


async def all_steps():
    for how in ("call_soon", "call_soon_threadsafe"):
        report = await wake_probe(how)
        lab.say(f"{how} from another thread while the loop sleeps: ran within {lab.STUCK} s: "
                f"{report['ran_within_stuck']}"
                + (f"; after a call_soon_threadsafe wake-up: {report['ran_after_threadsafe_wakeup']}"
                   if "ran_after_threadsafe_wakeup" in report else ""))
        lab.observe(f"{how}_ran_while_loop_slept", report["ran_within_stuck"])
        if how == "call_soon":
            lab.observe("call_soon_ran_after_wakeup", report.get("ran_after_threadsafe_wakeup"))
    loop = asyncio.get_running_loop()
    loop.set_debug(True)
    try:
        report = await wake_probe("call_soon")
    finally:
        loop.set_debug(False)
    lab.say(f"call_soon from another thread in debug mode: {report.get('raised', 'no error')}")
    lab.observe("call_soon_other_thread_debug", report.get("raised", "no error"))

    await handoffs()

    for offload in (False, True):
        beat, call_s, gap = await stall(offload)
        name = "to_thread" if offload else "blocking"
        lab.say(f"{name}: the heartbeat ticked during the call: {beat}; the call took "
                f"{call_s * 1000:.0f} ms; the longest heartbeat gap was {gap * 1000:.0f} ms")
        lab.observe(f"{name}_heartbeat_ticked_during_call", beat)
        if not offload:
            lab.observe("blocking_gap_at_least_call", gap >= lab.STUCK)
    lab.observe("nested_asyncio_run", await nested_run())


def main(ctx):
    asyncio.run(all_steps())
    loops_per_thread()


# %%
if __name__ == "__main__":
    lab.run(main)
