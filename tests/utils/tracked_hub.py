"""A test hub's whole life: started the README's way (scripts/hub) under a name of its own,
driven as attendees, removed with everything it made; dead runs' leftovers swept."""

from __future__ import annotations

import io
import json
import os
import secrets
import subprocess
from pathlib import Path

import pytest

from labmatrix import matrix
from labmatrix.container import free_port, run_labels
from labmatrix.hub import command as hubmod
from labmatrix.hub.client import Attendee

PREFIX = "concurrency-lab-hub-test-"
HUB = matrix.ROOT / "scripts" / "hub"
GONE = "gone"  # the profile whose image is removed while the hub runs


def hub_command(*args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    """scripts/hub, with this run's driver labels on everything it makes (swept if the run dies)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    return subprocess.run([str(HUB), *args], capture_output=True, text=True, timeout=timeout,
                          env={**env, hubmod.RUN_LABELS_ENV: json.dumps(run_labels())})


def remove_hub(docker_client, name: str) -> list:
    """scripts/hub down, then this test hub's volumes; what is left (should be nothing)."""
    hub_command("down", "--name", name, timeout=300)
    flt = {"label": f"{matrix.LABEL}={name}"}
    for v in docker_client.volumes.list(filters=flt):
        v.remove(force=True)
    return [*docker_client.containers.list(all=True, filters=flt), *docker_client.networks.list(filters=flt),
            *docker_client.volumes.list(filters=flt)]


def gone_image(docker_client, tag: str) -> None:
    """An image for the profile a test removes while the hub runs: the first image's base,
    with this run's labels (swept if the run dies)."""
    base = f"debian:{matrix.images()[0].suite}-slim"
    docker_client.images.build(fileobj=io.BytesIO(f"FROM {base}\n".encode()), tag=tag, labels=run_labels(), rm=True)


class Hub:
    def __init__(self, docker_client, name: str, env_file: Path, port: int, password: str, admin_password: str):
        self.docker_client, self.name, self.env_file, self.port = docker_client, name, env_file, port
        self.password, self.admin_password = password, admin_password
        self.base = f"http://127.0.0.1:{port}"
        self.out = ""

    def up(self, *extra: str) -> subprocess.CompletedProcess:
        proc = hub_command("--name", self.name, "--port", str(self.port), "--env-file", str(self.env_file), *extra)
        self.out = proc.stdout
        return proc

    def attendee(self, user: str, spawn: str | None = None) -> Attendee:
        a = Attendee(self.base, user)
        assert a.login(self.password), f"{user} cannot log in"
        a.new_token()
        if spawn and a.server() is None:
            a.spawn(spawn)
        return a

    def container(self, user: str):
        return self.docker_client.containers.get(f"{self.name}-user-{user}")


def start_hub(docker_client, name: str, tmp: Path, *extra: str, env: str = "") -> Hub:
    password, admin_password = secrets.token_urlsafe(12), secrets.token_urlsafe(32)
    env_file = tmp / ".env"
    env_file.write_text(f"HUB_PASSWORD={password}\nHUB_ADMIN_PASSWORD={admin_password}\n{env}")
    h = Hub(docker_client, name, env_file, free_port(), password, admin_password)
    proc = h.up(*extra)
    if proc.returncode:
        remove_hub(docker_client, name)
        pytest.fail(f"scripts/hub failed: {proc.stderr}")
    return h
