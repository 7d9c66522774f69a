"""`scripts/check`, run as a user runs it: bad input, exit codes, results, nothing left behind."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from dataclasses import replace
from pathlib import Path

import pytest

from labmatrix import matrix
from labmatrix.check import command as check
from labmatrix.matrix import PID_LABEL
from tests.utils.interrupt import interrupt_when

SCRIPTS = Path(__file__).resolve().parent / "scripts"

CHECK = str(matrix.ROOT / "scripts" / "check")


def run(*args, timeout=600, cwd=None):
    return subprocess.run([CHECK, *args], cwd=cwd or matrix.ROOT, capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize(("args", "message"), [
    (["no/such/script.py"], r"check: no such file: no/such/script\.py; give the path of a Python script"),
    ([str(SCRIPTS)], r"check: .*/scripts is not a file; give the path of a Python script"),
    ([], r"check: no script given; usage: scripts/check .*"),
    (["--bogus", "x.py"], r"check: unknown option '--bogus'; usage: .*"),
    ([str(SCRIPTS / "guarded.py"), "--image", "py2.7"], r"check: unknown image 'py2\.7'; valid: py3\.9, .*"),
    ([str(SCRIPTS / "guarded.py"), "--method", "fork2"],
     r"check: unknown method 'fork2'; valid: fork, spawn, forkserver, default"),
    ([str(SCRIPTS / "guarded.py"), "--fail-on", "sometimes"],
     r"check: unknown --fail-on 'sometimes'; valid: differ, error, never"),
    ([str(SCRIPTS / "guarded.py"), "--timeout", "soon"], r"check: --timeout 'soon' is not a number of seconds .*"),
    ([str(SCRIPTS / "guarded.py"), "--timeout"], r"check: --timeout needs a value; usage: .*"),
])
def test_bad_input_is_one_line(args, message):
    proc = run(*args, timeout=60)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert re.fullmatch(message, proc.stderr.strip()), proc.stderr
    assert "Traceback" not in proc.stderr and not proc.stdout


@pytest.mark.docker
def test_a_script_in_a_private_home_folder_runs_and_its_folder_is_untouched(docker_client, tmp_path):
    """A 0700 folder the containers' uid 1000 cannot read: the script is copied in, never
    mounted, so no chmod is needed, and nothing is written into the folder."""
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    (home / "helper.py").write_text("WORD = 'copied'\n")
    (home / "s.py").write_text("import helper\nprint(helper.WORD)\nopen(__file__ + '.out', 'w')\n")
    (home / "s.py").chmod(0o600)
    before = sorted((p.name, p.stat().st_mtime_ns) for p in home.iterdir())
    proc = run(str(home / "s.py"), "--image", "py3.13", "--method", "fork", "--out", str(tmp_path / "out"), timeout=300)
    (cell,) = _results(tmp_path / "out")["cells"]
    assert cell["stdout"] == "copied\n", proc.stdout + proc.stderr
    assert "read-only-src" in cell["signatures"], cell  # writing beside the script is refused, not done
    assert sorted((p.name, p.stat().st_mtime_ns) for p in home.iterdir()) == before
    assert oct(home.stat().st_mode & 0o777) == "0o700"


def test_help_is_the_usage():
    proc = run("--help", timeout=60)
    assert proc.returncode == 0 and proc.stdout.startswith("Check your own script across the matrix")
    assert "scripts/check path/to/script.py [ARGS...]" in proc.stdout


def test_cells_that_agree_up_to_pids_addresses_paths_and_timings_are_one_group():
    """Two runs' real-looking output that differ only in what varies from run to run."""
    def cell(pid, addr, tmp, took, method):
        return check.CheckCell(
            image="py3.13", python="3.13.5", method=method, gil="", effective_method=method, outcome="ok",
            returncode=0, duration_s=1.0, stdout_bytes=0, stderr_bytes=0, cut=[], waits=[], pids_refused=0,
            ended_by_pids_limit=False, events=[{"event": "start", "pid": pid}],
            stdout=f"worker {pid} started\n{pid}\n<Lock object at {addr}>\nwrote {tmp}/x\ntook {took} s\n"
                   f"method {method}\n[0, 1, 4, 9, 16]\n",
            stderr=f'Traceback (most recent call last):\n  File "/usr/lib/python3.{pid % 7}/x.py", '
                   f'line {pid}, in f\n    g()\n    ~^^\nValueError: boom\n')
    same = [cell(17, "0x7f01", "/tmp/tmpab12", 1.0213, "fork"), cell(16, "0x7e99", "/tmp/tmpzz99", 0.98, "spawn")]
    assert len(check.group(same)) == 1
    other = cell(18, "0x7f01", "/tmp/tmpab12", 1.0213, "fork")
    other = replace(other, stdout=other.stdout.replace("[0, 1, 4, 9, 16]", "[0, 1, 4, 9, 18]"))
    assert len(check.group([*same, other])) == 2


