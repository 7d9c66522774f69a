"""The composite action (action.yml): actionlint validates it, and its steps run here as
a runner would run them (bash -eo pipefail, inputs through env, GITHUB_OUTPUT and
GITHUB_STEP_SUMMARY files), loading the image from a `docker save` archive."""

from __future__ import annotations

import os
import re
import subprocess

import pytest
import yaml
from test_static import actionlint

from labmatrix import matrix

ACTION = matrix.ROOT / "action.yml"
WORKFLOW = matrix.ROOT / ".github" / "workflows" / "check-action.yml"


def test_action_passes_actionlint():
    """actionlint checks action.yml's metadata, and each `with:` against its inputs,
    through the workflow that uses it as `uses: ./`."""
    proc = subprocess.run([actionlint(), "-no-color", str(WORKFLOW.relative_to(matrix.ROOT))], cwd=matrix.ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    uses = [s for s in yaml.safe_load(WORKFLOW.read_text())["jobs"]["check"]["steps"] if s.get("uses") == "./"]
    assert [s["with"]["script"] for s in uses] == ["tests/check/scripts/guarded.py", "tests/check/scripts/unguarded.py"]


def _expand(text: str, inputs: dict, outputs: dict) -> str:
    def one(match):
        expr = match.group(1).strip()
        if expr.startswith("inputs."):
            return inputs[expr.removeprefix("inputs.")]
        if expr == "github.action_path":
            return str(matrix.ROOT)
        if expr.startswith("steps.") and ".outputs." in expr:
            step, _, name = expr.removeprefix("steps.").partition(".outputs.")
            return outputs.get(step, {}).get(name, "")
        raise AssertionError(f"expression the local runner does not know: {expr}")
    return re.sub(r"\$\{\{(.*?)\}\}", one, str(text))


def run_action(tmp_path, **given) -> tuple[list[tuple[str, int]], dict, str]:
    """Run the action's steps: `run:` steps for real, `uses:` steps checked and skipped."""
    spec = yaml.safe_load(ACTION.read_text())
    inputs = {name: str(given.get(name.replace("-", "_"), item.get("default", "")))
              for name, item in spec["inputs"].items()}
    summary, outputs, ran, failed = tmp_path / "summary.md", {}, [], False
    summary.write_text("")
    for step in spec["runs"]["steps"]:
        if failed and step.get("if") != "always()":
            continue
        if "uses" in step:
            ran.append((step["uses"], None))
            continue
        output = tmp_path / f"output-{len(ran)}"
        output.write_text("")
        env = {**os.environ, "GITHUB_OUTPUT": str(output), "GITHUB_STEP_SUMMARY": str(summary),
               **{k: _expand(v, inputs, outputs) for k, v in step.get("env", {}).items()}}
        proc = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
                              cwd=matrix.ROOT, env=env, capture_output=True, text=True, timeout=900)
        if "id" in step:
            outputs[step["id"]] = dict(line.split("=", 1) for line in output.read_text().splitlines() if "=" in line)
        ran.append((step["name"], proc.returncode))
        failed = failed or proc.returncode != 0
    return ran, outputs, summary.read_text()


@pytest.fixture(scope="module")
def image_tar(docker_client, tmp_path_factory):
    path = tmp_path_factory.mktemp("images") / "py3.13.tar"
    docker_client.images.get(matrix.get_image("py3.13").tag)  # built (ImageNotFound otherwise)
    subprocess.run(["docker", "save", "--output", str(path), matrix.get_image("py3.13").tag], check=True, timeout=600)
    return path


@pytest.mark.docker
def test_action_steps_run_locally(image_tar, tmp_path):
    """A broken script: the table lands in the step summary, the results are there for
    the upload, and the last step fails the job (fail-on differ). The same script with
    fail-on never passes."""
    results = tmp_path / "results"
    ran, outputs, summary = run_action(tmp_path, script="tests/check/scripts/unguarded.py", images="py3.13",
                                       methods="fork spawn", timeout="20", images_tar=str(image_tar),
                                       results=str(results))
    assert [code for _, code in ran] == [None, 0, 0, 0, None, 1], ran
    assert ran[4][0].startswith("actions/upload-artifact@")
    assert outputs["check"] == {"exit-code": "1"}
    assert summary.startswith("### Check of `unguarded.py`") and "| spawn |" in summary
    assert (results / "check.json").exists() and (results / "check.html").exists()
    upload = yaml.safe_load(ACTION.read_text())["runs"]["steps"][4]
    assert upload["if"] == "always()" and upload["with"]["path"] == "${{ inputs.results }}"

    ran, outputs, _ = run_action(tmp_path, script="tests/check/scripts/unguarded.py", images="py3.13",
                                 methods="fork spawn", fail_on="never", images_tar=str(image_tar),
                                 results=str(tmp_path / "never"))
    assert [code for _, code in ran] == [None, 0, 0, 0, None, 0], ran
    assert outputs["check"] == {"exit-code": "0"}


@pytest.mark.docker
def test_action_checks_a_project(image_tar, tmp_path):
    """project: instead of script: the project's differing tests land in the step summary,
    and fail-on gates the job the same way."""
    results = tmp_path / "results"
    ran, outputs, summary = run_action(tmp_path, project="tests/check/projects/demo", pytest_args="-k local_target",
                                       images="py3.13", methods="fork spawn", timeout="120",
                                       images_tar=str(image_tar), results=str(results))
    assert [code for _, code in ran] == [None, 0, 0, 0, None, 1], ran
    assert outputs["check"] == {"exit-code": "1"}
    assert summary.startswith("### Check of project `check-demo`: 1 test(s) differ") and "cannot be pickled" in summary
    assert (results / "check.json").exists() and (results / "check.html").exists()
