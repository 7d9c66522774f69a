"""scripts/hub: JupyterHub for a whole class, in its own image (images/hub/).

    python -m labmatrix.hub [--public] [--port N] [--no-build] [--env-file F] [--name N]
    python -m labmatrix.hub down [--name N]

``up`` builds the hub image (and any missing lab image), creates the attendees' network
and the hub's state volume, (re)starts the hub container and waits for ``/hub/health``.
Started again while running, it replaces only the hub container: the attendees' servers
keep running and the new hub finds them. ``down`` removes the hub and every attendee's
container and the network; volumes (the hub's state, every attendee's work) are kept.

Everything carries the label ``org.concurrency-lab.project=<name>``. Bad input ends with
one line (exit 1). The profiles and the lockdown the hub applies come from profiles.json,
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
from pathlib import Path

from . import cli, matrix, registry
from .hardening import HARDENING

# The hub image's Debian suite and Python (its lock is requirements/hub.txt).
HUB_SUITE = "trixie"
HUB_PYTHON = "3.13"
NAME = "concurrency-lab-hub"
TAG = f"{matrix.IMAGE_REPO}:hub"
PORT = 8000
ADMIN = "instructor"
PROFILES_JSON = matrix.ROOT / "images" / "hub" / "profiles.json"
Z2JH_YAML = matrix.ROOT / "deploy" / "z2jh.yaml"
UP_TIMEOUT = 180  # seconds for the hub to answer /hub/health (traefik may take 120)
USER_LABEL = f"{matrix.LABEL}-user"
API_PORT_LABEL = f"{matrix.LABEL_PREFIX}.hub-api-port"


class HubError(Exception):
    """One line for the instructor: what is wrong and how to fix it."""


# --- Rendered files (scripts/render calls outputs()).


def profiles() -> list[dict]:
    return [{"name": i.name, "tag": i.tag, "python": i.python, "default_method": i.default_method,
             "platform": i.platform, "why": i.why} for i in matrix.images()]


def _k8s_size(docker_size: str) -> str:
    """Docker's 2g / 256m as Kubernetes quantities (2Gi / 256Mi)."""
    number, unit = re.fullmatch(r"(\d+)([kmg])", docker_size.lower()).groups()
    return f"{number}{unit.upper()}i" if unit != "k" else f"{number}Ki"


def outputs() -> dict[Path, str]:
    import jinja2

    rendered = {"label": matrix.LABEL, "profiles": profiles(), "hardening": HARDENING}
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(matrix.ROOT / "labmatrix" / "templates"),
                             keep_trailing_newline=True, undefined=jinja2.StrictUndefined)
    z2jh = env.get_template("z2jh.yaml.j2").render(
        profiles=profiles(), repo=matrix.IMAGE_REPO, hardening=HARDENING,
        memory=_k8s_size(HARDENING["mem_limit"]), shm=_k8s_size(HARDENING["shm_size"]))
    return {PROFILES_JSON: json.dumps(rendered, indent=1) + "\n", Z2JH_YAML: z2jh}


# --- The instructor's .env.


def read_env(path: Path) -> dict[str, str]:
    from .envfile import EnvError, parse

    try:
        text = path.read_text() if path.exists() else ""
        return {k: v for k, (_, v) in parse(text, {}).items()}
    except (OSError, UnicodeDecodeError, EnvError) as exc:
        raise HubError(f"cannot read {path}: {exc}") from None


def settings(path: Path, environ: dict[str, str]) -> dict[str, str]:
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


def _client():
    import docker

    try:
        cli = docker.from_env(timeout=120)
        cli.ping()
        return cli
    except Exception:  # noqa: BLE001 - any failure to reach the daemon is the same advice
        raise HubError("no Docker daemon answers; start Docker and try again") from None


def _socket_path() -> str:
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    if not host.startswith("unix://"):
        raise HubError(f"DOCKER_HOST={host}: the hub needs the local Docker socket (unix://); unset DOCKER_HOST")
    return host[len("unix://"):]