def _results(out):
    return json.loads((out / "check.json").read_text())


@pytest.mark.docker
def test_broken_script_table_results_and_fail_on(docker_client, tmp_path):
    """The unguarded script on 3.13 and 3.14: a row per method, a column per image, the
    groups explained; check.json/md/html written; --fail-on decides the exit status."""
    args = [str(SCRIPTS / "unguarded.py"), "--image", "py3.13", "--image", "py3.14", "--timeout", "20"]
    proc = run(*args, "--out", str(tmp_path / "a"))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split() == ["method", "py3.13", "py3.14"]
    rows = {line.split()[0]: line.split()[1:] for line in lines[2:6]}
    assert set(rows) == set(matrix.METHODS)
    assert rows["fork"] == ["A", "ok", "A", "ok"]
    assert rows["forkserver"][-1] == "error:ConnectionResetError"
    assert "no `if __name__ == '__main__':` guard" in proc.stdout
    assert "https://docs.python.org/3/library/multiprocessing.html#multiprocessing-safe-main-import" in proc.stdout
    data = _results(tmp_path / "a")
    assert len(data["cells"]) == 8
    for cell in data["cells"]:
        assert {"image", "python", "method", "outcome", "returncode", "explanation"} <= set(cell)
        assert cell["python"].startswith(matrix.get_image(cell["image"]).python)
        if cell["outcome"] != "ok" or cell["differs"]:
            assert cell["explanation"], cell
    assert "| fork | A `ok` | A `ok` |" in (tmp_path / "a" / "check.md").read_text()
    assert "<table>" in (tmp_path / "a" / "check.html").read_text()
    assert run(*args, "--fail-on", "never", "--out", str(tmp_path / "b")).returncode == 0
    assert run(*args, "--fail-on", "error", "--out", str(tmp_path / "c")).returncode == 1


@pytest.mark.docker
def test_agreeing_cells_pass_and_differing_ok_cells_fail_only_on_differ(docker_client, tmp_path):
    ok = run(str(SCRIPTS / "guarded.py"), "--image", "py3.9", "--image", "py3.15", "--out", str(tmp_path / "ok"))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert {c["group"] for c in _results(tmp_path / "ok")["cells"]} == {"A"}
    state = [str(SCRIPTS / "runtime_state.py"), "--image", "py3.13"]
    assert run(*state, "--out", str(tmp_path / "d")).returncode == 1
    assert run(*state, "--fail-on", "error", "--out", str(tmp_path / "e")).returncode == 0


@pytest.mark.docker
def test_bad_scripts_become_classified_cells(docker_client, tmp_path):
    """Not Python: a SyntaxError cell per image. Huge output: its tail, marked cut. A
    script that never exits: ended at the bound. Arguments reach the script."""
    proc = run(str(SCRIPTS / "not_python.txt"), "--image", "py3.9", "--image", "py3.13", "--method", "default",
               "--out", str(tmp_path / "np"))
    cells = _results(tmp_path / "np")["cells"]
    assert [c["outcome"] for c in cells] == ["error:SyntaxError", "error:SyntaxError"], proc.stdout
    assert all("syntax" in c["signatures"] for c in cells)

    run(str(SCRIPTS / "huge_output.py"), "--image", "py3.13", "--method", "fork", "--out", str(tmp_path / "big"))
    (cell,) = _results(tmp_path / "big")["cells"]
    assert cell["outcome"] == "ok" and cell["cut"] == ["stdout"] and cell["stdout_bytes"] > 50_000_000
    assert cell["stdout"].endswith("the end\n") and len(cell["stdout"]) <= 64 * 1024
    assert "Output cut: stdout kept its last 64 KiB" in cell["explanation"]

    start = time.monotonic()
    run(str(SCRIPTS / "never_exits.py"), "--image", "py3.13", "--method", "spawn", "--timeout", "3",
        "--out", str(tmp_path / "hang"))
    (cell,) = _results(tmp_path / "hang")["cells"]
    assert cell["outcome"] in ("deadlock", "timeout") and cell["returncode"] is None
    assert cell["duration_s"] < 6 and time.monotonic() - start < 120

    script = tmp_path / "argv.py"
    script.write_text("import sys; print(sys.argv[1:])\n")
    tmp_path.chmod(0o755)
    script.chmod(0o644)
    run(str(script), "one", "--two", "--image", "py3.13", "--method", "fork", "--out", str(tmp_path / "argv"))
    (cell,) = _results(tmp_path / "argv")["cells"]
    assert cell["stdout"] == "['one', '--two']\n"


