"""Each word is defined once on each side of the container boundary; these tests tie the
host side (labmatrix, with its dependencies) to the container side (labs/labkit and the
image's start-up hook, stdlib only, which cannot import labmatrix)."""

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

from labmatrix import cells, expect, matrix, render

sys.path.insert(0, str(matrix.LABS_DIR))  # labkit is the labs' own package, not installed
import labkit  # noqa: E402
import labkit.runner  # noqa: E402

ROOT = matrix.ROOT


def _image_hook():
    spec = importlib.util.spec_from_file_location("lab_mp_platform", ROOT / "images" / "lab_mp_platform.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_start_methods():
    assert labkit.METHODS == matrix.METHODS
    assert labkit.run_in_notebook.__defaults__ == (labkit.METHODS,)


def test_cell_timeout_and_lab_list():
    assert labkit.CELL_TIMEOUT == matrix.CELL_TIMEOUT
    assert labkit.runner.list_labs() == matrix.lab_names()
    assert not re.search(r"^(CELL_TIMEOUT|PLATFORMS) =", Path(cells.__file__).read_text(), re.M)


def test_platforms():
    hook = _image_hook()
    # The hook accepts the matrix's names and, as an alias, sys.platform's.
    assert {"macos", "windows"} <= set(hook._MODES) <= set(matrix.PLATFORMS) | set(matrix.PLATFORMS.values())
    assert set(render.BEHAVES_LIKE) == set(matrix.PLATFORMS)
    assert {i.platform for i in matrix.images()} <= set(matrix.PLATFORMS)
    for name, native in matrix.PLATFORMS.items():
        assert matrix.platform_name(name) == matrix.platform_name(native) == name
    assert set(expect.UNAVAILABLE) <= set(matrix.PLATFORMS)


def test_process_group_kill_is_labkits():
    runner = (ROOT / "labs" / "labkit" / "runner.py").read_text()
    assert "killpg" not in runner and "kill_group(proc)" in runner


def test_shell_reads_the_matrix_through_python():
    """No script parses matrix.toml itself, and none spells a tag or label."""
    files = [*sorted((ROOT / "scripts").iterdir()), ROOT / ".ci" / "run", ROOT / ".ci" / "provision"]
    for path in files:
        text = path.read_text()
        assert not re.search(r"(sed|awk|grep)[^\n]*matrix\.toml", text), path.name
        assert not re.search(r"org\.concurrency-lab\.|concurrency-lab:", text), path.name
    out = subprocess.run([sys.executable, "-m", "labmatrix.matrix", "tag", "py3.14"], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout
    assert out.strip() == matrix.get_image("py3.14").tag
    out = subprocess.run([sys.executable, "-m", "labmatrix.matrix", "python-label", "gil-label", "repo"], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == [matrix.PYTHON_VERSION_LABEL, matrix.GIL_LABEL, matrix.IMAGE_REPO]


def test_bad_matrix_query_is_one_line():
    proc = subprocess.run([sys.executable, "-m", "labmatrix.matrix", "values", "nope"], cwd=ROOT,
                          capture_output=True, text=True)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1 and "usage:" in proc.stderr


def test_comments_cite_upstream_not_a_private_fact_sheet():
    """Comments cite CPython issues, PEPs or docs sections, which a reader can open."""
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    found = [p for p in tracked if p.endswith((".py", ".toml", ".md", ".j2", ".sh", ".yml", ".yaml"))
             and re.search(r"facts §\d", (ROOT / p).read_text(errors="replace"))]
    assert not found, f"cite the CPython issue or docs section instead of 'facts §N': {found}"
