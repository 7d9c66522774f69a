"""Axes: each lab declares the axes that can change its result; a lab without the method
axis is checked to start no process; --all-axes compares what the axes drop."""

import json
import re
import shutil
import subprocess
import sys
from collections import Counter

import pytest

from labmatrix import expect, matrix
from labmatrix.session import Cell, Selection, SelectionError

FIXTURES = matrix.ROOT / "tests" / "fixtures" / "labs"


@pytest.mark.parametrize("lab", matrix.lab_names())
def test_every_lab_declares_its_axes(lab):
    """No default: a lab whose expect.toml has no ``axes`` key fails here."""
    data = expect.load(lab)
    assert "axes" in data, f"{lab}.expect.toml declares no axes (docs/axes.md)"
    assert set(data) <= expect.KEYS, f"{lab}: unknown top-level keys {set(data) - expect.KEYS}"
    expect.axes(lab)  # raises on a malformed value
    source = (matrix.LABS_DIR / f"{lab}.py").read_text()
    for pattern in expect.varies(lab):
        assert pattern.strip("*") in source, f"{lab}: varies names {pattern!r}, which the lab never observes"


def test_a_lab_without_axes_is_one_line_with_the_fix(tmp_path):
    (tmp_path / "undeclared.expect.toml").write_text('[[rule]]\noutcome = "ok"\n')
    with pytest.raises(expect.ExpectationError) as info:
        expect.axes("undeclared", tmp_path)
    assert "declares no axes" in str(info.value) and "\n" not in str(info.value)
    (tmp_path / "bad.expect.toml").write_text('axes = ["threads"]\n')
    with pytest.raises(expect.ExpectationError, match="each of method, gil at most once"):
        expect.axes("bad", tmp_path)


@pytest.mark.parametrize("lab", matrix.lab_names())
def test_no_rule_waits_for_a_dropped_axis(lab):
    """A rule that only a dropped cell could match would never be checked."""
    axes = expect.axes(lab)
    for rule in expect.load_rules(lab):
        when = rule.get("when", {})
        if "method" not in axes and "requested" in when:
            assert "default" in when["requested"], f"{lab}: rule {when} needs a method axis"
        if "gil" not in axes and "gil" in when:
            assert set(when["gil"]) - {"on"}, f"{lab}: rule {when} needs a gil axis"


def test_cells_follow_the_axes():
    """896 cells along every axis; 564 along the declared ones."""
    full, every = Selection.pick().cells(), Selection.pick(all_axes=True).cells()
    assert len(every) == len({c for c in every}) == 28 * 4 * 8
    assert set(full) < set(every)
    per_lab = Counter(c.lab for c in full)
    variants = len(Selection.pick().variants())  # 8: six GIL builds, py3.13t with the GIL off and on
    for lab in matrix.lab_names():
        axes = expect.axes(lab)
        assert per_lab[lab] == (4 if "method" in axes else 1) * (variants if "gil" in axes else variants - 1), lab
    assert len(full) == sum(per_lab.values())
    ids = [c.id for c in Selection.pick(labs=["lock_basics"]).cells()]
    assert "lock_basics-py3.14-default" in ids and "lock_basics-py3.13t-default-gil_off" in ids and len(ids) == 7
    races = [c.id for c in Selection.pick(images=["py3.13t"], labs=["races"]).cells()]
    assert races == ["races-py3.13t-default-gil_off", "races-py3.13t-default-gil_on"]
    guard = {c.gil for c in Selection.pick(images=["py3.13t"], labs=["main_guard"]).cells()}
    assert guard == {"off"}
    assert Cell("lock_basics", "py3.13t", "fork", "on").kept() == Cell("lock_basics", "py3.13t", "default", "off")
    assert Cell("main_guard", "py3.13t", "fork", "on").kept() == Cell("main_guard", "py3.13t", "fork", "off")


def test_a_dropped_axis_asked_for_is_one_line():
    with pytest.raises(SelectionError, match=r"lock_basics has no cell .*axes are \[\].*--all-axes"):
        Selection.pick(labs=["lock_basics"], methods=["fork"])
    assert len(Selection.pick(labs=["lock_basics"], methods=["fork"], all_axes=True).cells()) == 8


def test_disagreement_names_what_differs_and_skips_measurements():
    kept = ("ok", {"requested_method": "default", "lost_without_lock": 3, "counter_with_lock": 20000})
    same = ("ok", {"requested_method": "fork", "lost_without_lock": 9, "counter_with_lock": 20000})
    assert expect.disagreement("races", kept, same) == []
    other = ("deadlock", {"requested_method": "fork", "counter_with_lock": 19999})
    assert expect.disagreement("races", kept, other) == [
        "outcome: kept 'ok', dropped 'deadlock'", "counter_with_lock: kept 20000, dropped 19999"]


