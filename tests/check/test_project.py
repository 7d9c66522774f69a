"""`scripts/check --project`, run as a user runs it: a real project's suite in real
containers, the differing tests explained, bad input as one line, the user's folder untouched."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from labmatrix import matrix
from tests.utils.interrupt import interrupt_when

SCRIPTS = Path(__file__).resolve().parent / "scripts"


CHECK = str(matrix.ROOT / "scripts" / "check")
PROJECTS = SCRIPTS.parent / "projects"


def check(*args, timeout=900):
    return subprocess.run([CHECK, *args], cwd=matrix.ROOT, capture_output=True, text=True, timeout=timeout)


def snapshot(folder):
    """Every path under the folder with its mode and mtime: what "never written to" means."""
    return sorted((str(p.relative_to(folder)), p.stat().st_mode, p.stat().st_mtime_ns) for p in folder.rglob("*"))


def outcomes(out):
    data = json.loads((out / "check.json").read_text())
    return data, {t: {col: o["outcome"] for col, o in cells.items()} for t, cells in data["tests"].items()}


@pytest.mark.parametrize(("args", "message"), [
    (["--project", "no/such/dir"], r"check: no such folder: no/such/dir; give the folder of a project with tests"),
    (["--project", str(PROJECTS / "demo" / "pyproject.toml")], r"check: .*pyproject\.toml is not a folder; .*"),
    (["--project", str(PROJECTS / "demo"), "--image", "py2.7"], r"check: unknown image 'py2\.7'; valid: .*"),
    (["--project", str(PROJECTS / "demo"), "--fail-on", "x"], r"check: unknown --fail-on 'x'; valid: differ, error, never"),
    (["--project", str(PROJECTS / "notests")], r"check: .*/notests has no tests \(no test_\*\.py or \*_test\.py.*"),
])
def test_bad_input_before_docker_is_one_line(args, message):
    proc = check(*args, timeout=60)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert re.fullmatch(message, proc.stderr.strip()), proc.stderr
    assert not proc.stdout


@pytest.mark.docker
def test_demo_project_differences_explained(docker_client, tmp_path):
    """The demo's tests, each broken on purpose in some cells: only the differing tests are
    in the table, each with the signature that explains it; the folder is only read."""
    folder = PROJECTS / "demo"
    before = snapshot(folder)
    out = tmp_path / "out"
    proc = check("--project", str(folder), "--image", "py3.13", "--image", "py3.15", "--timeout", "120",
                 "-k", "not counter", "--out", str(out))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    data, grid = outcomes(out)
    assert len(data["cells"]) == 6 and {c["python"][:4] for c in data["cells"]} == {"3.13", "3.15"}
    local = grid["tests/test_demo.py::test_local_target"]
    assert {col: o for col, o in local.items() if o != "passed"} == {
        "py3.13/spawn": "failed", "py3.13/forkserver": "failed", "py3.15/spawn": "failed", "py3.15/forkserver*": "failed"}
    explained = data["explained"]
    assert all(e["signatures"] == ["pickle"] for e in explained["tests/test_demo.py::test_local_target"]["cells"].values())
    assert {s for e in explained["tests/test_demo.py::test_runtime_state"]["cells"].values() for s in e["signatures"]} \
        == {"runtime-state"}
    fork_warning = grid["tests/test_demo.py::test_fork_after_thread"]
    assert [col for col, o in fork_warning.items() if o == "failed"] == ["py3.15/fork"]  # -W error raises from 3.15
    assert explained["tests/test_demo.py::test_fork_after_thread"]["cells"]["py3.15/fork"]["signatures"] == \
        ["fork-warning-error"]
    assert "tests/test_demo.py::test_plain" not in data["tests"]  # the same everywhere: not in the table
    assert "tests/test_demo.py::test_local_target" in proc.stdout and "cannot be pickled" in proc.stdout
    assert re.search(r"^py3\.15/forkserver\*\s+2 passed, 2 failed in ", proc.stdout, re.M), proc.stdout
    assert "| `tests/test_demo.py::test_local_target` |" in (out / "check.md").read_text()
    assert "<table>" in (out / "check.html").read_text()
    assert snapshot(folder) == before
    # warm: the same dependencies reuse their layers; --fail-on never passes
    again = check("--project", str(folder), "--image", "py3.13", "--method", "fork", "-k", "plain",
                  "--fail-on", "never", "--out", str(tmp_path / "warm"))
    assert again.returncode == 0, again.stdout + again.stderr
    warm = json.loads((tmp_path / "warm" / "check.json").read_text())
    assert warm["run"]["layers_built"] == [] and warm["differ"] == []


@pytest.mark.docker
def test_free_threaded_test_that_assumes_the_gil(docker_client, tmp_path):
    free = [i.name for i in matrix.images() if i.free_threaded]
    if not free:
        pytest.skip("matrix.toml has no free-threaded image")
    out = tmp_path / "out"
    proc = check("--project", str(PROJECTS / "demo"), "--image", free[0], "--method", "fork", "-k", "counter",
                  "--out", str(out))
    data, grid = outcomes(out)
    counter = grid["tests/test_demo.py::test_counter_assumes_the_gil"]
    assert counter == {f"{free[0]} gil=off/fork*": "failed", f"{free[0]} gil=on/fork*": "passed"}, proc.stdout
    cell = data["explained"]["tests/test_demo.py::test_counter_assumes_the_gil"]["cells"][f"{free[0]} gil=off/fork*"]
    assert cell["signatures"] == ["gil-assumed"]


@pytest.mark.docker
def test_no_wheel_for_the_free_threaded_abi_is_a_cell_outcome(docker_client, tmp_path):
    """psutil 5.9.8 has abi3 wheels only (no cp313t wheel) and a compiled sdist: the GIL
    image's cells run, the free-threaded image's cells say why they cannot."""
    free = [i.name for i in matrix.images() if i.free_threaded]
    if not free:
        pytest.skip("matrix.toml has no free-threaded image")
    (tmp_path / "p" / "tests").mkdir(parents=True)
    (tmp_path / "p" / "requirements.txt").write_text("psutil==5.9.8\n")
    (tmp_path / "p" / "tests" / "test_ps.py").write_text("import psutil\n\n\ndef test_cpus():\n"
                                                         "    assert psutil.cpu_count() >= 1\n")
    out = tmp_path / "out"
    proc = check("--project", str(tmp_path / "p"), "--requirements", str(tmp_path / "p" / "requirements.txt"),
                 "--image", "py3.13", "--image", free[0], "--method", "fork", "--out", str(out))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    cells = {(c["image"], c["gil"]): c for c in json.loads((out / "check.json").read_text())["cells"]}
    assert cells[("py3.13", "")]["status"].startswith("1 passed")
    for gil in ("off", "on"):
        assert cells[(free[0], gil)]["status"].startswith("cannot install: psutil==5.9.8 has no wheel for cp313t")


def _bad(tmp_path, name):
    if name == "syntax":
        (tmp_path / "syntax" / "tests").mkdir(parents=True)
        (tmp_path / "syntax" / "tests" / "test_broken.py").write_text("def test_broken(:\n    pass\n")
        return tmp_path / "syntax"
    return PROJECTS / name


@pytest.mark.docker
@pytest.mark.parametrize(("name", "code", "message"), [
    ("baddep", 2, r"check: cannot resolve the dependencies for Python 3\.13\.\d+: because concurrency-lab-no-such-package "
                  r"was not found in the package registry.*"),
    ("syntax", 2, r"check: the project does not compile in any cell: tests/test_broken\.py:1: SyntaxError: .*"),
    ("hang", 1, r"check: the suite hung: every cell was stopped at its 5 s bound \(py3\.13/fork in "
                r"tests/test_hang\.py::test_waits_forever; py3\.13/spawn in tests/test_hang\.py::test_waits_forever\)"),
    ("network", 1, r"check: the suite needs a network at test time: 1 test\(s\) fail in every cell that has none "
                   r"\(first: tests/test_fetch\.py::test_fetch_index\); .*"),
])
def test_bad_project_is_one_line_and_its_folder_untouched(docker_client, tmp_path, name, code, message):
    folder = _bad(tmp_path, name)
    before = snapshot(folder)
    proc = check("--project", str(folder), "--image", "py3.13", "--method", "fork", "--method", "spawn",
                 "--timeout", "5", "--out", str(tmp_path / "out"))
    assert proc.returncode == code, proc.stdout + proc.stderr
    assert re.fullmatch(message, proc.stderr.strip()), proc.stderr
    assert not proc.stdout and "Traceback" not in proc.stderr
    assert snapshot(folder) == before


@pytest.mark.docker
def test_ctrl_c_leaves_nothing(docker_client, tmp_path):
    """Ctrl-C while the cells run: exit 130, every container of the run removed, no report."""
    def running_pytest(mine: dict) -> bool:  # a cell's pytest runs in one of the run's containers
        return any("pytest" in " ".join(row) for c in docker_client.containers.list(filters=mine)
                   for row in c.top().get("Processes") or [])
    proc, mine = interrupt_when([CHECK, "--project", str(PROJECTS / "hang"), "--image", "py3.13", "--timeout", "120",
                                 "--out", str(tmp_path / "out")], running_pytest, 300, "a cell's pytest")
    err = proc.stderr
    assert proc.returncode == 130, err
    assert err.strip() == "check: interrupted; its containers and scratch folders are removed"
    assert not docker_client.containers.list(all=True, filters=mine)
    assert not (tmp_path / "out").exists()
