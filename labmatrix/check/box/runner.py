"""scripts/check's in-container side: run one script under each of its cells, in order.

    python /opt/check/runner.py '<json spec>'

The spec names the script, its arguments, the bound per cell, the output cap and the
cells (a start method, plus environment such as ``PYTHON_GIL``). Each cell runs in its
own fresh working folder on the scratch tmpfs, with stdin at EOF, the start-method hook
(hook/sitecustomize.py) on ``PYTHONPATH``, and its own process group; one JSON line per
cell is printed. Classification is labkit's (labs/labkit/runner.py), so a cell reads like
a lab's: ok, error:<Type>, deadlock, timeout, crash:<signal>. A cell still running at its
bound is ``deadlock`` when nothing in it used CPU and a thread waits on a futex (a lock),
``timeout`` otherwise. Stdlib only; Python 3.9+.
"""

import json
import os
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.environ.get("CHECK_LABS", "/home/lab/labs"))
from labkit import kill_group, last_error  # noqa: E402
from labkit.runner import classify  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
HOOK = os.path.join(HERE, "hook")
SAMPLE_S = 0.3  # how long a hung cell is watched for CPU use before it is killed
DRAIN_S = 1.0  # how long output is still read after the script exited
#: A cell whose forks the container's pids limit refused this often is a fork bomb: it is
#: ended there rather than at its bound (the pids cgroup counts refusals in pids.events,
#: https://docs.kernel.org/admin-guide/cgroup-v2.html#pid-interface-files; v1 has it too).
BOMB_REFUSALS = 100
PIDS_EVENTS = ("/sys/fs/cgroup/pids.events", "/sys/fs/cgroup/pids/pids.events")


def pids_refused():
    """How many forks the container's pids limit has refused so far (0 if unknown)."""
    for path in PIDS_EVENTS:
        try:
            with open(path) as f:
                return int(f.read().split()[1])
        except (OSError, ValueError, IndexError):
            continue
    return 0


class Tail:
    """The last ``cap`` bytes of a stream, and how many bytes it had in all."""

    def __init__(self, cap):
        self.cap, self.data, self.total = cap, bytearray(), 0

    def add(self, chunk):
        self.total += len(chunk)
        self.data += chunk
        if len(self.data) > 2 * self.cap:
            del self.data[:-self.cap]

    def text(self):
        return bytes(self.data[-self.cap:]).decode(errors="replace")

    @property
    def cut(self):
        return self.total > self.cap


def _stat(pid):
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()


def _session_pids(sid):
    pids = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                if int(_stat(int(name))[3]) == sid:  # field 6: session id
                    pids.append(int(name))
            except (OSError, ValueError, IndexError):
                pass
    return pids


def _cpu_ticks(pids):
    total = 0
    for pid in pids:
        try:
            fields = _stat(pid)
            total += int(fields[11]) + int(fields[12])  # utime + stime
        except (OSError, ValueError, IndexError):
            pass
    return total


def _wchans(pids):
    seen = []
    for pid in pids:
        try:
            for tid in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{tid}/wchan") as f:
                    seen.append(f.read().strip())
        except OSError:
            pass
    return seen


def hang_kind(proc):
    """``deadlock`` if the cell's processes use no CPU and one waits on a futex, else ``timeout``."""
    pids = _session_pids(proc.pid)
    before = _cpu_ticks(pids)
    try:
        proc.wait(SAMPLE_S)  # a measurement window; it ends early if the script exits
        return "timeout", []
    except subprocess.TimeoutExpired:
        pass
    pids = _session_pids(proc.pid)
    waits = _wchans(pids)
    idle = _cpu_ticks(pids) == before
    return ("deadlock" if idle and any("futex" in w for w in waits) else "timeout"), sorted(set(waits))


def kill_strays(keep):
    """Kill every process of this container that a cell left (one that escaped its
    process group with setsid, or was orphaned), keeping the container's own."""
    for _ in range(50):  # bounded: a fork bomb may still be forking while it is killed
        strays = [int(n) for n in os.listdir("/proc") if n.isdigit() and int(n) not in keep]
        for pid in strays:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        if not strays:
            return


