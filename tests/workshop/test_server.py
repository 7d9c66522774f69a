"""The servers of a running workshop: token auth, 127.0.0.1 only, the container's
lockdown, labs as read-only notebooks, restarts, and a plain `docker run` of an image."""

import re
import socket
import sys
import time
from pathlib import Path

from labmatrix import matrix, wait
from labmatrix.container import LabContainer, run_labels
from labmatrix.hardening import HARDENING

ROOT = matrix.ROOT


def test_url_and_token_printed(workshop, image):
    assert re.fullmatch(r"[0-9a-f]{48}", workshop.token), "a random 192-bit token in the env file"
    assert workshop.env_file.stat().st_mode & 0o077 == 0, "the env file holding the token is private"
    line = next(ln for ln in workshop.up_output.splitlines() if ln.split()[:1] == [image.name])
    assert (f"http://127.0.0.1:{workshop.ports[image.name]}/lab/tree/labs/README.md?token={workshop.token}"
            in line)
    assert f" {image.default_method} " in line
    # The container's own log prints the same URL (what plain `docker compose up` shows).
    logs = workshop.container(image.name).logs().decode()
    assert f"open http://127.0.0.1:{workshop.ports[image.name]}/lab/tree/labs/README.md?token={workshop.token}" in logs


def test_token_required(workshop, image):
    name = image.name
    assert workshop.get(name, "/api/contents", token=False).status_code == 403
    assert workshop.get(name, "/api/contents", token=False,
                        headers={"Authorization": "token wrong"}).status_code == 403
    page = workshop.get(name, "/lab", token=False, allow_redirects=False)
    assert page.status_code == 302 and "/login" in page.headers["Location"]
    assert workshop.get(name, "/api/contents").status_code == 200
    assert workshop.get(name, f"/lab?token={workshop.token}", token=False).status_code == 200
    # A page that rebinds its own host name to 127.0.0.1 is refused, token or not.
    assert workshop.get(name, "/api/contents", headers={"Host": f"evil.example:{workshop.ports[name]}"}).status_code == 403


def test_listens_on_loopback_only(workshop, image):
    port = workshop.ports[image.name]
    container = workshop.container(image.name)
    bindings = container.attrs["NetworkSettings"]["Ports"]["8888/tcp"]
    assert bindings and {b["HostIp"] for b in bindings} == {"127.0.0.1"}, bindings
    assert {b["HostPort"] for b in bindings} == {str(port)}
    if sys.platform.startswith("linux"):
        # Docker's proxy listens on the host: only on 127.0.0.1 (and not on IPv6).
        listeners = _linux_listeners(port)
        assert listeners, f"nothing listens on port {port} (is Docker's userland proxy off?)"
        assert listeners == {"127.0.0.1"}, listeners


def _linux_listeners(port: int) -> set[str]:
    found = set()
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except FileNotFoundError:
            continue
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            addr, hexport = local.split(":")
            if state == "0A" and int(hexport, 16) == port:  # 0A: LISTEN
                if width == 8:
                    found.add(socket.inet_ntoa(bytes.fromhex(addr)[::-1]))
                else:
                    found.add("ipv6:" + addr)
    return found


def test_container_is_locked_down(workshop, image):
    container = workshop.container(image.name)
    attrs, host = container.attrs, container.attrs["HostConfig"]
    assert attrs["Config"]["User"] in ("1000:1000", "1000")
    code, out = container.exec_run(["id", "-u"])
    assert code == 0 and out.decode().strip() == "1000"
    assert host["CapDrop"] == ["ALL"] and not host.get("CapAdd")
    assert "no-new-privileges:true" in host["SecurityOpt"]
    assert not host["Privileged"]
    assert 0 < host["PidsLimit"] <= 4096
    assert 0 < host["Memory"] <= 4 * 2**30
    assert host["RestartPolicy"]["Name"] == "unless-stopped"
    mounts = {m["Destination"]: m for m in attrs["Mounts"]}
    assert not any("docker.sock" in (m.get("Source") or "") for m in attrs["Mounts"])
    assert set(mounts) == {"/home/lab/labs", "/home/lab/work"}
    assert mounts["/home/lab/labs"]["RW"] is False
    assert mounts["/home/lab/work"]["RW"] is True and mounts["/home/lab/work"]["Type"] == "volume"
    assert attrs["Config"]["Labels"][matrix.LABEL] == "concurrency-lab"
    assert attrs["State"]["Health"]["Status"] == "healthy"
    # Capabilities really are gone: the effective set of the server process is empty.
    code, out = container.exec_run(["sh", "-c", "grep CapEff /proc/1/status /proc/self/status"])
    assert code == 0 and all(line.endswith("0000000000000000") for line in out.decode().split("\n") if line)


