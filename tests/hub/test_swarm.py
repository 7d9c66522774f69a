"""The same hub with SwarmSpawner: attendees' servers as services of a Docker swarm. The
test makes a one-node swarm (docker swarm init) and leaves it; a host that is already in
a swarm is not touched (skipped)."""

import os
import subprocess

import pytest
import requests

from labmatrix import matrix
from tests.utils.tracked_hub import PREFIX, remove_hub, start_hub


@pytest.fixture
def swarm(docker_client):
    if docker_client.info()["Swarm"]["LocalNodeState"] != "inactive":
        pytest.skip("this host is already in a swarm; the test only makes and leaves its own")
    init = subprocess.run(["docker", "swarm", "init", "--advertise-addr", "127.0.0.1"],
                          capture_output=True, text=True, timeout=120)
    assert init.returncode == 0, init.stderr
    try:
        yield docker_client
    finally:
        subprocess.run(["docker", "swarm", "leave", "--force"], capture_output=True, timeout=120)


def test_swarm_spawner_serves_a_profile(swarm, tmp_path):
    name = f"{PREFIX}{os.getpid()}-swarm"
    hub = start_hub(swarm, name, tmp_path, "--no-build", "--spawner", "swarm")
    try:
        alice = hub.attendee("alice", spawn="py3.13")
        r = requests.get(f"{hub.base}/user/alice/api/status", headers={"Authorization": f"token {alice.token}"},
                         timeout=30)
        assert r.status_code == 200
        (service,) = swarm.services.list(filters={"label": f"{matrix.LABEL}={name}"})
        spec = service.attrs["Spec"]["TaskTemplate"]["ContainerSpec"]
        assert spec["Image"].startswith("concurrency-lab:py3.13") and spec["CapabilityDrop"] == ["ALL"]
        assert spec["User"] == "1000:1000" and spec["Init"] is True
        mounts = {m["Target"]: m for m in spec["Mounts"]}
        assert mounts["/home/lab/labs"]["ReadOnly"] is True
        assert mounts["/home/lab/work"]["Source"] == f"{name}-work-alice"
        alice.stop()
        assert not swarm.services.list(filters={"label": f"{matrix.LABEL}={name}"})
    finally:
        left = remove_hub(swarm, name)
        assert not left, f"left behind: {left}"
