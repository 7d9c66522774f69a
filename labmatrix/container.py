"""The container layer: every Docker call of the host side starts here.

- :func:`client`: the one Docker client constructor (a one-line error when no daemon answers);
- :func:`missing_images` / :func:`require_images`: which images are built;
- :func:`free_port`: a free loopback port;
- :func:`sweep_dead`: remove what a dead run left (containers, networks, volumes, images),
  found by the driver's pid and host labels (:func:`run_labels`) that everything carries;
- :class:`LabContainer`: one locked-down container's whole life, as a context manager
  (cibuildwheel's ``OCIContainer``); every command runs under ``timeout`` *inside* the
  container, because the Docker SDK has no read timeout of its own;
- :class:`ContainerPool`: an ``ExitStack`` of lab containers, n per image, started and
  removed side by side (the matrix session and scripts/check both use it).

``LABMATRIX_KEEP_CONTAINERS=1`` keeps the container of a failing cell for ``docker exec``
(as cibuildwheel's ``CIBW_DEBUG_KEEP_CONTAINER``); the next run's sweep removes it.
"""

from __future__ import annotations

import os
import socket
import sys
import uuid
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from typing import Any

import docker
import docker.errors
import docker.models.images
import docker.models.networks

from .errors import MissingEnvironment, RunFailed
from .hardening import HARDENING
from .matrix import HOST_LABEL, KEY_LABEL, LABEL, LABS_DIR, PID_LABEL, Image

LABS_MOUNT = "/home/lab/labs"
KEEP_ENV = "LABMATRIX_KEEP_CONTAINERS"


class DriverError(RunFailed):
    """A run of the driver could not go on (a runner failed in a container)."""


def client(timeout: int = 120, base_url: str | None = None) -> docker.DockerClient:
    """The Docker client (of ``base_url``, else from DOCKER_HOST or the default socket),
    checked to answer."""
    try:
        docker_client = docker.DockerClient(base_url=base_url, timeout=timeout) if base_url else \
            docker.from_env(timeout=timeout)
        docker_client.ping()
        return docker_client
    except docker.errors.DockerException as exc:
        raise MissingEnvironment(f"no Docker daemon answers ({exc.__class__.__name__}); start Docker (on Linux: "
                                 "'sudo systemctl start docker') and try again") from None


def missing_images(docker_client: docker.DockerClient, images: Iterable[Image]) -> list[str]:
    """The names of the ``images`` that are not built (nor pulled) here."""
    missing = []
    for image in images:
        try:
            docker_client.images.get(image.tag)
        except docker.errors.ImageNotFound:
            missing.append(image.name)
    return missing


def require_images(docker_client: docker.DockerClient, images: Iterable[Image]) -> None:
    missing = missing_images(docker_client, images)
    if missing:
        raise MissingEnvironment(f"image(s) not built: {', '.join(missing)}; build them with: "
                                 f"scripts/build-images {' '.join(missing)}")


