"""The lab runner classifies every way a lab can end, and leaves no process behind."""

import json
import os
import shutil
import subprocess
import sys
import textwrap

import pytest

from labmatrix import matrix

LABS = {
    "hangs": """
        import subprocess, sys, threading
        import labkit as lab
        def main(ctx):
            child = subprocess.Popen([sys.executable, "-c", "import threading; threading.Event().wait()"])
            lab.observe("child_pid", child.pid)
            threading.Event().wait()
        if __name__ == "__main__":
            lab.run(main)
    """,
    "segfaults": """
        import os, signal
        import labkit as lab
        def main(ctx):
            os.kill(os.getpid(), signal.SIGSEGV)
        if __name__ == "__main__":
            lab.run(main)
    """,
    "raises": """
        import labkit as lab
        def main(ctx):
            raise ValueError("boom")
        if __name__ == "__main__":
            lab.run(main)
    """,
    "burns": """
        import labkit as lab
        def main(ctx):
            n = 0
            for i in range(10_000_000):
                n += i
            lab.observe("sum", n)
            lab.outcome("ok")
        if __name__ == "__main__":
            lab.run(main)
    """,
    "deadlocks": """
        import threading
        import labkit as lab
        def main(ctx):
            lock = threading.Lock()
            lock.acquire()
            got = lock.acquire(timeout=lab.STUCK)
            lab.observe("second_acquire", got)
            lab.outcome("deadlock")
        if __name__ == "__main__":
            lab.run(main)
    """,
}


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    labs = tmp_path_factory.mktemp("labs")
    shutil.copytree(matrix.LABS_DIR / "labkit", labs / "labkit")
    for name, body in LABS.items():
        (labs / f"{name}.py").write_text(textwrap.dedent(body))
    proc = subprocess.run(
        [sys.executable, "-m", "labkit.runner", "--timeout", "2", "--labs-dir", str(labs),
         *[f"{name}:spawn" for name in LABS]],
        cwd=labs, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    return {r["lab"]: r for r in lines if "lab" in r}


def test_hang_becomes_timeout_and_its_children_are_killed(results):
    r = results["hangs"]
    assert r["outcome"] == "timeout" and r["returncode"] is None
    stat = f"/proc/{r['obs']['child_pid']}/stat"
    if os.path.exists(stat):  # killed but not yet reaped by its new parent: a zombie
        with open(stat) as f:
            assert f.read().rsplit(")", 1)[1].split()[0] == "Z"


def test_signal_death_is_a_crash(results):
    assert results["segfaults"]["outcome"] == "crash:SIGSEGV"


def test_uncaught_exception_is_an_error_of_its_type(results):
    r = results["raises"]
    assert r["outcome"] == "error:ValueError" and r["returncode"] == 1
    assert "ValueError: boom" in r["stderr"]


def test_reported_deadlock_with_observations(results):
    r = results["deadlocks"]
    assert r["outcome"] == "deadlock" and r["obs"]["second_acquire"] is False
    assert r["obs"]["requested_method"] == "spawn"


def test_cpu_seconds_are_the_labs_own(results):
    """cpu_s counts the lab's CPU, not its wall time: a lab that waits 0.5 s on a lock
    uses far less CPU than one that adds ten million numbers (about 0.1 s of CPU per three
    million on a current core, so three million sat on the threshold)."""
    burns, waits = results["burns"], results["deadlocks"]
    assert burns["outcome"] == "ok" and burns["cpu_s"] > 0.1
    assert 0 < waits["cpu_s"] < waits["duration_s"] - 0.3


def test_bad_cell_is_one_line():
    proc = subprocess.run([sys.executable, "-m", "labkit.runner", "nolab:spawn"], cwd=matrix.LABS_DIR,
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1


def test_labkit_imports_only_what_every_lab_uses():
    """Every lab process and every spawn or forkserver child of it imports labkit: json,
    subprocess and traceback (on 3.14 with dataclasses and inspect) wait until a lab needs
    them, and an observation still reads back with its type."""
    probe = ("import sys, labkit; labkit.observe('k', {'a': [1, 2.5, None, True, 'x']}); "
             "print(sorted({'json', 'subprocess', 'traceback', 'dataclasses'} & set(sys.modules)))")
    proc = subprocess.run([sys.executable, "-c", probe], cwd=matrix.LABS_DIR, capture_output=True, text=True,
                          timeout=30, check=True)
    obs_line, imported = proc.stdout.splitlines()
    assert imported == "[]"
    read_back = subprocess.run([sys.executable, "-c", "import sys; from labkit.runner import parse_obs; "
                                "print(parse_obs(sys.stdin.read())[0])"], cwd=matrix.LABS_DIR, input=obs_line,
                               capture_output=True, text=True, timeout=30, check=True)
    assert read_back.stdout.strip() == repr({"k": {"a": [1, 2.5, None, True, "x"]}})
