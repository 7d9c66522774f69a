"""A test hub's whole life: started the README's way (scripts/hub) under a name of its own,
driven as attendees, removed with everything it made; dead runs' leftovers swept."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
from pathlib import Path

import pytest

from labmatrix import hub as hubmod
from labmatrix import matrix
from labmatrix.container import pid_alive
from labmatrix.hubclient import Attendee

PREFIX = "concurrency-lab-hub-test-"
HUB = matrix.ROOT / "scripts" / "hub"
GONE = "gone"  # the profile whose image is removed while the hub runs


def hub_command(*args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run([str(HUB), *args], capture_output=True, text=True, timeout=timeout,
                          env={k: v for k, v in os.environ.items() if not k.startswith("HUB_")})


def remove_hub(cli, name: str) -> list:
    """scripts/hub down, then this test hub's volumes; what is left (should be nothing)."""
    hub_command("down", "--name", name, timeout=300)
    flt = {"label": f"{matrix.LABEL}={name}"}
    for v in cli.volumes.list(filters=flt):
        v.remove(force=True)
    return [*cli.containers.list(all=True, filters=flt), *cli.networks.list(filters=flt),
            *cli.volumes.list(filters=flt)]


def sweep_dead(cli) -> None:
    names = set()
    for kind in ("containers", "networks", "volumes"):
        kw = {"all": True} if kind == "containers" else {}
        for item in getattr(cli, kind).list(filters={"label": matrix.LABEL}, **kw):
            value = (item.attrs.get("Labels") or item.attrs.get("Config", {}).get("Labels") or {}).get(matrix.LABEL, "")
            m = re.fullmatch(rf"({re.escape(PREFIX)}(\d+)(?:-\w+)?)", value)
            if m and not pid_alive(int(m.group(2))):
                names.add(m.group(1))
    for name in names:
        remove_hub(cli, name)
    # The tag of the profile a test removes (see the hub fixture), left by a run that died.
    for image in cli.images.list(name=matrix.IMAGE_REPO):
        for tag in image.tags:
            m = re.fullmatch(rf"{re.escape(matrix.IMAGE_REPO)}:hubtest-gone-(\d+)", tag)
            if m and not pid_alive(int(m.group(1))):
                cli.images.remove(tag)


class Hub:
    def __init__(self, cli, name: str, env_file: Path, port: int, password: str, admin_password: str):
        self.cli, self.name, self.env_file, self.port = cli, name, env_file, port
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
        return self.cli.containers.get(f"{self.name}-user-{user}")


def start_hub(cli, name: str, tmp: Path, *extra: str, env: str = "") -> Hub:
    password, admin_password = secrets.token_urlsafe(12), secrets.token_urlsafe(32)
    env_file = tmp / ".env"
    env_file.write_text(f"HUB_PASSWORD={password}\nHUB_ADMIN_PASSWORD={admin_password}\n{env}")
    h = Hub(cli, name, env_file, hubmod.free_port(), password, admin_password)
    proc = h.up(*extra)
    if proc.returncode:
        remove_hub(cli, name)
        pytest.fail(f"scripts/hub failed: {proc.stderr}")
    return h