def free_port() -> int:
    """A port free on 127.0.0.1 now (the caller binds it soon after)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_labels(pid: int | None = None) -> dict[str, str]:
    """The labels that tie a container, network, volume or image to the process that made
    it (the project label, the driver's pid and host): what :func:`sweep_dead` reads."""
    return {LABEL: "concurrency-lab", PID_LABEL: str(pid or os.getpid()), HOST_LABEL: socket.gethostname()}


def pid_alive(pid: int) -> bool:
    """Whether a process of this host still runs (one we may not signal counts as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _labels(item: Any) -> dict[str, str]:
    attrs = item.attrs
    return attrs.get("Labels") or attrs.get("Config", {}).get("Labels") or {}


def force_remove(item: Any) -> bool:
    """Remove a container (forced), network, volume or image; False if it was already gone."""
    try:
        if isinstance(item, docker.models.networks.Network):
            item.remove()
        elif isinstance(item, docker.models.images.Image):
            item.client.images.remove(item.id, force=True)
        else:
            item.remove(force=True)
    except docker.errors.NotFound:
        return False
    except docker.errors.APIError as exc:
        if exc.status_code != 409:  # already being removed, or still in use by a leftover
            raise
        return False
    return True


def _owned(docker_client: docker.DockerClient, select: dict[str, str]) -> list[Any]:
    """Containers, then networks, volumes and images whose labels match ``select`` (in the
    order they can be removed). Other sessions remove theirs meanwhile: skip those."""
    flt = {"label": [f"{k}={v}" if v else k for k, v in select.items()]}
    return [*docker_client.containers.list(all=True, sparse=True, ignore_removed=True, filters=flt),
            *docker_client.networks.list(filters=flt), *docker_client.volumes.list(filters=flt),
            *docker_client.images.list(filters=flt)]


def sweep_dead(docker_client: docker.DockerClient) -> list[str]:
    """Remove what runs on this host left behind when they died: every container, network,
    volume and image labelled with a driver pid (:func:`run_labels`) that no longer runs.
    An attendee's work volume carries no driver pid, so no sweep ever removes it."""
    host, removed = socket.gethostname(), []
    for item in _owned(docker_client, {PID_LABEL: ""}):
        labels = _labels(item)
        pid = labels.get(PID_LABEL, "")
        if labels.get(HOST_LABEL) != host or not pid.isdigit() or pid_alive(int(pid)):
            continue
        if force_remove(item):
            removed.append(getattr(item, "name", None) or item.short_id)
    return removed


def remove_mine(docker_client: docker.DockerClient, pid: int | None = None) -> None:
    """Remove every container this process started, kept ones aside (the last line of defence)."""
    for container in docker_client.containers.list(all=True, sparse=True, ignore_removed=True,
                                                   filters={"label": f"{PID_LABEL}={pid or os.getpid()}"}):
        if container.id not in LabContainer.kept:
            force_remove(container)


def keep_failing() -> bool:
    return os.environ.get(KEEP_ENV, "") not in ("", "0")


class LabContainer:
    """A long-lived, locked-down container of one matrix image, used by ``exec``."""

    #: Ids of containers kept for ``docker exec`` (LABMATRIX_KEEP_CONTAINERS=1).
    kept: set[str] = set()

    def __init__(self, docker_client: docker.DockerClient, image: Image, *, volumes: dict | None = None,
                 tmpfs: dict | None = None):
        """``volumes`` and ``tmpfs`` add mounts to the lab's (as the Docker SDK takes them),
        e.g. scripts/check's read-only box folder and its scratch tmpfs."""
        self.docker_client, self.image = docker_client, image
        self.container: Any = None
        self.key = uuid.uuid4().hex
        self.extra_volumes, self.tmpfs = dict(volumes or {}), dict(tmpfs or {})
        self.failed = False  # a cell failed in it: kept when LABMATRIX_KEEP_CONTAINERS=1

    def __enter__(self) -> LabContainer:
        try:
            self._start()
        except BaseException:  # e.g. Ctrl-C while the daemon was creating it
            self.remove()
            raise
        return self

    def labels(self) -> dict[str, str]:
        """The run's labels (:func:`run_labels`) and the key that ``remove`` finds it by."""
        return {**run_labels(), KEY_LABEL: self.key}

    def _start(self) -> None:
        self.container = self.docker_client.containers.run(
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

    def __exit__(self, *exc_info: object) -> None:
        self.remove()

    def remove(self) -> None:
        """Remove the container, found by its key even if creating it was interrupted; a
        failing one is kept instead when LABMATRIX_KEEP_CONTAINERS=1."""
        if self.failed and keep_failing() and self.container is not None:
            if self.container.id not in LabContainer.kept:
                LabContainer.kept.add(self.container.id)
                print(f"kept {self.image.name}'s container for a look: docker exec -it {self.container.name} bash "
                      f"(then docker rm -f {self.container.name})", file=sys.stderr)
            return
        for container in self.docker_client.containers.list(all=True, sparse=True, ignore_removed=True,
                                                            filters={"label": f"{KEY_LABEL}={self.key}"}):
            force_remove(container)
        self.container = None


class ContainerPool:
    """Lab containers, n per image, in an ``ExitStack``: the first start sweeps what dead
    runs left; starts and removals go side by side (each costs a second or so of daemon
    time); on any failure or Ctrl-C everything started is removed.

        with ContainerPool() as pool:
            boxes = pool.start(images, per_image=2, volumes=...)
    """

    def __init__(self, docker_client: docker.DockerClient | None = None):
        self.docker_client = docker_client
        self.boxes: dict[str, list[LabContainer]] = {}
        self._stack: ExitStack | None = None

    def __enter__(self) -> ContainerPool:
        self._stack = ExitStack()
        return self

    def _client(self) -> docker.DockerClient:
        if self.docker_client is None:
            self.docker_client = client()
        if self._stack is None:
            raise RuntimeError("ContainerPool used outside its with block")
        if not getattr(self, "_swept", False):
            sweep_dead(self.docker_client)
            self._stack.callback(remove_mine, self.docker_client)  # the last line of defence
            self._swept = True
        return self.docker_client

    def start(self, images: Sequence[Image], per_image: int = 1, **options: Any) -> list[LabContainer]:
        """Start ``per_image`` more containers of each image (``options`` as LabContainer takes them)."""
        docker_client = self._client()
        require_images(docker_client, images)
        boxes = [LabContainer(docker_client, image, **options) for image in images for _ in range(per_image)]
        assert self._stack is not None
        for box in boxes:
            self._stack.push(box.__exit__)  # removed even if its start is interrupted
        if boxes:
            with ThreadPoolExecutor(len(boxes)) as starting:
                list(starting.map(LabContainer.__enter__, boxes))
        for box in boxes:
            self.boxes.setdefault(box.image.name, []).append(box)
        return boxes

    def first(self) -> dict[str, LabContainer]:
        """The first container of each image."""
        return {name: boxes[0] for name, boxes in self.boxes.items()}

    def remove_all(self) -> None:
        """Remove every container now, side by side (the exit then finds none left)."""
        every = [box for boxes in self.boxes.values() for box in boxes]
        if every:
            with ThreadPoolExecutor(len(every)) as removal:
                list(removal.map(LabContainer.remove, every))

    def __exit__(self, *exc_info: object) -> None:
        if self._stack is not None:
            self._stack.close()
            self._stack = None
        self.boxes = {}
