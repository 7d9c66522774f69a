"""Log-in, profiles, isolation and lockdown of a running hub (scripts/hub)."""

import html
import re

import requests

from labmatrix import matrix
from labmatrix.hardening import HARDENING
from labmatrix.hub import command as hubmod
from labmatrix.hub.client import Attendee, check_notebook, python_version, run_notebook


def test_hub_prints_url_and_how_to_log_in(hub):
    assert f"http://127.0.0.1:{hub.port}/hub/login" in hub.out
    assert "HUB_PASSWORD" in hub.out and "instructor" in hub.out
    # 127.0.0.1 by default: the proxy's entry point is on loopback only.
    assert hub.docker_client.containers.get(hub.name).attrs["Config"]["Env"].count("HUB_IP=127.0.0.1") == 1


def test_wrong_password_is_rejected_and_the_admin_needs_hers(hub):
    assert not Attendee(hub.base, "mallory").login("not-the-password")
    # The instructor's name with the attendees' password is refused; with hers, she is admin.
    assert not Attendee(hub.base, hubmod.ADMIN).login(hub.password)
    admin = Attendee(hub.base, hubmod.ADMIN)
    assert admin.login(hub.admin_password)
    admin.new_token()
    assert admin.api("GET", f"/users/{hubmod.ADMIN}").json()["admin"] is True


def test_profiles_are_the_matrix(hub):
    a = hub.attendee("carol")
    page = html.unescape(a.http.get(f"{hub.base}/hub/spawn", timeout=30).text)
    for image in matrix.images():
        assert f'value="{image.name}"' in page
        assert f"{image.name}: Python {image.python}, default start method {image.default_method} ({image.why})" in \
            re.sub(r"<[^>]+>", "", page)
    r = a.api("POST", "/users/carol/server", json={"profile": "py2.7"})
    assert r.status_code == 400 and "unknown profile 'py2.7'" in r.json()["message"]


def test_a_lab_notebook_runs_in_the_chosen_image(hub):
    image = matrix.get_image("py3.13-spawn")
    a = hub.attendee("alice", spawn=image.name)
    result = run_notebook(f"{hub.name}-user-alice", "alice", a.token, "main_guard")
    version = python_version(image.tag)
    assert result["kernel"] == f"Python {version} · spawn (py3.13-spawn)"
    ok, total, problems = check_notebook(result, "main_guard", image, version)
    assert ok == total, problems


def test_attendees_cannot_reach_each_other(hub):
    alice = hub.attendee("alice", spawn="py3.13-spawn")
    bob = hub.attendee("bob", spawn="py3.9")
    own = requests.get(f"{hub.base}/user/bob/api/status", headers={"Authorization": f"token {bob.token}"}, timeout=30)
    assert own.status_code == 200
    # Bob's token and Bob's cookies on Alice's server: 403 (the hub's OAuth says no).
    r = requests.get(f"{hub.base}/user/alice/api/status", headers={"Authorization": f"token {bob.token}"}, timeout=30)
    assert r.status_code == 403
    assert bob.http.get(f"{hub.base}/user/alice/lab", timeout=30).status_code == 403
    assert bob.api("GET", "/users/alice").status_code in (403, 404)
    assert alice.api("GET", "/users/bob").status_code in (403, 404)
    # Their containers share a bridge without inter-container traffic: Bob's cannot open
    # Alice's port, while each reaches its own.
    ca, cb = hub.container("alice"), hub.container("bob")
    ip = ca.attrs["NetworkSettings"]["Networks"][hub.name]["IPAddress"]
    probe = ("import socket,sys\ntry:\n socket.create_connection((sys.argv[1], 8888), timeout=3); print('open')\n"
             "except OSError as e: print('closed', e)")
    assert cb.exec_run(["python", "-c", probe, ip]).output.decode().startswith("closed")
    assert ca.exec_run(["python", "-c", probe, "127.0.0.1"]).output.decode().startswith("open")


def test_servers_are_locked_down_and_labs_read_only(hub):
    hub.attendee("bob", spawn="py3.9")
    c = hub.container("bob")
    host = c.attrs["HostConfig"]
    assert host["CapDrop"] == HARDENING["cap_drop"] and host["SecurityOpt"] == HARDENING["security_opt"]
    assert host["PidsLimit"] == HARDENING["pids_limit"] and host["Init"] is True
    assert host["Memory"] == 2 * 2**30 and host["ShmSize"] == 256 * 2**20  # 2g, 256m
    assert c.attrs["Config"]["User"] == "1000:1000"
    mounts = {m["Destination"]: m for m in c.attrs["Mounts"]}
    assert mounts["/home/lab/labs"]["RW"] is False
    assert mounts["/home/lab/work"]["Name"] == f"{hub.name}-work-bob"
    assert not any("docker.sock" in m["Source"] for m in c.attrs["Mounts"])
    assert "Read-only file system" in c.exec_run(["touch", "/home/lab/labs/x"]).output.decode()
    # The Docker socket goes to the hub container only, which runs as uid 1000 locked down.
    h = hub.docker_client.containers.get(hub.name)
    assert any(m["Destination"] == "/var/run/docker.sock" for m in h.attrs["Mounts"])
    assert h.attrs["Config"]["User"] == "1000:1000" and h.attrs["HostConfig"]["CapDrop"] == ["ALL"]
