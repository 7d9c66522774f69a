"""The GitHub workflow builds and runs each image natively per architecture and, on main
only, publishes by digest and merges (host-only: reads the workflow)."""

import yaml

from labmatrix import matrix

WORKFLOW = matrix.ROOT / ".github" / "workflows" / "matrix.yml"


def test_native_runner_per_architecture_then_merge_on_main():
    wf = yaml.safe_load(WORKFLOW.read_text())
    jobs = wf["jobs"]
    assert wf["env"][matrix.REGISTRY_ENV] == matrix.IMAGE_REPO, "the tests run this commit's images, built here"
    for name in ("image", "hub"):
        runners = {e["arch"]: e["runner"] for e in jobs[name]["strategy"]["matrix"]["include"]}
        assert runners == {"amd64": "ubuntu-24.04", "arm64": "ubuntu-24.04-arm"}, name
        assert set(runners) == set(matrix.ARCHES)
    assert jobs["image"]["strategy"]["matrix"]["arch"] == list(matrix.ARCHES)
    image_runs = [s.get("run", "") for s in jobs["image"]["steps"]]
    push = next(s for s in jobs["image"]["steps"] if "scripts/publish push" in s.get("run", ""))
    assert push["if"] == "env.PUBLISH == 'true'" and "--arch \"$ARCH\"" in push["run"]
    assert wf["env"]["PUBLISH"] == "${{ github.event_name == 'push' && github.ref == 'refs/heads/main' }}"
    assert any("### $IMAGE on $ARCH" in run for run in image_runs), "a matrix table per architecture"
    merge = jobs["merge"]
    assert merge["needs"] == ["image", "hub"] and "refs/heads/main" in merge["if"]
    assert any("scripts/publish merge --tool imagetools" in s.get("run", "") for s in merge["steps"])
