"""Host-only checks of the project's own definitions: fast, no Docker."""

import ast
import shutil
import subprocess
import sys

import pytest

from labmatrix import expect, matrix, render

LAB_FILES = sorted(p for p in matrix.LABS_DIR.glob("*.py") if not p.name.startswith("_"))


def test_rendered_files_are_up_to_date():
    stale = [p.name for p, text in render.outputs().items() if not p.exists() or p.read_text() != text]
    assert not stale, f"run scripts/render: {stale}"


def test_matrix_defaults_agree_with_cpython():
    for image in matrix.images():
        assert expect.platform_default(image.python, image.platform) == image.default_method, image.name


@pytest.mark.parametrize("lab", matrix.lab_names())
def test_expectations_cover_every_image_and_method(lab):
    assert (matrix.LABS_DIR / f"{lab}.expect.toml").exists(), f"{lab} has no expectations"
    for image in matrix.images():
        for method in matrix.METHODS:
            exp = expect.expected(lab, image.python + ".0", method, image.platform)
            assert exp.outcome, f"{lab}: no expected outcome for {image.name} {method}"


@pytest.mark.parametrize("lab", matrix.lab_names())
def test_every_rule_is_explained(lab):
    for rule in expect.load_rules(lab):
        unknown = set(rule.get("when", {})) - expect.SELECTORS
        assert not unknown, f"{lab}: unknown selector(s) {unknown}"
        assert set(rule) <= {"when", "why", "outcome", "obs"}, f"{lab}: unknown rule keys {set(rule)}"
        if rule.get("when"):
            assert rule.get("why", "").strip(), f"{lab}: rule {rule['when']} has no one-line why"
            assert "\n" not in rule["why"].strip()


def _sleep_calls(path):
    tree = ast.parse(path.read_text())
    lines = path.read_text().splitlines()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func
            name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
            if name == "sleep" and "nothing waits on it" not in lines[node.lineno - 1]:
                yield f"{path.name}:{node.lineno}"


def test_no_lab_orders_threads_with_sleep():
    """Sleeping to simulate work is allowed only on a line that says nothing waits on it."""
    files = [*LAB_FILES, *sorted((matrix.LABS_DIR / "snippets").glob("*.py")),
             *sorted((matrix.LABS_DIR / "labkit").glob("*.py"))]
    found = [hit for path in files for hit in _sleep_calls(path)]
    assert not found, f"sleep used in labs: {found}"


def test_unknown_start_method_is_one_line_and_exit_2():
    proc = subprocess.run([sys.executable, str(LAB_FILES[0]), "--start-method", "fork2"],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2
    assert proc.stderr.strip() == "unknown start method 'fork2'; valid: fork, spawn, forkserver, default"


def test_ruff():
    proc = subprocess.run([sys.executable, "-m", "ruff", "check", "."], cwd=matrix.ROOT,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_hadolint():
    exe = shutil.which("hadolint") or str(matrix.ROOT / ".venv" / "bin" / "hadolint")
    proc = subprocess.run([exe, "images/Dockerfile"], cwd=matrix.ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
