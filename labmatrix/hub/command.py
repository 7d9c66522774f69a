"""scripts/hub: JupyterHub for a whole class, in its own image (images/hub/).

    python -m labmatrix.hub [--public] [--port N] [--no-build] [--env-file F] [--name N]
    python -m labmatrix.hub down [--name N]

``up`` builds the hub image (and any missing lab image), creates the attendees' network
and the hub's state volume, (re)starts the hub container and waits for ``/hub/health``.
Started again while running, it replaces only the hub container: the attendees' servers
keep running and the new hub finds them. ``down`` removes the hub and every attendee's
container and the network; volumes (the hub's state, every attendee's work) are kept.

Everything carries the label ``org.concurrency-lab.project=<name>`` (and, when a test or a
benchmark starts the hub, the driver labels of :func:`labmatrix.container.run_labels`, so
that a dead run's hub is swept). Errors are one line (labmatrix/errors.py). The profiles and the lockdown the hub applies come from profiles.json,
rendered here from matrix.toml and labmatrix/hardening.py (:func:`outputs`).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import docker
import docker.errors

from .. import matrix, registry, templates, wait
from ..container import client, free_port, missing_images
from ..errors import BadInput, MissingEnvironment, RunFailed
from ..hardening import HARDENING

NAME = "concurrency-lab-hub"
TAG = f"{matrix.IMAGE_REPO}:hub"
PORT = 8000
ADMIN = "instructor"
PROFILES_JSON = matrix.ROOT / "images" / "hub" / "profiles.json"
Z2JH_YAML = matrix.ROOT / "deploy" / "z2jh.yaml"
UP_TIMEOUT = 180  # seconds for the hub to answer /hub/health (traefik may take 120)
API_PORT_LABEL = matrix.API_PORT_LABEL
#: Labels a test or benchmark adds to everything its hub makes (JSON; see ``run_labels``).
RUN_LABELS_ENV = "HUB_RUN_LABELS"


class HubError(BadInput):
    """One line for the instructor: what is wrong and how to fix it (bad input, exit 2,
    unless it says otherwise)."""


def run_labels() -> dict[str, str]:
    """The labels of the run that starts this hub, from HUB_RUN_LABELS (tests, bench-hub)."""
    try:
        labels = json.loads(os.environ.get(RUN_LABELS_ENV) or "{}")
    except ValueError:
        labels = None
    if not isinstance(labels, dict):
        raise HubError(f"{RUN_LABELS_ENV} is not a JSON object of labels; unset it")
    return {str(k): str(v) for k, v in labels.items()}


# --- Rendered files (scripts/render calls outputs()).


def profiles() -> list[dict]:
    return [{"name": i.name, "tag": i.tag, "python": i.python, "default_method": i.default_method,
             "platform": i.platform, "why": i.why} for i in matrix.images()]


def _k8s_size(docker_size: str) -> str:
    """Docker's 2g / 256m as Kubernetes quantities (2Gi / 256Mi)."""
    found = re.fullmatch(r"(\d+)([kmg])", docker_size.lower())
    if found is None:
        raise ValueError(f"hardening: {docker_size!r} is not a Docker size like 2g or 256m")
    number, unit = found.groups()
    return f"{number}{unit.upper()}i" if unit != "k" else f"{number}Ki"


def outputs() -> dict[Path, str]:
    rendered = {"label": matrix.LABEL, "user_label": matrix.HUB_USER_LABEL, "profiles": profiles(), "hardening": HARDENING}
    z2jh = templates.render("z2jh.yaml.j2",
        profiles=profiles(), repo=matrix.IMAGE_REPO, hardening=HARDENING,
        memory=_k8s_size(str(HARDENING["mem_limit"])), shm=_k8s_size(str(HARDENING["shm_size"])))
    return {PROFILES_JSON: json.dumps(rendered, indent=1) + "\n", Z2JH_YAML: z2jh}


# --- The instructor's .env.


def read_env(path: Path) -> dict[str, str]:
    from ..envfile import EnvError, parse

    try:
        text = path.read_text() if path.exists() else ""
        return {k: v for k, (_, v) in parse(text, {}).items()}
    except (OSError, UnicodeDecodeError, EnvError) as exc:
        raise HubError(f"cannot read {path}: {exc}") from None


