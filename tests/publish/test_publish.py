"""Published images, tested with a real registry (Debian's docker-registry on 127.0.0.1).

The lab images and the hub's are published from the shared daemon (only names of the
loopback registry are added there, and removed again); a second, empty Docker daemon is
the fresh host that pulls them: a fresh clone's scripts/workshop there pulls and serves
every image healthy, `docker compose pull` works, its scripts/hub pulls the hub's image and
serves, and a report's digests are the registry's. The `concurrency-lab:*` images of the
shared daemon are never moved.
"""

from __future__ import annotations

import io
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import docker.errors
import pytest

from labmatrix import matrix
from labmatrix.compose import project_env
from labmatrix.container import free_port
from labmatrix.hub import command as hubmod
from labmatrix.loopback import BINARY, FreshDaemon, LoopbackRegistry, fresh_clone
from labmatrix.publish import remote_digest
from tests.utils.tracked_workshop import TEST_PREFIX

pytestmark = pytest.mark.docker
ROOT = matrix.ROOT
ENV = matrix.REGISTRY_ENV


def one_line(proc) -> str:
    lines = [ln for ln in (proc.stdout + proc.stderr).splitlines() if ln.strip()]
    assert proc.returncode != 0, lines
    assert "Traceback" not in proc.stderr
    assert len(lines) == 1, lines
    return lines[0]


def run(cmd, env_extra: dict, cwd: Path = ROOT, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, **env_extra}
    return subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def registry_dir(docker_client, tmp_path):
    if not shutil.which(BINARY):
        pytest.skip(f"{BINARY} is not installed (Debian's docker-registry; .ci/provision installs it)")
    return tmp_path / "registry"


def local_names(docker_client, repo: str) -> list[str]:
    return [t for image in docker_client.images.list() for t in image.tags if t.startswith(repo + ":")]


# --- Bad input: one line each, nothing half-done.


