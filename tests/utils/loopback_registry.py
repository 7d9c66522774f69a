"""A real registry on 127.0.0.1 (Debian's docker-registry: the CNCF distribution registry),
with its storage in a temporary folder, as a context manager: it is stopped and its
storage removed on the way out, on failure too."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

from labmatrix import registry

BINARY = "docker-registry"
#: A bcrypt line for a user nobody logs in as: with it the registry asks every client for
#: credentials (Basic auth), so an anonymous push is refused as by ghcr.io.
HTPASSWD = "nobody:$2y$05$yTJRw2bCDmzyVVOV9MnTSeyqlcxMaijqEJjyz3kqx/5NSGSVTsgLa\n"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def started(server, ready, timeout: float, log: Path):
    """``server`` once ``ready()`` (its process still running), else its ``__exit__`` and
    one error with the end of its log."""
    try:
        deadline = time.monotonic() + timeout
        while not ready():
            if server.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{server.proc.args[0]} did not start: {log.read_text()[-800:]}")
            time.sleep(0.3)
    except BaseException:
        server.__exit__()
        raise
    return server


class LoopbackRegistry:
    def __init__(self, folder: Path, auth: bool = False, name: str = "concurrency-lab"):
        self.folder, self.auth = folder, auth
        self.port = free_port()
        self.repo = f"127.0.0.1:{self.port}/{name}"
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> LoopbackRegistry:
        self.folder.mkdir(parents=True, exist_ok=True)
        auth = ""
        if self.auth:
            (self.folder / "htpasswd").write_text(HTPASSWD)
            auth = f"auth:\n  htpasswd:\n    realm: test\n    path: {self.folder / 'htpasswd'}\n"
        config = self.folder / "config.yml"
        config.write_text("version: 0.1\nlog:\n  level: error\n"
                          f"storage:\n  filesystem:\n    rootdirectory: {self.folder / 'data'}\n  delete:\n    enabled: true\n"
                          f"http:\n  addr: 127.0.0.1:{self.port}\n{auth}")
        self.proc = subprocess.Popen([BINARY, "serve", str(config)], stdout=subprocess.DEVNULL,
                                     stderr=open(self.folder / "registry.log", "w"))
        return started(self, lambda: not registry.unreachable(self.repo, timeout=1), 20, self.folder / "registry.log")

    def __exit__(self, *exc_info) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None
        shutil.rmtree(self.folder / "data", ignore_errors=True)