def settings(path: Path, environ: Mapping[str, str]) -> dict[str, str]:
    """HUB_* from the environment or .env; the admin password is made if missing."""
    found = read_env(path)
    get = lambda key, default="": (environ.get(key) or found.get(key) or default).strip()  # noqa: E731
    password = get("HUB_PASSWORD")
    if not password:
        raise HubError(f"no HUB_PASSWORD in {path}: add a line HUB_PASSWORD=<a strong password, "
                       "8+ characters> (attendees log in with it) and run scripts/hub again")
    if len(password) < 8:
        raise HubError(f"HUB_PASSWORD in {path} has {len(password)} characters; use 8 or more (a strong one)")
    admin_password = get("HUB_ADMIN_PASSWORD")
    if not admin_password:
        admin_password = secrets.token_urlsafe(32)
        text = path.read_text() if path.exists() else ""
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "a") as f:
            f.write(("" if not text or text.endswith("\n") else "\n") + f"HUB_ADMIN_PASSWORD={admin_password}\n")
        os.chmod(path, 0o600)
    elif len(admin_password) < 32 or admin_password == password:
        raise HubError(f"HUB_ADMIN_PASSWORD in {path} must have 32+ characters and differ from HUB_PASSWORD "
                       "(delete the line and scripts/hub makes one)")
    idle = get("HUB_IDLE_TIMEOUT", "3600")
    if not idle.isdigit():
        raise HubError(f"HUB_IDLE_TIMEOUT={idle} in {path} is not a number of seconds (0 turns the culler off)")
    admin = get("HUB_ADMIN", ADMIN)
    if not re.fullmatch(r"[a-z0-9][a-z0-9._-]*", admin):
        raise HubError(f"HUB_ADMIN={admin} in {path} is not a user name; use lower-case letters, digits, . _ -")
    return {"HUB_PASSWORD": password, "HUB_ADMIN_PASSWORD": admin_password, "HUB_ADMIN": admin,
            "HUB_IDLE_TIMEOUT": idle, "HUB_ACTIVITY_INTERVAL": get("HUB_ACTIVITY_INTERVAL", "300"),
            "HUB_PORT": get("HUB_PORT", "")}


# --- Docker.


def _socket_path() -> str:
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    if not host.startswith("unix://"):
        raise MissingEnvironment(f"DOCKER_HOST={host}: the hub needs the local Docker socket (unix://); "
                                 "unset DOCKER_HOST")
    return host[len("unix://"):]