@pytest.fixture(scope="module")
def fixture_runs(tmp_path_factory):
    """The fixture labs run for real by labkit.runner on this interpreter, every method."""
    labs = tmp_path_factory.mktemp("labs")
    shutil.copytree(matrix.LABS_DIR / "labkit", labs / "labkit")
    for path in FIXTURES.iterdir():
        shutil.copy(path, labs / path.name)
    cells = [f"{lab}:{method}" for lab in ("starts_a_process", "runs_commands", "starts_nothing")
             for method in matrix.METHODS]
    proc = subprocess.run([sys.executable, "-m", "labkit.runner", "--labs-dir", str(labs), *cells], cwd=labs,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    found = [json.loads(line) for line in proc.stdout.splitlines()]
    return labs, {(r["lab"], r["method"]): r for r in found if "lab" in r}


def _problems(labs, r):
    python = ".".join(map(str, sys.version_info[:3]))
    exp = expect.expected(r["lab"], python, r["method"], matrix.platform_name(sys.platform), "", labs)
    return expect.compare(exp, r["outcome"], r["obs"])


@pytest.mark.parametrize("method", matrix.METHODS)
def test_a_lab_that_starts_a_process_without_the_method_axis_fails(fixture_runs, method):
    labs, runs = fixture_runs
    r = runs[("starts_a_process", method)]
    assert r["outcome"] == "ok" and r["obs"]["child_exitcode"] == 0, r["stderr"]
    assert r["obs"]["process_starts"] >= 1
    problems = _problems(labs, r)
    assert len(problems) == 1 and re.match(r"process_starts: expected 0, observed \d+: a lab without the "
                                           r"method axis \(axes = \[\]\) starts no process", problems[0]), problems


def test_subprocess_system_and_fork_are_counted(fixture_runs):
    labs, runs = fixture_runs
    r = runs[("runs_commands", "default")]
    assert r["outcome"] == "ok", r["stderr"]
    assert r["obs"]["process_starts"] == 4  # subprocess twice, os.system, os.fork: one start each
    assert _problems(labs, r) == ["process_starts: expected 0, observed 4: a lab without the method axis "
                                  "(axes = []) starts no process; declare \"method\" if it must"]


@pytest.mark.parametrize("method", matrix.METHODS)
def test_a_lab_of_threads_only_passes(fixture_runs, method):
    labs, runs = fixture_runs
    r = runs[("starts_nothing", method)]
    assert r["obs"]["process_starts"] == 0 and _problems(labs, r) == []


@pytest.mark.docker
def test_process_starts_are_counted_in_every_image(lab_containers, lab_session, selection):
    """On every interpreter 3.9-3.15 the count sees the starts of a lab that starts
    processes (main_guard: every method, fork server and resource tracker included)."""
    cells = Selection.pick(selection.images, ["main_guard"]).cells()
    lab_session.run([c for c in cells if c not in lab_session.results])  # the matrix may have run them
    results = {c: lab_session.results[c] for c in cells}
    assert results
    for cell, r in results.items():
        assert r.obs.get("process_starts", 0) >= 1, f"{cell.id}: no process start counted\n{r.stdout}"


def test_ci_runs_every_axis_on_two_images_one_free_threaded():
    import yaml

    ci = (matrix.ROOT / ".ci" / "run").read_text()
    line = next(line for line in ci.splitlines() if "--all-axes" in line and not line.startswith("#"))
    images = re.findall(r"--image (\S+)", line)
    assert len(images) >= 2 and "py3.13t" in images and line.startswith("scripts/test ")
    workflow = yaml.safe_load((matrix.ROOT / ".github" / "workflows" / "matrix.yml").read_text())
    step = next(s for s in workflow["jobs"]["image"]["steps"] if "--all-axes" in s.get("run", ""))
    assert "scripts/test --require-docker --all-axes --image \"$IMAGE\"" in step["run"]
    assert set(re.findall(r"matrix\.image == '(\S+)'", step["if"])) == set(images)


def test_pytest_all_axes_adds_every_dropped_cell_and_its_agreement_test():
    def collect(*args):
        proc = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
                               "tests/test_matrix.py", "--image", "py3.13", *args], cwd=matrix.ROOT,
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return [line for line in proc.stdout.splitlines() if "::" in line]
    kept, every = collect(), collect("--all-axes")
    with_method = sum("method" in expect.axes(lab) for lab in matrix.lab_names())
    assert len([t for t in kept if "::test_lab[" in t]) == with_method * 4 + (28 - with_method)
    assert not [t for t in kept if "::test_axis_agrees[" in t and "NOTSET" not in t]  # nothing to compare
    assert len([t for t in every if "::test_lab[" in t]) == 28 * 4
    dropped = [t for t in every if "::test_axis_agrees[" in t]
    assert len(dropped) == (28 - with_method) * 3
    assert "tests/test_matrix.py::test_axis_agrees[lock_basics-py3.13-fork]" in dropped
