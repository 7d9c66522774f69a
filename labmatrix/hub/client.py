"""An attendee of a running hub (scripts/hub), through the JupyterHub REST API, for the hub
tests and scripts/bench-hub: log in with the workshop password, get a token, spawn a
profile, run a lab notebook in the server's kernel and check it against the matrix, stop.

REST API: https://jupyterhub.readthedocs.io/en/stable/reference/rest-api.html
"""

from __future__ import annotations

import json
import re
import subprocess
import time

import requests

from .. import expect, matrix, wait
from ..container import client
from ..errors import RunFailed

RUN_NOTEBOOK = matrix.ROOT / "labmatrix" / "run_notebook.py"
SECTION = re.compile(r"^=+ --start-method (\S+) =+\n(.*?)^\[outcome: ([^,\]]+), exit code ([^\]]+)\]$",
                     re.S | re.M)
SPAWN_TIMEOUT = 180  # seconds from the spawn request to a server that answers


class HubClientError(RunFailed):
    """An attendee's request that the hub refused or did not answer in time."""


class Attendee:
    """One browser-like session (cookies, XSRF) and, after :meth:`login`, an API token."""

    def __init__(self, base: str, name: str):
        self.base, self.name = base.rstrip("/"), name
        self.http = requests.Session()
        self.token: str | None = None

    def login(self, password: str) -> bool:
        """The log-in form, as a browser posts it; True when the hub lets the user in."""
        self.http.get(f"{self.base}/hub/login", timeout=30)
        r = self.http.post(f"{self.base}/hub/login", allow_redirects=False, timeout=60,
                           data={"username": self.name, "password": password,
                                 "_xsrf": self.http.cookies.get("_xsrf", "")})
        return r.status_code == 302 and "jupyterhub-session-id" in self.http.cookies

    def new_token(self) -> str:
        """An API token for this user, asked for with the log-in cookie (and its XSRF)."""
        r = self.http.post(f"{self.base}/hub/api/users/{self.name}/tokens", timeout=30,
                           json={"note": "concurrency-lab", "expires_in": 4 * 3600},
                           headers={"X-XSRFToken": self.http.cookies.get("_xsrf", "")})
        if r.status_code != 201:
            raise HubClientError(f"{self.name}: token: HTTP {r.status_code} {r.text[:200]}")
        self.token = r.json()["token"]
        return self.token

    def api(self, method: str, path: str, token: str | None = None, **kw) -> requests.Response:
        headers = {"Authorization": f"token {token or self.token}"}
        return requests.request(method, f"{self.base}/hub/api{path}", headers=headers, timeout=60, **kw)

    def server(self) -> dict | None:
        r = self.api("GET", f"/users/{self.name}")
        r.raise_for_status()
        return r.json().get("servers", {}).get("")

    def spawn(self, profile: str, timeout: float = SPAWN_TIMEOUT) -> float:
        """Seconds from the request to a ready server; HubClientError with the hub's reason."""
        start = time.monotonic()
        r = self.api("POST", f"/users/{self.name}/server", json={"profile": profile})
        if r.status_code not in (201, 202):
            raise HubClientError(f"{self.name}: spawn {profile}: HTTP {r.status_code} {_message(r)}")

        def ready() -> bool:
            server = self.server()
            if server is None:
                raise HubClientError(f"{self.name}: spawn {profile} failed (see the hub's log)")
            return bool(server.get("ready"))

        wait.until(ready, timeout, what=f"{self.name}: spawn {profile}: a ready server", error=HubClientError)
        return time.monotonic() - start

    def stop(self, timeout: float = 60) -> None:
        r = self.api("DELETE", f"/users/{self.name}/server")
        if r.status_code not in (202, 204, 400):  # 400: not running
            raise HubClientError(f"{self.name}: stop: HTTP {r.status_code} {_message(r)}")
        wait.until(lambda: self.server() is None, timeout, what=f"{self.name}: stop: a stopped server",
                   error=HubClientError)


def _message(r: requests.Response) -> str:
    try:
        return r.json().get("message", r.text[:200])
    except ValueError:
        return r.text[:200]


def container_name(hub_name: str, user: str) -> str:
    return f"{hub_name}-user-{user}"


def run_notebook(container: str, user: str, token: str, lab: str, timeout: float = 600) -> dict:
    """Execute labs/<lab>.py as a notebook in the user's server, as JupyterLab does (session,
    kernel, websocket), with the user's hub token; the fixture runs in the container and
    talks to the server under its hub prefix, /user/<name>/."""
    proc = subprocess.run(["docker", "exec", "-i", "-e", f"JUPYTER_TOKEN={token}",
                           "-e", f"NOTEBOOK_BASE=http://127.0.0.1:8888/user/{user}", container,
                           # the server's venv: on a free-threaded image `python` is the bare
                           # free-threaded interpreter, without Jupyter's client libraries
                           "/opt/venv/bin/python", "-", f"labs/{lab}.py"], input=RUN_NOTEBOOK.read_text(), capture_output=True,
                          text=True, timeout=timeout)
    if proc.returncode:
        raise HubClientError(f"{user}: notebook {lab}: {proc.stderr.strip()[-300:]}")
    return json.loads(proc.stdout)


def check_notebook(result: dict, lab: str, image: matrix.Image, version: str) -> tuple[int, int, list[str]]:
    """(cells that match, cells, what did not). A cell matches when it ran without error;
    the last cell (the lab run as a script under every method) also when each method's
    outcome is the one the matrix expects for this image."""
    cells, problems, ok = result["cells"], [], 0
    for i, cell in enumerate(cells):
        good = cell["status"] == "ok"
        if good and i == len(cells) - 1:
            text = "".join(o.get("text", "") for o in cell["outputs"] if o["type"] == "stream")
            sections = {m.group(1): m.group(3) for m in SECTION.finditer(text)}
            if list(sections) != list(matrix.METHODS):
                good = False
                problems.append(f"last cell shows methods {list(sections)}")
            for method, outcome in sections.items():
                # A free-threaded image's kernel runs with the GIL off (no PYTHON_GIL set).
                gil = "off" if image.free_threaded else ""
                want = expect.expected(lab, version, method, image.platform, gil).outcome
                if outcome != want:
                    good = False
                    problems.append(f"{method}: {outcome}, expected {want}")
        elif not good:
            problems.append(f"cell {i + 1}: {cell['status']}")
        ok += good
    return ok, len(cells), problems


def python_version(tag: str) -> str:
    return client().images.get(tag).labels[matrix.PYTHON_VERSION_LABEL]