def test_labs_are_read_only_notebooks(workshop, image):
    name = image.name
    listing = {item["name"]: item for item in workshop.get(name, "/api/contents/labs").json()["content"]}
    for lab in matrix.lab_names():
        assert listing[f"{lab}.py"]["type"] == "notebook", f"{lab}.py must open as a notebook (Jupytext)"
        assert listing[f"{lab}.py"]["writable"] is False
    assert listing["README.md"]["type"] == "file", "the landing page stays Markdown"
    notebook = workshop.get(name, "/api/contents/labs/lock_basics.py?type=notebook").json()
    assert notebook["content"]["metadata"]["jupytext"]["text_representation"]["format_name"] == "percent"
    assert any("lab.run(main)" in "".join(c["source"]) for c in notebook["content"]["cells"])
    # A write into labs/ is refused with a clear read-only message (403), not EROFS (500).
    for method, path, body in (("PUT", "labs/attendee.py", {"type": "file", "format": "text", "content": "x = 1\n"}),
                               ("PUT", "labs/lock_basics.py", {"type": "file", "format": "text", "content": "x\n"}),
                               ("DELETE", "labs/lock_basics.py", None),
                               ("PATCH", "labs/lock_basics.py", {"path": "work/moved.py"})):
        refused = workshop.api(name, method, f"/api/contents/{path}", body)
        assert refused.status_code == 403, (method, path, refused.status_code, refused.text)
        assert "labs/ is read-only" in refused.json()["message"], refused.text
    assert not (ROOT / "labs" / "attendee.py").exists()
    # The landing page names every image's Python and default start method.
    landing = workshop.get(name, "/api/contents/labs/README.md").json()["content"]
    python = f"{image.python} (**no GIL**)" if image.free_threaded else image.python
    assert f"| `{name}` | {python} | **{image.default_method}** |" in landing
    # The kernel says which Python and default method it is.
    spec = workshop.get(name, "/api/kernelspecs").json()
    display = spec["kernelspecs"][spec["default"]]["spec"]["display_name"]
    version = workshop.container(name).image.labels[matrix.PYTHON_VERSION_LABEL]
    assert display == f"Python {version}{' · no GIL' if image.free_threaded else ''} · {image.default_method} ({name})"


def _lockdown(container) -> dict:
    host = container.attrs["HostConfig"]
    return {key: host[key] for key in ("CapDrop", "SecurityOpt", "PidsLimit", "Memory", "ShmSize", "Init")}


def test_driver_and_workshop_share_one_lockdown(workshop, docker_client, image):
    """The driver's containers and the workshop's services are locked down by the one
    definition in labmatrix/hardening.py, as Docker applied it to each."""
    with LabContainer(docker_client, image) as driver:
        driver.container.reload()
        assert _lockdown(driver.container) == _lockdown(workshop.container(image.name))
    host = workshop.container(image.name).attrs["HostConfig"]
    assert host["CapDrop"] == HARDENING["cap_drop"] and host["PidsLimit"] == HARDENING["pids_limit"]
    assert host["Memory"] == 2 * 2**30 and HARDENING["mem_limit"] == "2g"
    assert host["ShmSize"] == 256 * 2**20 and HARDENING["shm_size"] == "256m"


def test_a_dead_server_comes_back_and_a_stopped_one_is_reported(workshop, image):
    """restart: unless-stopped brings a killed server back by itself; one that was stopped
    is brought back by scripts/workshop, which names it."""
    name = image.name
    container = workshop.container(name)
    restarts = container.attrs["RestartCount"]
    start = time.monotonic()
    # The Jupyter server is the only child of the container's init (PID 1): kill it.
    container.exec_run(["sh", "-c", "kill -KILL $(cat /proc/1/task/1/children)"])
    workshop.wait_healthy(name, timeout=180, since_restarts=restarts)
    workshop.figures.setdefault("back_after_kill_s", {})[name] = round(time.monotonic() - start, 1)
    assert workshop.get(name, "/api/contents").status_code == 200

    workshop.container(name).stop(timeout=10)
    proc = workshop.workshop(*workshop.images)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert re.search(rf"^workshop: brought back what was down: .*\b{re.escape(name)} \(exited\)", proc.stdout, re.M), \
        proc.stdout
    assert workshop.get(name, "/api/contents").status_code == 200
    again = workshop.workshop(*workshop.images)
    assert again.returncode == 0 and "brought back" not in again.stdout, again.stdout + again.stderr


# A trap for the update check: pypi.org resolves to 127.0.0.1 in the container, where a
# listener on port 443 counts connections (one line each in /tmp/hits).
TRAP = """
import socket
s = socket.socket(); s.bind(("127.0.0.1", 443)); s.listen()
while True:
    conn, _ = s.accept(); open("/tmp/hits", "a").write("hit\\n"); conn.close()
"""
UPDATE = """
import sys, urllib.request
req = urllib.request.Request("http://127.0.0.1:8888/lab/api/update", headers={"Authorization": "token t0k"})
print(urllib.request.urlopen(req, timeout=60).read().decode())
"""
HITS = ["sh", "-c", "cat /tmp/hits 2>/dev/null | wc -l"]


def test_plain_docker_run_is_healthy_and_never_checks_for_updates(docker_client, image):
    """A plain `docker run` of the image has the healthcheck; and the server answers
    GET /lab/api/update without opening a connection to PyPI."""
    check = docker_client.images.get(image.tag).attrs["Config"].get("Healthcheck") or {}
    assert "/api" in " ".join(check.get("Test", [])), f"the image has no HEALTHCHECK: {check}"
    container = docker_client.containers.run(
        image.tag, ["sh", "-c", f"python -c '{TRAP}' & exec start-lab"], detach=True,
        environment={"JUPYTER_TOKEN": "t0k"}, extra_hosts={"pypi.org": "127.0.0.1"},
        sysctls={"net.ipv4.ip_unprivileged_port_start": "0"},
        labels=run_labels(),
        **HARDENING)
    try:
        def healthy() -> bool:
            container.reload()
            return container.attrs["State"].get("Health", {}).get("Status") == "healthy"
        wait.until(healthy, 180, what="a healthy server")
        # The trap works: a connection to pypi.org:443 is counted.
        code, _ = container.exec_run(["python", "-c", "import socket; socket.create_connection(('pypi.org', 443), 5)"])
        assert code == 0
        code, out = container.exec_run(HITS)
        assert out.decode().strip() == "1", out
        code, out = container.exec_run(["python", "-c", UPDATE])
        assert code == 0 and '"notification": null' in out.decode(), out
        code, out = container.exec_run(HITS)
        assert out.decode().strip() == "1", "GET /lab/api/update made the server connect to pypi.org"
    finally:
        container.remove(force=True)
