"""The registry setting, its names, and what pull-before-build and --digests say, without a
registry (a closed port stands for an unreachable one). Nothing here moves an image."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from labmatrix import matrix, registry, render
from labmatrix.container import free_port

ROOT = matrix.ROOT
ENV = matrix.REGISTRY_ENV


def query(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "labmatrix.matrix", *args], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, **env})


def test_the_environment_overrides_matrix_toml_and_the_local_name_means_none(monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    setting = matrix.load().get("publish", {}).get("registry", "")
    assert matrix.registry() == setting
    assert query("ref", "py3.14", "hub").stdout.split() == [f"{setting or matrix.IMAGE_REPO}:py3.14",
                                                             f"{setting or matrix.IMAGE_REPO}:hub"]
    assert query("registry", **{ENV: "ghcr.io/someone/concurrency-lab"}).stdout == "ghcr.io/someone/concurrency-lab\n"
    assert query("ref", "py3.9", **{ENV: "ghcr.io/someone/concurrency-lab"}).stdout == "ghcr.io/someone/concurrency-lab:py3.9\n"
    assert query("registry", **{ENV: matrix.IMAGE_REPO}).stdout == "\n", "the local name: no registry"
    assert query("immutable", "py3.14", "3.14.0", "20261206").stdout == "py3.14-3.14.0-20261206\n"
    assert query("immutable", "py9", "3.14.0", "20261206").returncode == 2


def test_compose_runs_the_registry_name_and_builds_the_local_one():
    import yaml

    services = yaml.safe_load(render.compose_yaml())["services"]
    default = matrix.registry_setting()
    for image in matrix.images():
        service = services[image.name]
        assert service["image"] == f"${{{ENV}:-{default}}}:{image.name}"
        assert service["build"]["tags"] == [image.tag]


def test_registry_hosts():
    assert registry.host("ghcr.io/o/concurrency-lab") == "ghcr.io"
    assert registry.host("127.0.0.1:5000/concurrency-lab") == "127.0.0.1:5000"
    assert registry.host("someone/concurrency-lab") == "registry-1.docker.io"
    assert registry.loopback("localhost:5000/x") and registry.loopback("127.0.0.1:5000/x")
    assert not registry.loopback("ghcr.io/o/x")


@pytest.mark.docker
def test_the_hub_builds_when_the_registry_does_not_answer(docker_client, monkeypatch, capsys):
    monkeypatch.setenv(ENV, f"127.0.0.1:{free_port()}/concurrency-lab")

    class HubError(Exception):
        pass
    assert registry.pulled_for_hub([], HubError) is False
    err = capsys.readouterr().err
    assert err.startswith("hub: building hub: the registry 127.0.0.1:") and "does not answer" in err, err
    monkeypatch.setenv(ENV, matrix.IMAGE_REPO)
    assert registry.pulled_for_hub(["py3.9"], HubError) is False
    assert capsys.readouterr().err == "", "the offline path says nothing new"


@pytest.mark.docker
def test_digests_that_cannot_be_had_are_one_line(docker_client, tmp_path):
    report = tmp_path / "matrix.json"
    report.write_text(json.dumps({"images": {"py3.9": {"python": "3.9"}}}))
    lab = [str(ROOT / "scripts" / "lab"), "main_guard", "--image", "py3.9", "--digests", str(report)]
    for content, expected in [
        ({"images": {"py3.9": {"python": "3.9"}}}, "records no image digests"),
        ({"images": {"py3.9": {"digest": "sha256:" + "0" * 64}}}, "is not on this host: it was built on another one"),
        ({"images": {"py9": {"digest": "sha256:" + "0" * 64}}}, "names image(s) matrix.toml does not have: py9"),
    ]:
        report.write_text(json.dumps(content))
        before = docker_client.images.get(matrix.get_image("py3.9").tag).id
        done = subprocess.run(lab, cwd=ROOT, capture_output=True, text=True, timeout=120)
        lines = [ln for ln in (done.stdout + done.stderr).splitlines() if ln.strip()]
        assert done.returncode == 2 and len(lines) == 1 and "Traceback" not in done.stderr, lines
        assert lines[0].startswith("lab: ") and expected in lines[0], lines[0]
        assert docker_client.images.get(matrix.get_image("py3.9").tag).id == before, "no name moved"
