"""Ask multiprocessing about its start method in a fresh interpreter; print one dict literal.

    python default_method_probe.py fresh|threadpool|fork_first|spawn_child

Every scenario needs its own interpreter, because the first call that *locks in* the
start method cannot be undone (only set_start_method(..., force=True) overrides it).
None is printed as the string "None". (A dict literal rather than JSON: importing json costs
more than the rest of this script.)
"""
import multiprocessing as mp
import sys


def noop():
    pass


def attempt(call, *args):
    try:
        call(*args)
    except Exception as exc:
        return "%s: %s" % (type(exc).__name__, exc)
    return "ok"


def chosen():
    # allow_none=True only *asks*; it never locks the default in.
    return str(mp.get_start_method(allow_none=True))


def main(scenario):
    out = {"chosen_at_start": chosen()}
    if scenario == "fresh":
        out["all_start_methods"] = mp.get_all_start_methods()
        out["chosen_after_get_all_start_methods"] = chosen()
        mp.get_context()  # no argument: "the default context" -- this locks it in
        out["chosen_after_get_context"] = chosen()
        out["set_spawn_after_get_context"] = attempt(mp.set_start_method, "spawn")
    elif scenario == "threadpool":
        from multiprocessing.pool import ThreadPool

        with ThreadPool(1) as pool:  # threads only, yet Pool.__init__ calls get_context()
            pool.map(abs, [-1])
        out["chosen_after_threadpool"] = chosen()
        out["set_spawn_after_threadpool"] = attempt(mp.set_start_method, "spawn")
    elif scenario == "fork_first":
        out["set_fork_first"] = attempt(mp.set_start_method, "fork")
        out["chosen_after_set_fork"] = chosen()
    elif scenario == "spawn_child":
        child = mp.get_context("spawn").Process(target=noop)
        child.start()
        child.join(10)
        out["spawn_child_exitcode"] = child.exitcode
        out["chosen_after_spawn_child"] = chosen()
    else:
        raise SystemExit("unknown scenario %r" % scenario)
    print(repr(out))


if __name__ == "__main__":
    main(sys.argv[1])
