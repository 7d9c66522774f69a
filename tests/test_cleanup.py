"""Nothing is left behind: not after a pass, not after Ctrl-C, not after a driver crash."""

import io
import os
import signal
import subprocess
import sys
import time

import pytest

from labmatrix import matrix, wait
from labmatrix.container import LabContainer, force_remove, run_labels, sweep_dead
from labmatrix.errors import RunFailed
from labmatrix.matrix import PID_LABEL

pytestmark = pytest.mark.docker


def _containers(docker_client, pid):
    return docker_client.containers.list(all=True, sparse=True, filters={"label": f"{PID_LABEL}={pid}"})


def _networks(docker_client):
    return {n.id for n in docker_client.networks.list(filters={"label": matrix.LABEL})}


def _wait_for(predicate, seconds):
    try:
        return wait.until(predicate, seconds, every=0.05)
    except RunFailed:
        return False


def test_container_is_removed_after_use(docker_client):
    image = matrix.get_image(matrix.image_names()[0])
    networks = _networks(docker_client)
    with LabContainer(docker_client, image) as c:
        code, out, _ = c.exec(["python", "-c", "print('hi')"], timeout=20)
        assert (code, out.strip()) == (0, "hi")
        cid = c.container.id
        assert cid in {x.id for x in _containers(docker_client, os.getpid())}
    assert cid not in {x.id for x in _containers(docker_client, os.getpid())}
    assert _networks(docker_client) <= networks


def test_exec_timeout_is_enforced_inside_the_container(docker_client):
    image = matrix.get_image(matrix.image_names()[0])
    with LabContainer(docker_client, image) as c:
        start = time.monotonic()
        code, _, _ = c.exec(["python", "-c", "import threading; threading.Event().wait()"], timeout=2)
        assert code == 137 and time.monotonic() - start < 10


def test_sweep_removes_what_a_crashed_driver_left(docker_client):
    code = ("import os; from labmatrix import matrix; from labmatrix.container import client, LabContainer; "
            f"LabContainer(client(), matrix.get_image({matrix.image_names()[0]!r})).__enter__(); "
            "print(os.getpid(), flush=True); os._exit(9)")
    proc = subprocess.run([sys.executable, "-c", code], cwd=matrix.ROOT, capture_output=True, text=True, timeout=60)
    pid = int(proc.stdout.split()[0])
    assert _containers(docker_client, pid), "the crashed driver should have left its container"
    sweep_dead(docker_client)
    assert not _containers(docker_client, pid)


def _made_by(docker_client, pid: int) -> list:
    flt = {"label": f"{PID_LABEL}={pid}"}
    return [*docker_client.containers.list(all=True, filters=flt), *docker_client.networks.list(filters=flt),
            *docker_client.volumes.list(filters=flt), *docker_client.images.list(filters=flt)]


def test_one_sweep_removes_every_kind_a_dead_run_left(docker_client):
    """A run that was killed leaves a container, a network, a volume and an image behind
    (a workshop's compose project, a test hub, a driver): the next run removes all four,
    and never what a live run made, nor anything without a driver pid (an attendee's work)."""
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    base = f"debian:{matrix.images()[0].suite}-slim"
    made: dict[int, list] = {dead.pid: [], os.getpid(): []}
    kept = docker_client.volumes.create(labels={matrix.LABEL: "concurrency-lab"})
    try:
        for pid, mine in made.items():
            labels = run_labels(pid)
            mine.append(docker_client.volumes.create(labels=labels))
            mine.append(docker_client.networks.create(f"concurrency-lab-sweep-{pid}", labels=labels))
            mine.append(docker_client.containers.create(base, ["true"], labels=labels, network_mode="none"))
            image, _ = docker_client.images.build(fileobj=io.BytesIO(f"FROM {base}\n".encode()), labels=labels,
                                                  rm=True)
            mine.append(image)
        ids = {pid: {item.id for item in mine} for pid, mine in made.items()}
        assert ids[dead.pid] <= {item.id for item in _made_by(docker_client, dead.pid)}
        sweep_dead(docker_client)
        assert not _made_by(docker_client, dead.pid)
        assert ids[os.getpid()] <= {item.id for item in _made_by(docker_client, os.getpid())}
        docker_client.volumes.get(kept.name)  # no driver pid: never swept
    finally:
        for item in [*made[os.getpid()], *made[dead.pid], kept]:  # only what this test made
            force_remove(item)


def test_ctrl_c_leaves_nothing(docker_client, tmp_path):
    image = matrix.image_names()[0]
    networks = _networks(docker_client)
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_matrix.py",
         "--image", image, "--results", str(tmp_path)],
        cwd=matrix.ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert _wait_for(lambda: _containers(docker_client, proc.pid), 120), "driver never started a container"
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode != 0, out
    assert "KeyboardInterrupt" in out or "Interrupted" in out, out
    assert not _containers(docker_client, proc.pid)
    assert _networks(docker_client) <= networks
