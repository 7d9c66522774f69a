"""Run labs as real scripts, each under a bound, and print one JSON result per run.

    python -m labkit.runner [--timeout S] [--labs-dir DIR] LAB:METHOD [LAB:METHOD ...]
    python -m labkit.runner --list

Stdlib only, so it runs on any image's bare interpreter. The driver runs it inside each
container (one ``docker exec`` per image for a whole batch), and the host-only tests run
it on the host. The bound is enforced here, next to the lab: a lab still running after
``--timeout`` seconds has its whole process group killed and becomes ``timeout``.

Each result line is a JSON object: lab, method, outcome, obs (key -> value), returncode,
duration_s, cpu_s (the CPU seconds of the lab and the children it waited for), stdout and
stderr. ``obs`` keeps the last value of a key; ``obs_all`` keeps every value, for keys
emitted more than once.
"""

import ast
import json
import os
import signal
import subprocess
import sys
import time

try:
    import resource
except ImportError:  # Windows
    resource = None

from labkit import CELL_TIMEOUT, METHODS, OBS_PREFIX, OUTCOME_PREFIX, kill_group, last_error

LABS_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def list_labs(labs_dir=LABS_DIR):
    return sorted(
        name[:-3] for name in os.listdir(labs_dir)
        if name.endswith(".py") and not name.startswith(("_", "."))
    )


def classify(returncode, stdout, stderr, timed_out):
    if timed_out:
        return "timeout"
    if returncode is not None and returncode < 0:
        try:
            return "crash:" + signal.Signals(-returncode).name
        except ValueError:
            return "crash:%d" % -returncode
    reported = [ln[len(OUTCOME_PREFIX):].strip() for ln in stdout.splitlines()
                if ln.startswith(OUTCOME_PREFIX)]
    if reported:
        return reported[-1]
    if returncode == 0:
        return "error:NoOutcomeReported"
    return "error:" + (last_error(stderr) or "ExitCode%d" % returncode)


def parse_obs(stdout):
    obs, obs_all = {}, {}
    for line in stdout.splitlines():
        if line.startswith(OBS_PREFIX):
            try:
                item = ast.literal_eval(line[len(OBS_PREFIX):])
            except (ValueError, SyntaxError):
                continue
            obs[item["key"]] = item["value"]
            obs_all.setdefault(item["key"], []).append(item["value"])
    return obs, {k: v for k, v in obs_all.items() if len(v) > 1}


def children_cpu_s():
    """CPU seconds of the waited-for children so far (the lab and every process it waited
    for); None where the resource module is missing (Windows)."""
    if resource is None:
        return None
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_cell(lab, method, timeout, labs_dir=LABS_DIR):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    cpu_before = children_cpu_s()
    start = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, os.path.join(labs_dir, lab + ".py"), "--start-method", method],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
        start_new_session=True, cwd=labs_dir, text=True, errors="replace",
    )
    timed_out = False
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        kill_group(proc)
        stdout, stderr = proc.communicate()
    duration = time.monotonic() - start
    # The lab's children (a forkserver, a resource tracker, a stuck child) are in its
    # process group: kill the group once more so nothing outlives the cell.
    kill_group(proc)
    cpu_after = children_cpu_s()
    obs, obs_all = parse_obs(stdout)
    return {
        "lab": lab, "method": method,
        "outcome": classify(proc.returncode, stdout, stderr, timed_out),
        "obs": obs, "obs_all": obs_all,
        "returncode": None if timed_out else proc.returncode,
        "duration_s": round(duration, 3),
        "cpu_s": None if cpu_before is None else round(cpu_after - cpu_before, 3),
        "stdout": stdout, "stderr": stderr,
    }


def header():
    """What every report shows of the interpreter: its exact version, and (3.13+) whether it
    is a free-threaded build (``Py_GIL_DISABLED``, PEP 703) and whether the GIL is on now."""
    import sysconfig
    gil_enabled = getattr(sys, "_is_gil_enabled", None)
    return {"header": True, "python": sys.version, "executable": sys.executable,
            "version_info": list(sys.version_info[:3]), "pid": os.getpid(),
            "py_gil_disabled": sysconfig.get_config_var("Py_GIL_DISABLED"),
            "gil_enabled": gil_enabled() if gil_enabled else None}


def main(argv=None):
    args = list(sys.argv[1:] if argv is None else argv)
    timeout, labs_dir, cells = CELL_TIMEOUT, LABS_DIR, []
    while args:
        arg = args.pop(0)
        if arg == "--timeout":
            timeout = float(args.pop(0))
        elif arg == "--labs-dir":
            labs_dir = args.pop(0)
        elif arg == "--list":
            print("\n".join(list_labs(labs_dir)))
            return 0
        else:
            cells.append(arg)
    known = list_labs(labs_dir)
    for cell in cells:
        lab, _, method = cell.partition(":")
        if lab not in known or method not in METHODS:
            sys.stderr.write("runner: bad cell %r; labs: %s; methods: %s\n"
                             % (cell, ", ".join(known), ", ".join(METHODS)))
            return 2
    print(json.dumps(header()), flush=True)
    for cell in cells:
        lab, _, method = cell.partition(":")
        print(json.dumps(run_cell(lab, method, timeout, labs_dir)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
