"""`scripts/lab LAB`: the lab author's inner loop, run as an author runs it."""

import os
import re
import subprocess

import pytest

from labmatrix import matrix

LAB = [str(matrix.ROOT / "scripts" / "lab")]


def run(*args, timeout=180):
    return subprocess.run([*LAB, *args], cwd=matrix.ROOT, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "CI": ""})


@pytest.mark.parametrize(("args", "message"), [
    (["no_such_lab"], r"lab: unknown lab 'no_such_lab'; valid: .*main_guard.*"),
    (["main_guard", "--image", "py2.7"], r"lab: unknown image 'py2.7'; valid: py3\.9, .*"),
    (["main_guard", "--method", "fork2"], r"lab: unknown method 'fork2'; valid: fork, spawn, forkserver, default"),
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
