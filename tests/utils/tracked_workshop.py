"""A test workshop's compose project (labmatrix/compose.py), next to ``LabContainer``: up,
wait, down, removal.

A project is started the README's way, with ``scripts/workshop`` (which runs
``docker compose up -d --wait``), under a name, an env file and ports of its own, so a
project beside an attendee's workshop never touches it, its ``.env`` or its ``work``
volume. Its containers, network and volume carry the driver labels
(``labmatrix.container.run_labels``, through compose.yaml's ``LABMATRIX_DRIVER_*``
variables): when this process is gone, ``labmatrix.container.sweep_dead`` removes them.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import docker
import requests

from labmatrix import matrix, wait
from labmatrix.compose import PROJECT_LABEL, SERVICE_LABEL, WORKSHOP, compose_run, project_env
from labmatrix.container import force_remove
from labmatrix.errors import RunFailed

RUN_NOTEBOOK = matrix.ROOT / "labmatrix" / "run_notebook.py"
NOTEBOOK_LAB = "main_guard"  # its spawn failure without the guard is the notebook's point
TEST_PREFIX = "concurrency-lab-test-"
UP_TIMEOUT = 300  # seconds for `scripts/workshop` to report every JupyterLab healthy
# Other sessions create and remove labelled containers all the time: list without
# inspecting each one (sparse), or a container removed meanwhile raises NotFound.
_LIST: dict[str, dict] = {"containers": {"all": True, "sparse": True, "ignore_removed": True},
                          "networks": {}, "volumes": {}}


class WorkshopError(RunFailed):
    """scripts/workshop failed; the message carries its output."""


def resources(docker_client: docker.DockerClient, project: str) -> list:
    """The project's containers, networks and volumes that exist now."""
    flt = {"label": f"{PROJECT_LABEL}={project}"}
    return [item for kind, kw in _LIST.items() for item in getattr(docker_client, kind).list(filters=flt, **kw)]


def remove_project(docker_client: docker.DockerClient, project: str) -> None:
    """`compose down -v`, then force-remove anything of the project that is left."""
    compose_run(["docker", "compose", "-p", project, "down", "-v", "--remove-orphans", "-t", "5"],
                env=project_env(project, Path(os.devnull)), timeout=180)
    for item in resources(docker_client, project):
        force_remove(item)


class Workshop:
    """One running test workshop: its name, env file, ports and images, and requests that
    carry its token."""

    def __init__(self, docker_client: docker.DockerClient, name: str, env_file: Path, ports: dict[str, int],
                 images: list[str]):
        self.docker_client, self.name, self.env_file, self.ports, self.images = \
            docker_client, name, env_file, ports, images
        self.env = project_env(name, env_file, ports)
        self.token = ""
        self.up_output = ""
        self.figures: dict = {}  # times measured, for results/workshop.json

    def workshop(self, *args: str, env: dict | None = None, timeout: float = UP_TIMEOUT):
        """Run ``scripts/workshop ARGS`` for this project (``env`` adds to its environment)."""
        return compose_run([str(WORKSHOP), *args], env={**self.env, **(env or {})}, timeout=timeout)

    def up(self) -> float:
        """Start (or re-start) every image; the seconds it took."""
        start = time.monotonic()
        proc = self.workshop(*self.images)
        elapsed = time.monotonic() - start
        if proc.returncode != 0:
            raise WorkshopError(f"scripts/workshop failed ({proc.returncode}): {proc.stdout}{proc.stderr}")
        self.up_output = proc.stdout
        found = re.search(r"^JUPYTER_TOKEN=(.*)$", self.env_file.read_text(), re.M)
        assert found, f"no JUPYTER_TOKEN in {self.env_file}"
        self.token = found.group(1)
        return elapsed

    def down(self):
        proc = self.workshop("down", timeout=180)
        if proc.returncode != 0:
            raise WorkshopError(f"scripts/workshop down failed: {proc.stdout}{proc.stderr}")
        return proc

    def containers(self, service: str | None = None, all: bool = False) -> list:
        labels = [f"{PROJECT_LABEL}={self.name}", *([f"{SERVICE_LABEL}={service}"] if service else [])]
        return self.docker_client.containers.list(all=all, filters={"label": labels})

    def container(self, service: str):
        """The one running container of ``service``."""
        found = self.containers(service)
        if len(found) != 1:
            raise WorkshopError(f"expected one running container of {service}, found {found}")
        return found[0]

    def wait_healthy(self, service: str, timeout: float, since_restarts: int = -1):
        """The container of ``service`` once it is healthy (and has restarted more than
        ``since_restarts`` times); WorkshopError after ``timeout`` seconds."""
        def healthy():
            return next((c for c in self.containers(service, all=True)
                         if c.attrs["State"].get("Health", {}).get("Status") == "healthy"
                         and c.attrs["RestartCount"] > since_restarts), None)
        return wait.until(healthy, timeout, what=f"{service} healthy", error=WorkshopError)

    def remove(self) -> None:
        remove_project(self.docker_client, self.name)

    def resources(self) -> list:
        return resources(self.docker_client, self.name)

    def url(self, image: str, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.ports[image]}{path}"

    def get(self, image, path, token=True, **kw):
        headers = {"Authorization": f"token {self.token}"} if token else {}
        headers.update(kw.pop("headers", {}))
        return requests.get(self.url(image, path), headers=headers, timeout=30, **kw)

    def api(self, image, method, path, body=None):
        return requests.request(method, self.url(image, path), json=body, timeout=30,
                                headers={"Authorization": f"token {self.token}"})
