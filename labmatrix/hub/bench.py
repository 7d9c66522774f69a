"""scripts/bench-hub: N attendees at once through a hub of its own (scripts/hub), by the
JupyterHub REST API. Each attendee is created by the instructor, logs in with the workshop
password, spawns a profile (spread over every image), runs a lab notebook in the kernel
(checked against the lab's expectations for that image) and stops. Last line:

    hub users=<N> spawn_p50_s=<s> spawn_p95_s=<s> cell_ok=<n>/<n> mem_mb_per_user=<MB> hub_cpu_s=<s>

mem_mb_per_user: each idle server's memory (the cgroup's, less reclaimable file cache),
measured after every server is up and before any notebook runs; hub_cpu_s: the hub
container's CPU time (hub, proxy, culler) from the first request to the last stop.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import docker

from .. import matrix
from ..cli import run
from ..container import client, free_port, require_images, run_labels
from ..errors import BadInput
from . import command as hub
from .client import Attendee, HubClientError, check_notebook, container_name, python_version, run_notebook


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))]


def cpu_seconds(container) -> float:
    stats = container.stats(stream=False, one_shot=True)
    return stats["cpu_stats"]["cpu_usage"]["total_usage"] / 1e9


def idle_mb(container) -> float:
    mem = container.stats(stream=False, one_shot=True)["memory_stats"]
    cache = mem.get("stats", {}).get("inactive_file", mem.get("stats", {}).get("cache", 0))
    return (mem["usage"] - cache) / 2**20


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="scripts/bench-hub", description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", "-n", type=int, default=30)
    parser.add_argument("--lab", default="main_guard", choices=matrix.lab_names())
    parser.add_argument("--notebooks-at-once", type=int, default=3,
                        help="notebooks running at the same time (each runs four script subprocesses)")
    args = parser.parse_args(argv)
    if args.users < 1:
        raise BadInput("--users must be 1 or more")
    docker_client = client(timeout=300)
    profiles = [i.name for i in matrix.images()]
    require_images(docker_client, matrix.images())
    name = f"concurrency-lab-hub-bench-{os.getpid()}"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    workdir = Path(tempfile.mkdtemp(prefix="bench-hub-"))
    env_file = workdir / ".env"
    password = secrets.token_urlsafe(12)
    admin_password = secrets.token_urlsafe(32)
    env_file.write_text(f"HUB_PASSWORD={password}\nHUB_ADMIN_PASSWORD={admin_password}\nHUB_IDLE_TIMEOUT=0\n")
    users = [f"attendee{i:02d}" for i in range(args.users)]
    try:
        up = subprocess.run([str(matrix.ROOT / "scripts" / "hub"), "--name", name, "--port", str(port),
                             "--env-file", str(env_file)], capture_output=True, text=True,
                            env={**os.environ, hub.RUN_LABELS_ENV: json.dumps(run_labels())})
        if up.returncode:
            print(f"bench-hub: scripts/hub failed: {up.stderr.strip()}", file=sys.stderr)
            return 1
        hub_container = docker_client.containers.get(name)
        cpu0 = cpu_seconds(hub_container)
        admin = Attendee(base, hub.ADMIN)
        if not admin.login(admin_password):
            raise HubClientError("the instructor cannot log in")
        admin.new_token()

        def arrive(i: int) -> float:
            user = users[i]
            r = admin.api("POST", f"/users/{user}")
            if r.status_code != 201:
                raise HubClientError(f"create {user}: HTTP {r.status_code}")
            a = Attendee(base, user)
            if not a.login(password):
                raise HubClientError(f"{user} cannot log in")
            a.new_token()
            attendees[i] = a
            return a.spawn(profiles[i % len(profiles)])

        attendees: list[Attendee | None] = [None] * args.users
        with ThreadPoolExecutor(args.users) as pool:
            results = list(pool.map(lambda i: _try(arrive, i), range(args.users)))
        spawns = [r for r in results if isinstance(r, float)]
        for r in results:
            if not isinstance(r, float):
                print(f"bench-hub: {r}", file=sys.stderr)
        running = [i for i, r in enumerate(results) if isinstance(r, float)]
        mems = [idle_mb(docker_client.containers.get(container_name(name, users[i]))) for i in running]

        versions = {p: python_version(matrix.get_image(p).tag) for p in profiles}

        def notebook(i: int) -> tuple[int, int]:
            image = matrix.get_image(profiles[i % len(profiles)])
            a = attendees[i]
            assert a is not None and a.token  # every running attendee arrived
            try:
                result = run_notebook(container_name(name, a.name), a.name, a.token, args.lab)
            except HubClientError as exc:
                print(f"bench-hub: {exc}", file=sys.stderr)
                return 0, 1
            ok, total, problems = check_notebook(result, args.lab, image, versions[image.name])
            for p in problems:
                print(f"bench-hub: {a.name} ({image.name}): {p}", file=sys.stderr)
            return ok, total

        with ThreadPoolExecutor(args.notebooks_at_once) as pool:
            cells = list(pool.map(notebook, running))
        with ThreadPoolExecutor(args.users) as pool:
            for r in pool.map(lambda i: _try(lambda j: _arrived(attendees[j]).stop(), i), running):
                if r is not None:
                    print(f"bench-hub: {r}", file=sys.stderr)
        hub_cpu = cpu_seconds(hub_container) - cpu0
        by_profile: dict[str, list[float]] = {}
        for i in running:
            by_profile.setdefault(profiles[i % len(profiles)], []).append(results[i])
        for p, values in by_profile.items():
            print(f"  {p:<14} spawns={len(values)} median_s={statistics.median(values):.1f}")
        ok = sum(c[0] for c in cells)
        total = sum(c[1] for c in cells) + (args.users - len(running))
        p50 = percentile(spawns, 0.5) if spawns else float("nan")
        p95 = percentile(spawns, 0.95) if spawns else float("nan")
        mem = statistics.mean(mems) if mems else float("nan")
        print(f"hub users={args.users} spawn_p50_s={p50:.1f} spawn_p95_s={p95:.1f} cell_ok={ok}/{total} "
              f"mem_mb_per_user={mem:.0f} hub_cpu_s={hub_cpu:.1f}")
        return 0 if len(spawns) == args.users and ok == total else 1
    except (HubClientError, docker.errors.DockerException) as exc:
        print(f"bench-hub: {exc}", file=sys.stderr)
        return 1
    finally:
        subprocess.run([str(matrix.ROOT / "scripts" / "hub"), "down", "--name", name], capture_output=True)
        for v in docker_client.volumes.list(filters={"label": f"{matrix.LABEL}={name}"}):
            v.remove(force=True)
        env_file.unlink(missing_ok=True)
        workdir.rmdir()


def _arrived(attendee: Attendee | None) -> Attendee:
    assert attendee is not None  # only attendees whose spawn returned are stopped
    return attendee


def _try(fn, i):
    try:
        return fn(i)
    except (HubClientError, OSError) as exc:
        return exc


if __name__ == "__main__":
    run(main, "bench-hub", "bench-hub: interrupted; its hub, servers and volumes are removed")
