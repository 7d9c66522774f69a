"""A second, empty Docker daemon: a fresh host next to the shared one, as a context
manager. Its data root, socket, pidfile and exec root (and the containerd it starts) are
under one temporary folder; its bridge networks get their own address pool. On the way
out its containers and networks are removed, the daemon is stopped and the folder is
deleted, on failure too: nothing of the shared daemon is touched."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import docker

from tests.utils.loopback_registry import started


class FreshDaemon:
    def __init__(self, storage_driver: str):
        self.storage_driver = storage_driver
        self.folder: Path | None = None
        self.proc: subprocess.Popen | None = None

    @property
    def host(self) -> str:
        return f"unix://{self.folder / 'docker.sock'}"

    def client(self) -> docker.DockerClient:
        return docker.DockerClient(base_url=self.host, timeout=600)

    def __enter__(self) -> FreshDaemon:
        # A short path: a unix socket's path is limited to 107 bytes.
        self.folder = Path(tempfile.mkdtemp(prefix="cl-dockerd-"))
        (self.folder / "daemon.json").write_text(json.dumps({}))
        cmd = ["dockerd", "--config-file", str(self.folder / "daemon.json"), "--data-root", str(self.folder / "root"),
               "--exec-root", str(self.folder / "exec"), "--pidfile", str(self.folder / "docker.pid"),
               "--host", self.host, "--storage-driver", self.storage_driver,
               # No docker0, no iptables rules: the shared daemon's networking is left alone;
               # published ports go through docker-proxy. Compose's networks get their own pool.
               "--bridge", "none", "--iptables=false", "--ip-masq=false",
               "--default-address-pool", "base=10.213.0.0/16,size=24"]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=open(self.folder / "dockerd.log", "w"),
                                     start_new_session=True)
        return started(self, self._answers, 60, self.folder / "dockerd.log")

    def _answers(self) -> bool:
        try:
            return self.client().ping()
        except Exception:  # noqa: BLE001 (not up yet)
            return False

    def __exit__(self, *exc_info) -> None:
        if self.proc is not None:
            try:
                if self.proc.poll() is None:
                    cli = self.client()
                    for c in cli.containers.list(all=True):
                        c.remove(force=True)
                    cli.networks.prune()
                    cli.volumes.prune()
            finally:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                    self.proc.wait()
                self.proc = None
        if self.folder is not None:
            # A mount dockerd left (it unmounts its own on a clean stop) would make rmtree fail.
            mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()
                      if line.split()[1].startswith(str(self.folder))]
            for mount in sorted(mounts, reverse=True):
                subprocess.run(["umount", "-l", mount], capture_output=True)
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None
