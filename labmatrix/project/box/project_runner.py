"""scripts/check --project's in-container side: one cell (a start method and GIL mode) of a
project's test suite.

    /opt/project/bin/python /opt/project-box/project_runner.py '<json spec>'

The cell is run by scripts/check's own runner (/opt/check/runner.py, ``run_cell``): its
bound, its deadlock/timeout classification, its fork-bomb stop, its sweep of strays and
the start-method hook on ``PYTHONPATH``. The "script" it runs is cell.py, which copies the
project into the cell's fresh working folder and becomes pytest there. pytest writes a
JUnit XML report and, through check_progress.py, which test is running; both are read
here and printed with the cell as one JSON line after a header line. The project's own
wheel (built on the host) is unpacked once per container into a site folder on the
scratch tmpfs. Stdlib only; Python 3.9+.
"""

import json
import os
import sys
import sysconfig
import tempfile
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.environ.get("CHECK_BOX", "/opt/check"))
import runner as check_runner  # noqa: E402  (scripts/check's runner, labmatrix/check/box/runner.py)


def unpack(wheel, site):
    """Install a pure-Python wheel by unpacking it (PEP 427: the root of a purelib wheel is
    its site-packages; ``<name>.data/purelib`` and ``platlib`` go there too)."""
    if os.path.isdir(site):
        return
    tmp = site + ".part"
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(tmp)
    for entry in os.listdir(tmp):
        if entry.endswith(".data"):
            for kind in ("purelib", "platlib"):
                inner = os.path.join(tmp, entry, kind)
                if os.path.isdir(inner):
                    for item in os.listdir(inner):
                        os.replace(os.path.join(inner, item), os.path.join(tmp, item))
    os.replace(tmp, site)


def main(argv):
    spec = json.loads(argv[0])
    keep = {int(n) for n in os.listdir("/proc") if n.isdigit()} | {os.getpid()}
    print(json.dumps({"header": True, "python": sys.version, "version_info": list(sys.version_info[:3]),
                      "free_threaded": bool(sysconfig.get_config_var("Py_GIL_DISABLED"))}), flush=True)
    path = [check_runner.HOOK, HERE]
    if spec.get("wheel"):
        site = os.path.join(spec["scratch"], "site")
        unpack(spec["wheel"], site)
        path.append(site)
    run = tempfile.mkdtemp(prefix="cell-", dir=spec["scratch"])
    junit, progress = os.path.join(run, "junit.xml"), os.path.join(run, "progress")
    env = dict(spec["env"], PYTHONPATH=os.pathsep.join(path), CHECK_PROGRESS=progress)
    cell = {"name": spec["name"], "method": spec["method"], "gil": spec["gil"], "env": env}
    check_spec = {"script": os.path.join(HERE, "cell.py"), "args": [spec["input"], junit, *spec["args"]],
                  "timeout": spec["timeout"], "cap": spec["cap"]}
    result = check_runner.run_cell(check_spec, cell, 0, keep, run)
    for name, key in ((junit, "junit"), (progress, "progress")):
        try:
            with open(name, encoding="utf-8", errors="replace") as f:
                result[key] = f.read()
        except OSError:
            result[key] = None
    result.update(method=spec["method"], gil=spec["gil"])
    print(json.dumps(result), flush=True)
    import shutil
    shutil.rmtree(run, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