def run_cell(spec, cell, index, keep, scratch):
    workdir = os.path.join(scratch, f"{index}-{cell['name']}")
    os.makedirs(os.path.join(workdir, "tmp"))
    events = os.path.join(scratch, f"{index}.events")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONUNBUFFERED", "CHECK_LABS", "PYTHONPATH")}
    env.update(PYTHONPATH=HOOK, CHECK_EVENTS=events, CHECK_ROOT="1", HOME=workdir,
               TMPDIR=os.path.join(workdir, "tmp"))
    if cell["method"] != "default":
        env["CHECK_START_METHOD"] = cell["method"]
    env.update(cell.get("env", {}))
    out, err = Tail(spec["cap"]), Tail(spec["cap"])
    start = time.monotonic()
    deadline = start + spec["timeout"]
    try:
        proc = subprocess.Popen([sys.executable, spec["script"], *spec["args"]], cwd=workdir, env=env,
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                start_new_session=True)
    except OSError as exc:  # e.g. the pids limit is still exhausted
        return {"name": cell["name"], "outcome": "error:" + type(exc).__name__, "returncode": None,
                "duration_s": 0.0, "stdout": "", "stderr": f"{type(exc).__name__}: {exc}\n",
                "stdout_bytes": 0, "stderr_bytes": 0, "cut": [], "events": [], "waits": [], "pids_refused": 0,
                "ended_by_pids_limit": False}
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ, out)
    sel.register(proc.stderr, selectors.EVENT_READ, err)
    hung, waits, exited_at, refused_before, bomb = None, [], None, pids_refused(), False
    while sel.get_map():
        now = time.monotonic()
        if exited_at is None and pids_refused() - refused_before >= BOMB_REFUSALS:
            bomb = True
            break
        if exited_at is None and proc.poll() is not None:
            exited_at = now
        if exited_at is not None and now - exited_at > DRAIN_S:
            break  # the script is gone; a child of it still holds its pipes
        if exited_at is None and now >= deadline:
            hung, waits = hang_kind(proc)
            break
        for key, _ in sel.select(min(max(deadline - now, 0), 0.5)):
            chunk = os.read(key.fileobj.fileno(), 1 << 16)
            if chunk:
                key.data.add(chunk)
            else:
                sel.unregister(key.fileobj)
    kill_group(proc)  # the script's children (a fork server, a tracker, a stuck child) go too
    sel.close()
    proc.stdout.close()
    proc.stderr.close()
    returncode = proc.wait()
    duration = time.monotonic() - start
    kill_strays(keep)
    refused = pids_refused() - refused_before
    try:
        with open(events) as f:
            found = [json.loads(line) for line in f if line.strip()]
    except (OSError, ValueError):
        found = []
    shutil.rmtree(workdir, ignore_errors=True)  # the cell's files go with it (the tmpfs with the container)
    stderr = err.text()
    if hung:
        outcome, returncode = hung, None
    elif returncode == 0:
        outcome = "ok"
    else:
        outcome = classify(returncode, "", stderr, False)
    return {"name": cell["name"], "outcome": outcome, "returncode": returncode,
            "duration_s": round(duration, 3), "stdout": out.text(), "stderr": stderr,
            "stdout_bytes": out.total, "stderr_bytes": err.total,
            "cut": [name for name, t in (("stdout", out), ("stderr", err)) if t.cut],
            "events": found[:200], "waits": waits, "last_error": last_error(stderr),
            "pids_refused": refused, "ended_by_pids_limit": bomb}


def cells(methods, gils):
    """One cell per method and GIL mode (``gils``: [[mode, env], ...]; one mode "" with no
    environment on a GIL build)."""
    return [{"name": method + ("-gil-" + gil if gil else ""), "method": method, "gil": gil, "env": env}
            for method in methods for gil, env in gils]


def main(argv):
    spec = json.loads(argv[0])
    keep = {int(n) for n in os.listdir("/proc") if n.isdigit()} | {os.getpid()}
    import sysconfig
    free_threaded = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
    print(json.dumps({"header": True, "python": sys.version, "version_info": list(sys.version_info[:3]),
                      "free_threaded": free_threaded}), flush=True)
    scratch = tempfile.mkdtemp(prefix="run-", dir=spec["scratch"])  # this run's: a container serves many
    for index, cell in enumerate(cells(spec["methods"], spec["gils"])):
        result = run_cell(spec, cell, index, keep, scratch)
        result.update(method=cell["method"], gil=cell["gil"])
        print(json.dumps(result), flush=True)
    shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