def test_unreachable_registry_falls_back_to_building_or_fails_under_no_build(docker_client, tmp_path):
    closed = f"127.0.0.1:{free_port()}/concurrency-lab"
    name = matrix.images()[0].name
    proc = run([sys.executable, "-m", "labmatrix.registry", "pull", "workshop", name], {ENV: closed})
    assert proc.returncode == 0 and proc.stdout.split() == [name], proc  # the names to build
    assert re.fullmatch(rf"workshop: building {name}: the registry 127\.0\.0\.1:\d+ does not answer \(.+\)\n",
                        proc.stderr), proc.stderr
    # scripts/workshop --no-build: one line, and no container, network or volume made.
    project = f"{TEST_PREFIX}{os.getpid()}-unreachable"
    env = project_env(project, tmp_path / ".env", {name: free_port()})
    env[ENV] = closed
    done = subprocess.run([ROOT / "scripts" / "workshop", "--no-build", name], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    lines = [ln for ln in (done.stdout + done.stderr).splitlines() if ln.strip() and "token" not in ln.lower()]
    assert done.returncode != 0 and len(lines) == 1, lines
    assert "does not answer" in lines[0] and "--no-build forbids building" in lines[0], lines[0]
    left = docker_client.containers.list(all=True, filters={"label": f"com.docker.compose.project={project}"})
    assert not left and not docker_client.networks.list(filters={"label": f"com.docker.compose.project={project}"})


def test_unknown_architecture_and_no_registry_are_one_line(tmp_path):
    line = one_line(run([ROOT / "scripts" / "publish", "push", "--arch", "s390x"], {ENV: "127.0.0.1:1/x"}))
    assert line == "publish: unknown architecture 's390x'; valid: amd64, arm64", line
    (tmp_path / "s390x.json").write_text("{}")
    line = one_line(run([ROOT / "scripts" / "publish", "merge", "--out", tmp_path], {ENV: "127.0.0.1:1/x"}))
    assert "s390x.json is no architecture's record; valid: amd64.json, arm64.json" in line, line
    line = one_line(run([ROOT / "scripts" / "publish", "push"], {ENV: matrix.IMAGE_REPO}))
    assert line.startswith("publish: no registry is set;"), line


def test_push_without_credentials_is_refused_in_one_line(docker_client, registry_dir, tmp_path):
    name = matrix.images()[0].name
    with LoopbackRegistry(registry_dir, auth=True) as reg:
        out = tmp_path / "publish"
        line = one_line(run([ROOT / "scripts" / "publish", "push", "--out", out, name], {ENV: reg.repo}))
        assert "the registry refused the push" in line and f"docker login 127.0.0.1:{reg.port}" in line, line
        assert not local_names(docker_client, reg.repo), "the per-architecture tag is removed"
        assert not (out / "amd64.json").exists(), "nothing is recorded for a refused push"


def test_a_pulled_image_whose_python_label_disagrees_is_refused(docker_client, registry_dir):
    """The registry's py3.14 is py3.9's image: pulling it is refused in one line, and the
    name is put back as it was (here: absent)."""
    wrong, right = matrix.images()[0], matrix.get_image("py3.14")
    before = docker_client.images.get(right.tag).id
    with LoopbackRegistry(registry_dir) as reg:
        image = docker_client.images.get(wrong.tag)
        image.tag(reg.repo, right.name)
        try:
            errors = [e["error"] for e in docker_client.images.push(reg.repo, right.name, stream=True, decode=True)
                      if "error" in e]
            assert not errors, errors
        finally:
            docker_client.images.remove(f"{reg.repo}:{right.name}", noprune=True)
        proc = run([sys.executable, "-m", "labmatrix.registry", "pull", "test", "--always", right.name], {ENV: reg.repo})
        line = one_line(proc)
        version = image.labels[matrix.PYTHON_VERSION_LABEL]
        assert line.startswith(f"test: refusing {reg.repo}:{right.name}: its "), line
        assert f"{matrix.IMAGE_LABEL} label is '{wrong.name}'" in line or f"says {version}" in line, line
        assert not local_names(docker_client, reg.repo)
        assert docker_client.images.get(right.tag).id == before


def test_a_kept_data_root_keeps_its_images_and_the_hosts_bridge(docker_client, tmp_path):
    """scripts/verify-arm64 --keep starts its second daemon again on the same data root: its
    images are still there, and the host daemon's docker0 survives the restart."""
    layer = io.BytesIO()
    with tarfile.open(fileobj=layer, mode="w") as tar:
        info = tarfile.TarInfo("kept")
        tar.addfile(info, io.BytesIO(b""))
    storage, root = docker_client.info()["Driver"], tmp_path / "kept-root"
    docker0 = Path("/sys/class/net/docker0")
    assert docker0.exists(), "the host daemon's default bridge"
    with FreshDaemon(storage, root) as fresh:
        fresh.client().api.import_image_from_data(layer.getvalue(), repository="kept", tag="1")
    assert (root / "network" / "files" / "local-kv.db").exists(), "the first run left its network store"
    with FreshDaemon(storage, root) as fresh:  # raises if docker0 went
        assert fresh.client().images.get("kept:1")
    assert docker0.exists()


# --- The whole way: publish, then a fresh host pulls.


def test_publish_then_a_fresh_host_pulls_serves_and_reproduces(docker_client, registry_dir, tmp_path):
    names = matrix.image_names()
    out = tmp_path / "publish"
    storage = docker_client.info()["Driver"]
    hubmod.build(no_build=False)  # this checkout's hub image (the build cache makes it quick)
    with LoopbackRegistry(registry_dir) as reg, FreshDaemon(storage) as fresh:
        env = {ENV: reg.repo}
        pushed = run([ROOT / "scripts" / "publish", "push", "--out", out, *names, matrix.HUB], env, timeout=1800)
        assert pushed.returncode == 0, pushed.stderr
        # Docker 20.10's own `docker manifest` (scripts/bench-pull takes buildx imagetools where it is).
        merged = run([ROOT / "scripts" / "publish", "merge", "--tool", "manifest", "--out", out], env, timeout=600)
        assert merged.returncode == 0, merged.stderr
        assert not local_names(docker_client, reg.repo), "publishing leaves no registry names here"
        lists = json.loads((out / "manifests.json").read_text())
        for name in [*names, matrix.HUB]:
            moving, immutable = lists[name]["tags"]
            assert moving == name and immutable.startswith(f"{name}-3.")
            assert remote_digest(reg.repo, moving) == remote_digest(reg.repo, immutable) == lists[name]["digest"]

        # A fresh host: an empty daemon and a fresh clone. The workshop pulls every image.
        clone = fresh_clone(tmp_path / "clone")
        (clone / ".venv").symlink_to(ROOT / ".venv")  # the dev virtualenv, linked, not rebuilt
        project = f"{TEST_PREFIX}{os.getpid()}-fresh"
        fenv = project_env(project, tmp_path / "fresh.env", {name: free_port() for name in names})
        fenv.update({ENV: reg.repo, "DOCKER_HOST": fresh.host})
        cli = fresh.client()
        assert not cli.images.list(), "the fresh host has no image"
        try:
            up = subprocess.run([clone / "scripts" / "workshop"], cwd=clone, env=fenv, capture_output=True,
                                text=True, timeout=900)
            assert up.returncode == 0, up.stdout + up.stderr
            assert f"workshop: pulled {' '.join(names)} from {reg.repo} (the registry answers)" in up.stderr, up.stderr
            assert f"workshop: {len(names)} JupyterLab(s) healthy" in up.stdout, up.stdout
            pull = subprocess.run(["docker", "compose", "--env-file", fenv["WORKSHOP_ENV_FILE"], "pull", "--quiet"],
                                  cwd=clone, env=fenv, capture_output=True, text=True, timeout=600)
            assert pull.returncode == 0, pull.stderr
            for name in names:
                assert f"{reg.repo}@{lists[name]['digest']}" in cli.images.get(f"{matrix.IMAGE_REPO}:{name}").attrs["RepoDigests"]
        finally:
            subprocess.run(["docker", "compose", "--env-file", fenv["WORKSHOP_ENV_FILE"], "down", "-v"],
                           cwd=clone, env=fenv, capture_output=True, timeout=300)

        # The fresh host's scripts/hub pulls the hub's image (the lab images are there now)
        # and serves; it spawns on this daemon (its DOCKER_HOST socket).
        hub_name, hub_env = f"{TEST_PREFIX}{os.getpid()}-hub", tmp_path / "hub.env"
        hub_env.write_text(f"HUB_PASSWORD={secrets.token_urlsafe(12)}\nHUB_ADMIN_PASSWORD={secrets.token_urlsafe(32)}\n")
        try:
            hub = subprocess.run([clone / "scripts" / "hub", "--name", hub_name, "--port", str(free_port()),
                                  "--env-file", hub_env], cwd=clone, env=fenv, capture_output=True, text=True, timeout=600)
            assert hub.returncode == 0, hub.stdout + hub.stderr
            assert f"hub: pulled hub from {reg.repo} (the registry answers)" in hub.stderr, hub.stderr
            assert "hub: JupyterHub up after" in hub.stdout, hub.stdout
            hub_image = cli.images.get(hubmod.TAG)
            assert f"{reg.repo}@{lists[matrix.HUB]['digest']}" in hub_image.attrs["RepoDigests"]
            assert cli.containers.get(hub_name).image.id == hub_image.id
        finally:
            subprocess.run([clone / "scripts" / "hub", "down", "--name", hub_name], cwd=clone, env=fenv,
                           capture_output=True, timeout=300)

        # A report's digests are the registry's; with --digests a host that has only the
        # report pulls exactly those images again.
        name = "py3.13"
        lab = subprocess.run([clone / "scripts" / "lab", "main_guard", "--image", name, "--method", "fork"],
                             cwd=clone, env=fenv, capture_output=True, text=True, timeout=600)
        assert lab.returncode == 0, lab.stdout + lab.stderr
        report = clone / re.search(r"report in (\S+)/$", lab.stdout.strip()).group(1) / "matrix.json"
        digest = json.loads(report.read_text())["images"][name]["digest"]
        assert digest == f"{reg.repo}@{remote_digest(reg.repo, name)}"
        kept = tmp_path / "matrix.json"
        shutil.copy(report, kept)
        for tag in (f"{matrix.IMAGE_REPO}:{name}", f"{reg.repo}:{name}"):
            cli.images.remove(tag)
        with pytest.raises(docker.errors.ImageNotFound):
            cli.images.get(digest)
        again = subprocess.run([clone / "scripts" / "lab", "main_guard", "--image", name, "--method", "fork",
                                "--digests", kept], cwd=clone, env=fenv, capture_output=True, text=True, timeout=600)
        assert again.returncode == 0, again.stdout + again.stderr
        assert f"lab: using the images of {kept}" in again.stderr
        assert json.loads(report.read_text())["images"][name]["digest"] == digest