def port_free(ip: str, port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((ip, port))
        except OSError:
            return False
    return True


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def build(no_build: bool) -> None:
    """The hub image (always: the build cache makes it quick), after the wheelhouse."""
    if no_build:
        return
    py = str(matrix.ROOT / ".venv" / "bin" / "python")
    env = {**os.environ, "PYTHON": py if os.path.exists(py) else "python3"}
    steps = [["scripts/wheelhouse"],
             ["docker", "build", "--quiet", "-f", "images/hub/Dockerfile", "-t", TAG,
              "--build-arg", f"SUITE={HUB_SUITE}", "--build-arg", f"PYTHON={HUB_PYTHON}",
              "--build-arg", f"DEBIAN_MIRROR={os.environ.get('DEBIAN_MIRROR') or matrix.mirror()}",
              "--label", f"{matrix.LABEL}={NAME}", "."]]
    for cmd in steps:
        done = subprocess.run(cmd, cwd=matrix.ROOT, env=env, capture_output=True, text=True)
        if done.returncode:
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["(no output)"]
            raise HubError(f"{' '.join(cmd[:2])} failed: {tail[0]}")


def missing_lab_images(cli) -> list[str]:
    import docker

    missing = []
    for image in matrix.images():
        try:
            cli.images.get(image.tag)
        except docker.errors.ImageNotFound:
            missing.append(image.name)
    return missing


def network(cli, name: str, api_port: int | None = None, swarm: bool = False):
    """The attendees' bridge, with inter-container traffic off (icc=false): their
    containers cannot reach each other. The hub (host network) reaches them all, and they
    reach the hub's API on the bridge's gateway, at a port chosen once and kept in the
    network's labels: servers that outlive a hub restart still find the hub there."""
    import docker

    try:
        return cli.networks.get(name)
    except docker.errors.NotFound:
        labels = {matrix.LABEL: name, API_PORT_LABEL: str(api_port or free_port())}
        if swarm:  # the hub container joins it (attachable); services on every node too
            return cli.networks.create(name, driver="overlay", attachable=True, labels=labels)
        return cli.networks.create(name, driver="bridge", labels=labels,
                                   options={"com.docker.network.bridge.enable_icc": "false"})


def api_port(net) -> str:
    port = (net.attrs.get("Labels") or {}).get(API_PORT_LABEL)
    if not port:
        raise HubError(f"network {net.name} has no {API_PORT_LABEL} label; run scripts/hub down, then start again")
    return port


def gateway(net) -> str:
    net.reload()
    return net.attrs["IPAM"]["Config"][0]["Gateway"]


def volume(cli, name: str, hub_name: str):
    import docker

    try:
        return cli.volumes.get(name), False
    except docker.errors.NotFound:
        return cli.volumes.create(name, labels={matrix.LABEL: hub_name}), True


def containers(cli, name: str) -> list:
    """Every container of the hub ``name``: the hub's and its attendees' servers."""
    return cli.containers.list(all=True, sparse=True, ignore_removed=True,
                               filters={"label": f"{matrix.LABEL}={name}"})


def remove_container(cli, container_name: str, timeout: int = 10) -> None:
    import docker

    try:
        c = cli.containers.get(container_name)
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


def wait_healthy(cli, name: str, url: str, timeout: float = UP_TIMEOUT) -> float:
    import requests

    start = time.monotonic()
    while time.monotonic() - start < timeout:
        c = cli.containers.get(name)
        if c.status in ("exited", "dead") or c.attrs["RestartCount"] > 0:
            lines = [ln for ln in c.logs(tail=20).decode(errors="replace").splitlines() if ln.strip()]
            why = next((ln for ln in reversed(lines) if ln.startswith("hub:")), lines[-1] if lines else "")
            raise HubError(f"the hub stopped at start: {why.strip()} (docker logs {name})")
        try:
            if requests.get(url, timeout=3).status_code == 200:
                return time.monotonic() - start
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise HubError(f"the hub did not answer {url} within {timeout:.0f} s (docker logs {name})")


def up(args) -> int:
    env_file = Path(args.env_file)
    conf = settings(env_file, os.environ)
    port = args.port or int(conf["HUB_PORT"] or PORT)
    ip = "0.0.0.0" if args.public else "127.0.0.1"
    cli = _client()
    sock = _socket_path()
    if not registry.pulled_for_hub(missing_lab_images(cli), HubError):  # pull before build
        build(args.no_build)
    try:
        cli.images.get(TAG)
    except Exception:  # noqa: BLE001
        raise HubError(f"the hub image {TAG} is missing; run scripts/hub without --no-build") from None
    missing = missing_lab_images(cli)
    if missing and not args.no_build:
        done = subprocess.run(["scripts/build-images", *missing], cwd=matrix.ROOT, capture_output=True, text=True)
        if done.returncode:
            raise HubError(f"scripts/build-images {' '.join(missing)} failed; run it to see why")
        missing = missing_lab_images(cli)
    for name in missing:
        print(f"hub: image {matrix.get_image(name).tag} is missing: attendees who pick {name} get an error page; "
              f"build it with scripts/build-images {name}", file=sys.stderr)
    created = []
    try:
        # A running hub of this name is replaced; its attendees' servers keep running.
        remove_container(cli, args.name)
        if not port_free(ip, port):
            raise HubError(f"port {port} on {ip} is in use; free it, or pass --port N (or set HUB_PORT in {env_file})")
        swarm = args.spawner == "swarm"
        net = network(cli, args.name, args.api_port, swarm)
        data, new = volume(cli, f"{args.name}-data", args.name)
        if new:
            created.append(data)
        run_env = {**{k: v for k, v in conf.items() if k != "HUB_PORT"},
                   "HUB_NAME": args.name, "HUB_IP": ip, "HUB_PORT": str(port),
                   "HUB_API_IP": gateway(net), "HUB_API_PORT": api_port(net),
                   "HUB_PROXY_API_PORT": str(free_port()), "HUB_NETWORK": net.name,
                   "HUB_LABS_DIR": str(matrix.LABS_DIR), "HUB_SPAWNER": args.spawner}
        # Beside a bridge the hub shares the host's network (it reaches every attendee's
        # container, and they reach it on the gateway). On a swarm it is a container on the
        # overlay with its port published, found by its name.
        where = {"network_mode": "host"}
        if swarm:
            run_env.update(HUB_IP="0.0.0.0", HUB_API_IP="0.0.0.0", HUB_API_CONNECT=args.name)
            where = {"network": net.name, "ports": {f"{port}/tcp": (ip, port)}}
        hub = cli.containers.run(
            TAG, name=args.name, detach=True, environment=run_env, **where,
            labels={matrix.LABEL: args.name}, user="1000:1000", group_add=[str(os.stat(sock).st_gid)],
            volumes={sock: {"bind": "/var/run/docker.sock", "mode": "rw"},
                     data.name: {"bind": "/srv/jupyterhub", "mode": "rw"},
                     **({os.path.abspath(args.profiles): {"bind": "/etc/jupyterhub/profiles.json", "mode": "ro"}}
                        if args.profiles else {})},
            restart_policy={"Name": "unless-stopped"},
            **{k: v for k, v in HARDENING.items() if k != "shm_size"})
        created.append(hub)
        seconds = wait_healthy(cli, args.name, f"http://127.0.0.1:{port}/hub/health")
    except BaseException:
        for item in reversed(created):
            item.remove(force=True)
        raise
    host = socket.getfqdn() if args.public else "127.0.0.1"
    print(f"hub: JupyterHub up after {seconds:.0f} s: http://{host}:{port}/hub/login")
    print(f"  attendees: any user name, and the workshop password (HUB_PASSWORD in {env_file})")
    print(f"  instructor: {conf['HUB_ADMIN']}, with HUB_ADMIN_PASSWORD from {env_file}; admin page /hub/admin")
    if args.public:
        print("  serving the room on every interface: put TLS in front (README, 'The hub')", file=sys.stderr)
    print("  stop: scripts/hub down (attendees' work is kept)")
    return 0


def down(args) -> int:
    import docker

    cli = _client()
    remove_container(cli, args.name)
    users = containers(cli, args.name)
    for c in users:
        remove_container(cli, c.id, timeout=5)
    try:  # SwarmSpawner's services, where this host manages a swarm
        services = cli.services.list(filters={"label": f"{matrix.LABEL}={args.name}"})
    except docker.errors.APIError:
        services = []
    for service in services:
        service.remove()
    users += services
    # Auto-removed containers (a swarm's tasks) leave the network a moment after they stop,
    # and a swarm removes an overlay network a moment after it is asked to.
    deadline = time.monotonic() + 60
    while cli.networks.list(names=[args.name], filters={"label": f"{matrix.LABEL}={args.name}"}):
        try:
            cli.networks.get(args.name).remove()
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError as exc:
            if time.monotonic() > deadline:
                raise HubError(f"network {args.name} not removed: {exc.explanation}") from None
        if time.monotonic() > deadline:
            raise HubError(f"network {args.name} still there after 60 s; docker network rm {args.name}")
        time.sleep(0.5)
    kept = cli.volumes.list(filters={"label": f"{matrix.LABEL}={args.name}"})
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
        print(f"hub: --port {args.port} is not a port; use 1024-65535", file=sys.stderr)
        return 1
    try:
        return up(args) if args.command == "up" else down(args)
    except HubError as exc:
        print(f"hub: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("hub: interrupted; what this run started is removed", file=sys.stderr)
        return 130


if __name__ == "__main__":
    cli.run(main)
