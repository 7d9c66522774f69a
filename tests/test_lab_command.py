"""`scripts/lab LAB`: the lab author's inner loop, run as an author runs it."""

import os
import queue
import re
import signal
import subprocess
import threading
import time

import pytest

from labmatrix import matrix
from labmatrix.container import PID_LABEL

LAB = [str(matrix.ROOT / "scripts" / "lab")]


def run(*args, timeout=180):
    return subprocess.run([*LAB, *args], cwd=matrix.ROOT, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "CI": ""})


@pytest.mark.parametrize(("args", "message"), [
    (["no_such_lab"], r"lab: unknown lab 'no_such_lab'; valid: .*main_guard.*"),
    (["main_guard", "--image", "py2.7"], r"lab: unknown image 'py2.7'; valid: py3\.9, .*"),
    (["main_guard", "--method", "fork2"], r"lab: unknown method 'fork2'; valid: fork, spawn, forkserver, default"),
    (["lock_basics", "--method", "fork"], r"lab: lock_basics has no cell in this selection: its axes are \[\] .*"
                                          r"add --all-axes to run it along every axis anyway"),
])
def test_bad_input_is_one_line(args, message):
    proc = run(*args)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert re.fullmatch(message, proc.stderr.strip()), proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.docker
def test_one_lab_side_by_side_with_reasons(docker_client, tmp_path):
    """main_guard in two images: a row per method, a column per image, the differences
    explained by the rules' reasons, and the report written beside the full one."""
    full = matrix.ROOT / "results" / "matrix.json"
    before = full.stat().st_mtime_ns if full.exists() else None
    proc = run("main_guard", "--image", "py3.13", "--image", "py3.14")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split() == ["method", "py3.13", "py3.14"]
    rows = {line.split()[0]: line for line in lines[1:5]}
    assert set(rows) == set(matrix.METHODS)
    assert rows["fork"].split()[1:] == ["ok", "ok"]
    assert "ConnectionResetError" in rows["forkserver"]  # 3.14's forkserver handshake
    assert any(line.startswith("Δ ") for line in lines)
    assert re.search(r"main_guard: 8/8 cells as expected in [\d.]+ s; report in "
                     r"results/partial/main_guard\.py3\.13\+py3\.14/", proc.stdout)
    assert (matrix.ROOT / "results/partial/main_guard.py3.13+py3.14/matrix.json").exists()
    assert (full.stat().st_mtime_ns if full.exists() else None) == before, "the full report was overwritten"


@pytest.mark.docker
def test_a_lab_without_the_method_axis_is_one_row(docker_client):
    """lock_basics declares no axis: one ``default`` row, one column per image variant (the
    GIL off only on py3.13t); with --all-axes every method and both GIL modes, and the
    dropped cells agree with the kept ones."""
    proc = run("lock_basics", "--image", "py3.13", "--image", "py3.13t")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split() == ["method", "py3.13", "py3.13t", "gil=off"]
    assert lines[1].split() == ["default", "ok", "ok"] and lines[2] == ""
    assert "lock_basics: 2/2 cells as expected" in proc.stdout
    proc = run("lock_basics", "--image", "py3.13", "--image", "py3.13t", "--all-axes")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert [line.split()[0] for line in proc.stdout.splitlines()[1:5]] == list(matrix.METHODS)
    assert "axes compared=10 differ=0" in proc.stdout  # 12 cells, one kept per image
    assert "lock_basics: 12/12 cells as expected" in proc.stdout


PROBE = """import labkit as lab


def main(ctx):
    lab.observe("answer", {answer})


if __name__ == "__main__":
    lab.run(main)
"""


@pytest.fixture
def probe_lab():
    """A lab of the test's own, in labs/ (the containers see labs/ as it is on disk),
    removed afterwards."""
    name = f"zz_watch_probe_{os.getpid()}"
    lab, expectation = matrix.LABS_DIR / f"{name}.py", matrix.LABS_DIR / f"{name}.expect.toml"
    lab.write_text(PROBE.format(answer=42))
    expectation.write_text('axes = []\n\n[[rule]]\noutcome = "ok"\nobs = { answer = 42 }\n')
    try:
        yield name, lab
    finally:
        lab.unlink(missing_ok=True)
        expectation.unlink(missing_ok=True)


@pytest.mark.docker
def test_watch_reruns_on_save_survives_a_syntax_error_and_cleans_up(docker_client, probe_lab):
    name, path = probe_lab
    proc = subprocess.Popen([*LAB, name, "--watch", "--image", "py3.13"], cwd=matrix.ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env={**os.environ, "CI": "", "PYTHONUNBUFFERED": "1"})
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line.rstrip("\n")) for line in proc.stdout], daemon=True).start()

    def until(pattern: str, timeout: float = 120) -> list[str]:
        seen, deadline = [], time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                seen.append(lines.get(timeout=max(0.1, deadline - time.monotonic())))
            except queue.Empty:
                break
            if re.search(pattern, seen[-1]):
                return seen
        pytest.fail(f"no line matching {pattern!r} within {timeout} s; saw:\n" + "\n".join(seen))
    try:
        first = until(rf"^{name}: 1/1 cells as expected")
        assert first[0].split() == ["method", "py3.13"] and first[1].split() == ["default", "ok"]
        until("^watching ")
        path.write_text(PROBE.format(answer=42).replace("def main(ctx):", "def main(ctx)"))
        broken = until("^watching ")
        assert len(broken) == 2 and re.fullmatch(rf"lab: labs/{name}\.py:4: SyntaxError: .*", broken[0]), broken
        assert proc.poll() is None, "watching stopped at a syntax error"
        path.write_text(PROBE.format(answer=41))
        changed = until(rf"^{name}: 0/1 cells as expected")
        assert any(line.startswith("✗ py3.13 default: answer: expected 42, observed 41") for line in changed), changed
        until("^watching ")
        containers = docker_client.containers.list(all=True, filters={"label": f"{PID_LABEL}={proc.pid}"})
        assert len(containers) == 1, "one container per image, kept running between runs"
    finally:
        proc.send_signal(signal.SIGINT)  # Ctrl-C
        code = proc.wait(60)
    assert code == 130
    assert not docker_client.containers.list(all=True, filters={"label": f"{PID_LABEL}={proc.pid}"})
