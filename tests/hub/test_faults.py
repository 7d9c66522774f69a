"""Bad input and faults: one clear line (exit 2, no traceback), or a clear error for that
attendee while the hub and everyone else's work go on."""

import os
import socket

import pytest
import requests

from labmatrix import matrix
from labmatrix.hub import command as hubmod
from tests.utils.tracked_hub import GONE, PREFIX, hub_command


def one_line(proc) -> str:
    assert proc.returncode == 2, proc.stdout + proc.stderr  # bad input (labmatrix/errors.py)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    return lines[0]


@pytest.mark.parametrize("env, says", [
    ("", "no HUB_PASSWORD in"),
    ("HUB_PASSWORD=\n", "no HUB_PASSWORD in"),
    ("HUB_PASSWORD=short\n", "HUB_PASSWORD in"),
    ("HUB_PASSWORD=long-enough\nHUB_ADMIN_PASSWORD=too-short\n", "must have 32+ characters"),
    ("HUB_PASSWORD=long-enough\nHUB_IDLE_TIMEOUT=soon\n", "is not a number of seconds"),
    ("HUB_PASSWORD='unterminated\n", "unterminated"),
])
def test_bad_env_is_one_line_and_nothing_starts(tmp_path, env, says):
    env_file = tmp_path / ".env"
    env_file.write_text(env)
    name = f"{PREFIX}{os.getpid()}-bad"
    line = one_line(hub_command("--name", name, "--env-file", str(env_file), "--no-build"))
    assert line.startswith("hub: ") and says in line


def test_busy_port_is_named(docker_client, tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("HUB_PASSWORD=long-enough\n")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        name = f"{PREFIX}{os.getpid()}-busy"
        line = one_line(hub_command("--name", name, "--port", str(port), "--env-file", str(env_file), "--no-build"))
    assert f"port {port} on 127.0.0.1 is in use" in line and "--port" in line
    assert not docker_client.containers.list(all=True, filters={"label": f"{matrix.LABEL}={name}"})
    assert not docker_client.networks.list(filters={"label": f"{matrix.LABEL}={name}"})


def test_not_a_port():
    assert "not a port" in one_line(hub_command("--port", "80", "--no-build"))


def test_image_removed_while_the_hub_runs(hub):
    """The attendee gets the reason; the hub stays up and another attendee's server too."""
    alice = hub.attendee("alice", spawn="py3.13-spawn")
    hub.docker_client.images.remove(hub.gone_tag)
    dave = hub.attendee("dave")
    r = dave.api("POST", "/users/dave/server", json={"profile": GONE})
    assert r.status_code == 500
    assert f"the image {hub.gone_tag} ({GONE}) is not on this host" in r.json()["message"]
    assert "scripts/build-images" in r.json()["message"]
    assert dave.server() is None
    assert requests.get(f"{hub.base}/hub/health", timeout=30).status_code == 200
    assert alice.server()["ready"]
    status = requests.get(f"{hub.base}/user/alice/api/status", headers={"Authorization": f"token {alice.token}"},
                          timeout=30)
    assert status.status_code == 200
    # The same as a browser sees it: the spawn form answers with the reason on the page.
    page = dave.http.post(f"{hub.base}/hub/spawn", data={"profile": GONE, "_xsrf": dave.http.cookies.get("_xsrf", "")},
                          timeout=60)
    assert "is not on this host" in page.text, page.text[-2000:]


def test_hub_admin_password_is_made_once(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("HUB_PASSWORD=long-enough")
    first = hubmod.settings(env_file, {})["HUB_ADMIN_PASSWORD"]
    assert len(first) >= 32 and hubmod.settings(env_file, {})["HUB_ADMIN_PASSWORD"] == first
    assert env_file.stat().st_mode & 0o777 == 0o600
