"""The hub tests' running hub (a session fixture), started the README's way (scripts/hub)
under a name of its own (``concurrency-lab-hub-test-<pid>``), on a free port, with its own
env file: an instructor's hub, its .env and its attendees' volumes are never touched.
Everything it makes carries the label ``org.concurrency-lab.project=<name>`` and is removed
afterwards, volumes included (they are this test's, not attendees'); a run that died is
swept by the next one.
"""

from __future__ import annotations

import json
import os

import docker
import pytest

from labmatrix import matrix
from labmatrix.container import require_images, sweep_dead
from labmatrix.errors import MissingEnvironment
from labmatrix.hub import command as hubmod
from tests.utils.tracked_hub import GONE, PREFIX, gone_image, remove_hub, start_hub


@pytest.fixture(scope="session")
def hub(docker_client, tmp_path_factory):
    try:
        require_images(docker_client, matrix.images())
    except MissingEnvironment as exc:
        pytest.exit(str(exc), returncode=3)
    sweep_dead(docker_client)
    name = f"{PREFIX}{os.getpid()}"
    tmp = tmp_path_factory.mktemp("hub")
    # The matrix's profiles and one more, whose image a test removes while the hub runs.
    gone = f"{matrix.IMAGE_REPO}:hubtest-gone-{os.getpid()}"
    gone_image(docker_client, gone)
    rendered = json.loads(hubmod.PROFILES_JSON.read_text())
    rendered["profiles"].append({"name": GONE, "tag": gone, "python": "3", "default_method": "fork",
                                 "platform": "linux", "why": "removed by a test"})
    (tmp / "profiles.json").write_text(json.dumps(rendered))
    try:
        h = start_hub(docker_client, name, tmp, "--profiles", str(tmp / "profiles.json"))
        h.gone_tag = gone
        yield h
    finally:
        left = remove_hub(docker_client, name)
        try:
            docker_client.images.remove(gone)
        except docker.errors.ImageNotFound:
            pass
        assert not left, f"left behind: {left}"