def port_free(ip: str, port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((ip, port))
        except OSError:
            return False
    return True


def build(no_build: bool) -> None:
    """The hub image (always: the build cache makes it quick), after the wheelhouse."""
    if no_build:
        return
    py = str(matrix.ROOT / ".venv" / "bin" / "python")
    env = {**os.environ, "PYTHON": py if os.path.exists(py) else "python3"}
    steps = [["scripts/wheelhouse"],
             ["docker", "build", "--quiet", "-f", "images/hub/Dockerfile", "-t", TAG,
              "--build-arg", f"SUITE={matrix.hub()['suite']}", "--build-arg", f"PYTHON={matrix.hub()['python']}",
              "--build-arg", f"DEBIAN_MIRROR={matrix.mirror()}",
              "--label", f"{matrix.LABEL}={NAME}", "."]]
    for cmd in steps:
        done = subprocess.run(cmd, cwd=matrix.ROOT, env=env, capture_output=True, text=True)
        if done.returncode:
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["(no output)"]
            raise RunFailed(f"{' '.join(cmd[:2])} failed: {tail[0]}")


def network(docker_client: docker.DockerClient, name: str, api_port: int | None = None, swarm: bool = False):
    """The attendees' bridge, with inter-container traffic off (icc=false): their
    containers cannot reach each other. The hub (host network) reaches them all, and they
    reach the hub's API on the bridge's gateway, at a port chosen once and kept in the
    network's labels: servers that outlive a hub restart still find the hub there."""
    try:
        return docker_client.networks.get(name)
    except docker.errors.NotFound:
        labels = {**run_labels(), matrix.LABEL: name, API_PORT_LABEL: str(api_port or free_port())}
        if swarm:  # the hub container joins it (attachable); services on every node too
            return docker_client.networks.create(name, driver="overlay", attachable=True, labels=labels)
        return docker_client.networks.create(name, driver="bridge", labels=labels,
                                   options={"com.docker.network.bridge.enable_icc": "false"})


def api_port(net) -> str:
    port = (net.attrs.get("Labels") or {}).get(API_PORT_LABEL)
    if not port:
        raise RunFailed(f"network {net.name} has no {API_PORT_LABEL} label; run scripts/hub down, then start again")
    return port


def gateway(net) -> str:
    net.reload()
    return net.attrs["IPAM"]["Config"][0]["Gateway"]


def volume(docker_client: docker.DockerClient, name: str, hub_name: str):
    try:
        return docker_client.volumes.get(name), False
    except docker.errors.NotFound:
        return docker_client.volumes.create(name, labels={**run_labels(), matrix.LABEL: hub_name}), True


def containers(docker_client, name: str) -> list:
    """Every container of the hub ``name``: the hub's and its attendees' servers."""
    return docker_client.containers.list(all=True, sparse=True, ignore_removed=True,
                               filters={"label": f"{matrix.LABEL}={name}"})


def remove_container(docker_client: docker.DockerClient, container_name: str, timeout: int = 10) -> None:
    try:
        c = docker_client.containers.get(container_name)
    except docker.errors.NotFound:
        return
    try:
        c.stop(timeout=timeout)
        c.remove(force=True)
    except docker.errors.NotFound:
        pass
    except docker.errors.APIError as exc:
        if exc.status_code not in (404, 409):  # 409: auto-remove already under way
            raise


def wait_healthy(docker_client: docker.DockerClient, name: str, url: str, timeout: float = UP_TIMEOUT) -> float:
    import requests

    def answers() -> bool:
        c = docker_client.containers.get(name)
        if c.status in ("exited", "dead") or c.attrs["RestartCount"] > 0:
            lines = [ln for ln in c.logs(tail=20).decode(errors="replace").splitlines() if ln.strip()]
            why = next((ln for ln in reversed(lines) if ln.startswith("hub:")), lines[-1] if lines else "")
            raise RunFailed(f"the hub stopped at start: {why.strip()} (docker logs {name})")
        try:
            return requests.get(url, timeout=3).status_code == 200
        except requests.RequestException:
            return False

    start = time.monotonic()
    wait.until(answers, timeout, what=f"the hub's answer at {url} (docker logs {name})")
    return time.monotonic() - start


def up(args: argparse.Namespace) -> int:
    """Three phases: the images (pulled or built), the hub's container (healthy, or
    nothing of it left), the welcome."""
    env_file = Path(args.env_file)
    conf = settings(env_file, os.environ)
    port = args.port or int(conf["HUB_PORT"] or PORT)
    ip = "0.0.0.0" if args.public else "127.0.0.1"
    docker_client = client()
    sock = _socket_path()
    get_images(docker_client, args.no_build)
    seconds = start_hub(docker_client, args, conf, env_file, sock, ip, port)
    welcome(args, conf, env_file, port, seconds)
    return 0


def get_images(docker_client, no_build: bool) -> None:
    """The hub image and the lab images: pulled when a registry is set and answers, else
    built (a lab image that still misses is said, and its profile gets an error page)."""
    if not registry.pulled_for_hub(missing_images(docker_client, matrix.images()), MissingEnvironment):
        build(no_build)
    try:
        docker_client.images.get(TAG)
    except docker.errors.ImageNotFound:
        raise MissingEnvironment(f"the hub image {TAG} is missing; run scripts/hub without --no-build") from None
    missing = missing_images(docker_client, matrix.images())
    if missing and not no_build:
        done = subprocess.run(["scripts/build-images", *missing], cwd=matrix.ROOT, capture_output=True, text=True)
        if done.returncode:
            raise RunFailed(f"scripts/build-images {' '.join(missing)} failed; run it to see why")
        missing = missing_images(docker_client, matrix.images())
    for name in missing:
        print(f"hub: image {matrix.get_image(name).tag} is missing: attendees who pick {name} get an error page; "
              f"build it with scripts/build-images {name}", file=sys.stderr)


def start_hub(docker_client, args: argparse.Namespace, conf: dict, env_file: Path, sock: str, ip: str, port: int) -> float:
    """The hub's network, data volume and container, up to its health answer; the seconds
    that took. On any failure what this call made is removed."""
    created = []
    try:
        # A running hub of this name is replaced; its attendees' servers keep running.
        remove_container(docker_client, args.name)
        if not port_free(ip, port):
            raise HubError(f"port {port} on {ip} is in use; free it, or pass --port N (or set HUB_PORT in {env_file})")
        swarm = args.spawner == "swarm"
        net = network(docker_client, args.name, args.api_port, swarm)
        data, new = volume(docker_client, f"{args.name}-data", args.name)
        if new:
            created.append(data)
        run_env = {**{k: v for k, v in conf.items() if k != "HUB_PORT"},
                   "HUB_NAME": args.name, "HUB_IP": ip, "HUB_PORT": str(port),
                   "HUB_API_IP": gateway(net), "HUB_API_PORT": api_port(net),
                   "HUB_PROXY_API_PORT": str(free_port()), "HUB_NETWORK": net.name,
                   "HUB_LABS_DIR": str(matrix.LABS_DIR), "HUB_SPAWNER": args.spawner,
                   RUN_LABELS_ENV: json.dumps(run_labels())}
        # Beside a bridge the hub shares the host's network (it reaches every attendee's
        # container, and they reach it on the gateway). On a swarm it is a container on the
        # overlay with its port published, found by its name.
        where: dict[str, Any] = {"network_mode": "host"}
        if swarm:
            run_env.update(HUB_IP="0.0.0.0", HUB_API_IP="0.0.0.0", HUB_API_CONNECT=args.name)
            where = {"network": net.name, "ports": {f"{port}/tcp": (ip, port)}}
        hub = docker_client.containers.run(
            TAG, name=args.name, detach=True, environment=run_env, **where,
            labels={**run_labels(), matrix.LABEL: args.name}, user="1000:1000", group_add=[str(os.stat(sock).st_gid)],
            volumes={sock: {"bind": "/var/run/docker.sock", "mode": "rw"},
                     data.name: {"bind": "/srv/jupyterhub", "mode": "rw"},
                     **({os.path.abspath(args.profiles): {"bind": "/etc/jupyterhub/profiles.json", "mode": "ro"}}
                        if args.profiles else {})},
            restart_policy={"Name": "unless-stopped"},
            **{k: v for k, v in HARDENING.items() if k != "shm_size"})
        created.append(hub)
        return wait_healthy(docker_client, args.name, f"http://127.0.0.1:{port}/hub/health")
    except BaseException:
        for item in reversed(created):
            item.remove(force=True)
        raise


def welcome(args: argparse.Namespace, conf: dict, env_file: Path, port: int, seconds: float) -> None:
    host = socket.getfqdn() if args.public else "127.0.0.1"
    print(f"hub: JupyterHub up after {seconds:.0f} s: http://{host}:{port}/hub/login")
    print(f"  attendees: any user name, and the workshop password (HUB_PASSWORD in {env_file})")
    print(f"  instructor: {conf['HUB_ADMIN']}, with HUB_ADMIN_PASSWORD from {env_file}; admin page /hub/admin")
    if args.public:
        print("  serving the room on every interface: put TLS in front (README, 'The hub')", file=sys.stderr)
    print("  stop: scripts/hub down (attendees' work is kept)")


def down(args: argparse.Namespace) -> int:
    docker_client = client()
    remove_container(docker_client, args.name)
    users = containers(docker_client, args.name)
    for c in users:
        remove_container(docker_client, c.id, timeout=5)
    try:  # SwarmSpawner's services, where this host manages a swarm
        services = docker_client.services.list(filters={"label": f"{matrix.LABEL}={args.name}"})
    except docker.errors.APIError:
        services = []
    for service in services:
        service.remove()
    users += services
    # Auto-removed containers (a swarm's tasks) leave the network a moment after they stop,
    # and a swarm removes an overlay network a moment after it is asked to.
    def network_gone() -> bool:
        if not docker_client.networks.list(names=[args.name], filters={"label": f"{matrix.LABEL}={args.name}"}):
            return True
        try:
            docker_client.networks.get(args.name).remove()
        except (docker.errors.NotFound, docker.errors.APIError):
            pass  # still in use by a task that is stopping: asked again next time
        return False

    wait.until(network_gone, 60, what=f"the removal of network {args.name} (docker network rm {args.name})")
    kept = docker_client.volumes.list(filters={"label": f"{matrix.LABEL}={args.name}"})
    print(f"hub: stopped {args.name} and {len(users)} attendee server(s); "
          f"{len(kept)} volume(s) kept (docker volume ls --filter label={matrix.LABEL}={args.name})")
    return 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="scripts/hub", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", nargs="?", default="up", choices=["up", "down"])
    parser.add_argument("--public", action="store_true", help="listen on every interface (put TLS in front)")
    parser.add_argument("--port", type=int, help=f"the public port (default HUB_PORT in .env, or {PORT})")
    parser.add_argument("--no-build", action="store_true", help="never build; fail on a missing hub image")
    parser.add_argument("--env-file", default=str(matrix.ROOT / ".env"))
    parser.add_argument("--name", default=NAME, help="names every container, network and volume")
    parser.add_argument("--api-port", type=int, help=argparse.SUPPRESS)
    # Tests: a profiles.json to use instead of the image's (e.g. with an image to remove).
    parser.add_argument("--profiles", help=argparse.SUPPRESS)
    parser.add_argument("--spawner", choices=["docker", "swarm"], default="docker",
                        help="swarm: attendees' servers as services of a Docker swarm")
    args = parser.parse_args(argv)
    if args.port is not None and not 1024 <= args.port <= 65535:
        raise BadInput(f"--port {args.port} is not a port; use 1024-65535")
    return up(args) if args.command == "up" else down(args)

