"""Each word is defined once on each side of the container boundary; these tests tie the
host side (labmatrix, with its dependencies) to the container side (labs/labkit and the
image's start-up hook, stdlib only, which cannot import labmatrix)."""

import ast
import importlib.util
import io
import re
import shutil
import subprocess
import sys
import tokenize
from pathlib import Path

from labmatrix import cells, expect, matrix, render
from labmatrix.check import command as check_command
from labmatrix.project import run as project_run

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
    assert labkit.CELL_TIMEOUT == matrix.CELL_TIMEOUT * matrix.time_scale()
    assert labkit.runner.list_labs() == matrix.lab_names()
    assert not re.search(r"^(CELL_TIMEOUT|PLATFORMS) =", Path(cells.__file__).read_text(), re.M)
    assert "CELL_TIMEOUT" not in Path(cells.__file__).read_text()  # matrix.cell_timeout() is the one bound


def test_time_scale_is_one_variable_on_both_sides():
    """The driver's scale reaches labkit under the name labkit reads; unset, it is 1."""
    assert f'os.environ.get("{matrix.TIME_SCALE_ENV}")' in Path(labkit.__file__).read_text()
    assert labkit.TIME_SCALE == matrix.time_scale()
    assert (labkit.BOUND, labkit.STUCK, labkit.CELL_TIMEOUT) == (5.0 * labkit.TIME_SCALE, 0.5 * labkit.TIME_SCALE,
                                                                 15.0 * labkit.TIME_SCALE)


def test_container_env_is_the_gil_mode_and_the_scale(monkeypatch):
    """Every process the driver starts in a lab container (a lab batch, a check, a
    project's tests) gets its environment from matrix.container_env, and only from it."""
    monkeypatch.delenv(matrix.TIME_SCALE_ENV, raising=False)
    monkeypatch.delenv(matrix.EMULATOR_CPU_ENV, raising=False)
    assert (matrix.container_env(), matrix.container_env("off"), matrix.container_env("on")) == ({}, {}, {"PYTHON_GIL": "1"})
    monkeypatch.setenv(matrix.TIME_SCALE_ENV, "8")
    assert matrix.container_env("on") == {"PYTHON_GIL": "1", matrix.TIME_SCALE_ENV: "8.0"}
    assert matrix.cell_timeout() == 8 * matrix.CELL_TIMEOUT
    monkeypatch.setenv(matrix.EMULATOR_CPU_ENV, "max,pauth=off")
    assert matrix.container_env()[matrix.EMULATOR_CPU_ENV] == "max,pauth=off"
    for module in (cells, check_command, project_run):
        assert not re.search(r"GIL_ENV|TIME_SCALE_ENV", Path(module.__file__).read_text()), module.__name__


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


# A repository path in a comment, a docstring or a doc page: labmatrix/cells.py, tests/utils/, ...
_REPO_PATH = re.compile(r"(?<![\w/.-])((?:labmatrix|tests|scripts|images|labs|docs|deploy|requirements|\.ci|\.github)"
                        r"/[\w./-]*[\w/])(?![\w$<{-]|\.\w)")
# Paths of other projects named beside them (docker-stacks' tests/utils/wait.py, ...).
_UPSTREAM = re.compile(r"docker-stacks|cibuildwheel|cpython|CPython|nox\b|Lib/test")


def _commentary(path: Path) -> list[str]:
    """The lines of a file that a reader reads as prose: comments and docstrings of Python,
    comment lines of shell, YAML and TOML, and every line of Markdown."""
    text = path.read_text(errors="replace")
    if path.suffix == ".md":  # prose; fenced blocks (commands, sample output) are the user's
        return re.sub(r"^```.*?^```", "", text, flags=re.S | re.M).splitlines()
    if path.suffix == ".py":
        tree = ast.parse(text)
        docs = [ast.get_docstring(node) or "" for node in ast.walk(tree)
                if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))]
        comments = [tok.string for tok in tokenize.generate_tokens(io.StringIO(text).readline)
                    if tok.type == tokenize.COMMENT]
        return [line for doc in docs for line in doc.splitlines()] + comments
    return [line.split("#", 1)[1] for line in text.splitlines() if "#" in line]


def test_every_repository_path_named_in_a_comment_exists():
    """Comments, docstrings and docs name files that are there (a renamed module leaves no
    stale pointer behind); placeholders such as py3.X or labs/LAB.py and upstream projects'
    paths aside."""
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    stale = []
    for name in tracked:
        path = ROOT / name
        if name.startswith(("requirements/", "wheelhouse/", "tests/fixtures/")) or not path.is_file():
            continue
        if not (path.suffix in (".py", ".md", ".yml", ".yaml", ".toml", ".j2")
                or name.startswith(("scripts/", ".ci/", "images/"))):
            continue
        for line in _commentary(path):
            if _UPSTREAM.search(line):
                continue
            for ref in _REPO_PATH.findall(line):
                ref = ref.rstrip(".")
                placeholder = ".X" in ref or any(part.split(".")[0].isupper() for part in ref.split("/"))
                if not placeholder and not (ROOT / ref).exists():
                    stale.append(f"{name}: {ref}")
    assert not stale, "comments name paths that do not exist:\n" + "\n".join(stale)


def test_a_typo_in_matrix_toml_is_one_line(tmp_path):
    """matrix.load() checks keys and values; a typo is one line naming the image and the key."""
    shutil.copytree(ROOT / "labmatrix", tmp_path / "labmatrix", ignore=shutil.ignore_patterns("__pycache__"))
    good = (ROOT / "matrix.toml").read_text()
    cases = [
        (good.replace('default_method = "fork"', 'default_metod = "fork"', 1),
         "matrix.toml: image 'py3.9': unknown key 'default_metod'; did you mean 'default_method'?"),
        (good.replace('platform = "macos"', 'platform = "macOS"', 1),
         "matrix.toml: image 'py3.13-spawn': platform = 'macOS'; valid: linux, macos, windows"),
        (good.replace('default_method = "forkserver"', 'default_method = "forksever"', 1),
         "matrix.toml: image 'py3.14': default_method = 'forksever'; valid: fork, spawn, forkserver"),
        (good.replace("port = 8841", "port = 8839", 1), "matrix.toml: image 'py3.11': port 8839 is 'py3.9''s too"),
        (good.replace("[hub]", "[hubb]", 1), "matrix.toml: top level: unknown key 'hubb'; did you mean 'hub'?"),
    ]
    for text, line in cases:
        (tmp_path / "matrix.toml").write_text(text)
        proc = subprocess.run([sys.executable, "-m", "labmatrix.matrix", "values", "name"], cwd=tmp_path,
                              capture_output=True, text=True)
        assert (proc.returncode, proc.stderr.strip().splitlines()) == (2, [f"matrix: {line}"]), proc.stderr
