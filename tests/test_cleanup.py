"""Nothing is left behind: not after a pass, not after Ctrl-C, not after a driver crash."""

import os
import signal
import subprocess
import sys
import time

import pytest

from labmatrix import matrix
from labmatrix.container import PID_LABEL, LabContainer, sweep

pytestmark = pytest.mark.docker


def _containers(cli, pid):
    return cli.containers.list(all=True, sparse=True, filters={"label": f"{PID_LABEL}={pid}"})


def _networks(cli):
    return {n.id for n in cli.networks.list(filters={"label": matrix.LABEL})}


def _wait_for(predicate, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)  # polling Docker from the test, not ordering a lab; nothing waits on it
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
    sweep(docker_client)
    assert not _containers(docker_client, pid)


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
