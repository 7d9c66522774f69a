"""One class owns a lab container's whole life: create, run many commands, remove.

Every container carries the project label and the driver's pid, so a later session can
sweep what a crashed one left behind. Every command runs under ``timeout`` *inside* the
container, because the Docker SDK has no read timeout of its own.
"""

from __future__ import annotations

import os
import socket
import uuid

import docker
import docker.errors
import docker.models.networks

from .hardening import HARDENING
from .matrix import LABEL, LABS_DIR, Image

LABS_MOUNT = "/home/lab/labs"
PID_LABEL = "org.concurrency-lab.driver-pid"
KEY_LABEL = "org.concurrency-lab.container-key"
HOST_LABEL = "org.concurrency-lab.driver-host"


class DriverError(Exception):
    """A problem the user can fix; reported as one line, no traceback."""


def client() -> docker.DockerClient:
    try:
        cli = docker.from_env(timeout=120)
        cli.ping()
        return cli
    except docker.errors.DockerException as exc:
        raise DriverError(f"no Docker daemon answers ({exc.__class__.__name__}); start Docker and "
                          "try again, or run only the host tests: scripts/test -m 'not docker'") from None


def require_images(cli: docker.DockerClient, images: list[Image]) -> None:
    missing = []
    for image in images:
        try:
            cli.images.get(image.tag)
        except docker.errors.ImageNotFound:
            missing.append(image.name)
    if missing:
        raise DriverError(f"image(s) not built: {', '.join(missing)}; build them with: "
                          f"scripts/build-images {' '.join(missing)}")


def sweep(cli: docker.DockerClient) -> list[str]:
    """Remove containers that a driver on this host left behind when it died."""
    removed = []
    host = socket.gethostname()
    # Other sessions remove their containers while this lists them: skip those.
    for container in cli.containers.list(all=True, filters={"label": PID_LABEL}, ignore_removed=True):
        labels = container.labels
        if labels.get(HOST_LABEL) != host or pid_alive(int(labels.get(PID_LABEL, "0"))):
            continue
        if force_remove(container):
            removed.append(container.name)
    return removed


def remove_mine(cli: docker.DockerClient, pid: int | None = None) -> None:
    """Remove every container this driver process started (the last line of defence)."""
    for container in cli.containers.list(all=True, sparse=True, filters={"label": f"{PID_LABEL}={pid or os.getpid()}"}):
        force_remove(container)


def force_remove(item) -> bool:
    """Remove a container (forced), network or volume; False if it was already gone."""
    try:
        if isinstance(item, docker.models.networks.Network):
            item.remove()
        else:
            item.remove(force=True)
    except docker.errors.NotFound:
        return False
    return True


def pid_alive(pid: int) -> bool:
    """Whether a process of this host still runs (one we may not signal counts as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class LabContainer:
    """A long-lived, locked-down container of one matrix image, used by ``exec``."""

    def __init__(self, cli: docker.DockerClient, image: Image, *, volumes: dict | None = None,
                 tmpfs: dict | None = None):
        """``volumes`` and ``tmpfs`` add mounts to the lab's (as the Docker SDK takes them),
        e.g. scripts/check's read-only script folder and its scratch tmpfs."""
        self.cli, self.image, self.container = cli, image, None
        self.key = uuid.uuid4().hex
        self.extra_volumes, self.tmpfs = dict(volumes or {}), dict(tmpfs or {})

    def __enter__(self) -> LabContainer:
        try:
            self._start()
        except BaseException:  # e.g. Ctrl-C while the daemon was creating it
            self.remove()
            raise
        return self

    def labels(self) -> dict[str, str]:
        """The project label, and what lets a sweep (driver pid, host) or ``remove`` find it."""
        return {LABEL: "concurrency-lab", PID_LABEL: str(os.getpid()),
                HOST_LABEL: socket.gethostname(), KEY_LABEL: self.key}

    def _start(self) -> None:
        self.container = self.cli.containers.run(
            self.image.tag,
            command=["sleep", "infinity"],
            detach=True,
            network_mode="none",
            labels=self.labels(),
            volumes={str(LABS_DIR): {"bind": LABS_MOUNT, "mode": "ro"}, **self.extra_volumes},
            tmpfs=self.tmpfs,
            working_dir=LABS_MOUNT,
            healthcheck={"test": ["NONE"]},  # the image's checks a JupyterLab that is not run here
            **HARDENING,
        )

    def exec(self, cmd: list[str], timeout: float, env: dict | None = None) -> tuple[int, str, str]:
        """Run ``cmd`` in the container; it is killed there after ``timeout`` seconds (rc 137)."""
        wrapped = ["timeout", "-s", "KILL", str(int(timeout)), *cmd]
        result = self.container.exec_run(wrapped, demux=True, environment=env or {})
        out, err = result.output
        return result.exit_code, (out or b"").decode(errors="replace"), (err or b"").decode(errors="replace")

    def __exit__(self, *exc_info) -> None:
        self.remove()

    def remove(self) -> None:
        """Remove the container, found by its key even if creating it was interrupted."""
        for container in self.cli.containers.list(all=True, sparse=True, filters={"label": f"{KEY_LABEL}={self.key}"}):
            force_remove(container)
        self.container = None
