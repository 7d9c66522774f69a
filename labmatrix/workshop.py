"""A workshop's compose project, next to ``LabContainer``: up, wait, down, removal, sweep.

A project is started the README's way, with ``scripts/workshop`` (which runs
``docker compose up -d --wait``), under a name, an env file and ports of its own, so a
project beside an attendee's workshop never touches it, its ``.env`` or its ``work``
volume. Everything else goes through the Docker SDK. Projects named
``<prefix><pid>[-…]`` belong to that process: when it is gone, :func:`sweep_dead`
removes what it left.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import time
from pathlib import Path

import docker

from . import matrix
from .container import DriverError, force_remove, pid_alive
from .envfile import port_var

WORKSHOP = matrix.ROOT / "scripts" / "workshop"
PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"
TEST_PREFIX = "concurrency-lab-test-"
UP_TIMEOUT = 300  # seconds for `scripts/workshop` to report every JupyterLab healthy
# Other sessions create and remove labelled containers all the time: list without
# inspecting each one (sparse), or a container removed meanwhile raises NotFound.
_LIST = {"containers": {"all": True, "sparse": True, "ignore_removed": True}, "networks": {}, "volumes": {}}


class WorkshopError(DriverError):
    """scripts/workshop failed; the message carries its output."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def project_env(project: str, env_file: Path, ports: dict[str, int] | None = None) -> dict:
    """The environment of a project: its name, env file and ports, and nothing inherited
    that would change what Compose interpolates."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PORT_", "COMPOSE_", "JUPYTER_TOKEN", "WORKSHOP_"))}
    env.update(COMPOSE_PROJECT_NAME=project, WORKSHOP_ENV_FILE=str(env_file))
    for name, port in (ports or {}).items():
        env[port_var(matrix.get_image(name))] = str(port)
    return env


def run(cmd: list[str], env: dict | None = None, timeout: float = 120, input: str | None = None):
    return subprocess.run(cmd, cwd=matrix.ROOT, env=env, capture_output=True, text=True, timeout=timeout,
                          input=input)


def resources(cli: docker.DockerClient, project: str) -> list:
    """The project's containers, networks and volumes that exist now."""
    flt = {"label": f"{PROJECT_LABEL}={project}"}
    return [item for kind, kw in _LIST.items() for item in getattr(cli, kind).list(filters=flt, **kw)]


def remove_project(cli: docker.DockerClient, project: str) -> None:
    """`compose down -v`, then force-remove anything of the project that is left."""
    run(["docker", "compose", "-p", project, "down", "-v", "--remove-orphans", "-t", "5"],
        env=project_env(project, Path(os.devnull)), timeout=180)
    for item in resources(cli, project):
        force_remove(item)


def sweep_dead(cli: docker.DockerClient, prefix: str = TEST_PREFIX) -> list[str]:
    """Remove the projects ``<prefix><pid>…`` whose process is gone (a run that was killed)."""
    projects = set()
    for kind, kw in _LIST.items():
        for item in getattr(cli, kind).list(filters={"label": matrix.LABEL}, **kw):
            labels = item.attrs.get("Labels") or item.attrs.get("Config", {}).get("Labels") or {}
            name = labels.get(PROJECT_LABEL, "")
            if name.startswith(prefix) and (pid := re.match(r"\d+", name[len(prefix):])):
                if not pid_alive(int(pid.group(0))):
                    projects.add(name)
    for name in sorted(projects):
        remove_project(cli, name)
    return sorted(projects)


class Project:
    """One workshop compose project: its name, env file, ports and images."""

    def __init__(self, cli: docker.DockerClient, name: str, env_file: Path, ports: dict[str, int],
                 images: list[str]):
        self.cli, self.name, self.env_file, self.ports, self.images = cli, name, env_file, ports, images
        self.env = project_env(name, env_file, ports)
        self.token = ""
        self.up_output = ""
        self.figures: dict = {}  # times measured, for results/workshop.json

    def workshop(self, *args: str, env: dict | None = None, timeout: float = UP_TIMEOUT):
        """Run ``scripts/workshop ARGS`` for this project (``env`` adds to its environment)."""
        return run([str(WORKSHOP), *args], env={**self.env, **(env or {})}, timeout=timeout)

    def up(self) -> float:
        """Start (or re-start) every image; the seconds it took."""
        start = time.monotonic()
        proc = self.workshop(*self.images)
        elapsed = time.monotonic() - start
        if proc.returncode != 0:
            raise WorkshopError(f"scripts/workshop failed ({proc.returncode}): {proc.stdout}{proc.stderr}")
        self.up_output = proc.stdout
        self.token = re.search(r"^JUPYTER_TOKEN=(.*)$", self.env_file.read_text(), re.M).group(1)
        return elapsed

    def down(self):
        proc = self.workshop("down", timeout=180)
        if proc.returncode != 0:
            raise WorkshopError(f"scripts/workshop down failed: {proc.stdout}{proc.stderr}")
        return proc

    def containers(self, service: str | None = None, all: bool = False) -> list:
        labels = [f"{PROJECT_LABEL}={self.name}", *([f"{SERVICE_LABEL}={service}"] if service else [])]
        return self.cli.containers.list(all=all, filters={"label": labels})

    def container(self, service: str):
        """The one running container of ``service``."""
        found = self.containers(service)
        if len(found) != 1:
            raise WorkshopError(f"expected one running container of {service}, found {found}")
        return found[0]

    def wait_healthy(self, service: str, timeout: float, since_restarts: int = -1):
        """The container of ``service`` once it is healthy (and has restarted more than
        ``since_restarts`` times); WorkshopError after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        state = {}
        while time.monotonic() < deadline:
            for container in self.containers(service, all=True):
                state = container.attrs["State"]
                if (state.get("Health", {}).get("Status") == "healthy"
                        and container.attrs["RestartCount"] > since_restarts):
                    return container
            time.sleep(0.5)  # polling Docker's state; nothing is ordered by it
        raise WorkshopError(f"{service} was not healthy within {timeout} s: {state}")

    def remove(self) -> None:
        remove_project(self.cli, self.name)

    def resources(self) -> list:
        return resources(self.cli, self.name)