@pytest.mark.docker
def test_ctrl_c_leaves_nothing(docker_client, tmp_path):
    proc, mine = interrupt_when([CHECK, str(SCRIPTS / "never_exits.py"), "--image", "py3.13", "--out", str(tmp_path)],
                                lambda mine: docker_client.containers.list(filters=mine), 120, "the check's container")
    err = proc.stderr
    assert proc.returncode == 130, err
    assert err.strip() == "check: interrupted; its containers and scratch folders are removed"
    assert not docker_client.containers.list(all=True, filters=mine)
    assert not (tmp_path / "check.json").exists()
    assert not os.listdir(tmp_path)


@pytest.mark.docker
def test_free_threaded_image_runs_each_cell_with_the_gil_off_and_on(docker_client, tmp_path):
    """The GIL axis (matrix.Image.gil_modes): a free-threaded image gives two columns, and
    PYTHON_GIL=1 really turns the GIL on in the "on" cells (children included)."""
    free = [i.name for i in matrix.images() if i.free_threaded]
    if not free:
        pytest.skip("matrix.toml has no free-threaded image")
    script = tmp_path / "gil.py"
    script.write_text("import multiprocessing as mp, sys\n\n\ndef gil(q):\n    q.put(sys._is_gil_enabled())\n\n\n"
                      "if __name__ == '__main__':\n    q = mp.Queue()\n    p = mp.Process(target=gil, args=(q,))\n"
                      "    p.start()\n    print('parent', sys._is_gil_enabled(), 'child', q.get())\n    p.join()\n")
    tmp_path.chmod(0o755)
    script.chmod(0o644)
    proc = run(str(script), "--image", free[0], "--method", "fork", "--method", "spawn", "--out", str(tmp_path / "o"))
    assert proc.stdout.splitlines()[0].split() == ["method", free[0], "gil=off", free[0], "gil=on"], proc.stdout
    cells = {(c["gil"], c["method"]): c for c in _results(tmp_path / "o")["cells"]}
    assert set(cells) == {("off", "fork"), ("off", "spawn"), ("on", "fork"), ("on", "spawn")}
    for (gil, _), cell in cells.items():
        assert cell["stdout"] == ("parent False child False\n" if gil == "off" else "parent True child True\n")
    assert proc.returncode == 1  # the two modes print differently: the cells disagree


@pytest.mark.docker
def test_keep_containers_keeps_a_failing_cells_container(docker_client, tmp_path):
    """LABMATRIX_KEEP_CONTAINERS=1 (as cibuildwheel's CIBW_DEBUG_KEEP_CONTAINER): the
    container of a failing cell stays for `docker exec`, named on stderr; by default it goes."""
    script = tmp_path / "fails.py"
    script.write_text("raise ValueError('look at me')\n")
    tmp_path.chmod(0o755)
    script.chmod(0o644)
    args = [CHECK, str(script), "--image", "py3.13", "--method", "spawn", "--out", str(tmp_path / "out")]
    proc = subprocess.run(args, cwd=matrix.ROOT, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "LABMATRIX_KEEP_CONTAINERS": "1"})
    kept = re.search(r"kept py3\.13's container for a look: docker exec -it (\S+) bash", proc.stderr)
    assert proc.returncode == 1 and kept, proc.stdout + proc.stderr
    try:
        container = docker_client.containers.get(kept[1])
        assert container.exec_run(["ls", "/home/lab/src/fails.py"]).exit_code == 0
    finally:
        docker_client.containers.get(kept[1]).remove(force=True)
    mine = {"label": f"{PID_LABEL}"}
    before = {c.id for c in docker_client.containers.list(all=True, filters=mine)}
    proc = subprocess.run(args, cwd=matrix.ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 1 and "kept" not in proc.stderr, proc.stderr
    assert {c.id for c in docker_client.containers.list(all=True, filters=mine)} <= before
