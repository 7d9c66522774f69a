"""Loopback infrastructure for the publishing tests and scripts/bench-pull, each a context
manager that removes all it started, on failure too:

- ``LoopbackRegistry``: a real registry on 127.0.0.1 (Debian's docker-registry, the CNCF
  distribution registry), its storage in a folder that is emptied on the way out;
- ``FreshDaemon``: a second, empty Docker daemon, a fresh host beside the shared one. Its
  data root, socket, pidfile and exec root (and the containerd it starts) are under one
  temporary folder, its bridge networks get their own address pool. On the way out its
  containers, networks and volumes are removed, it is stopped and the folder deleted:
  nothing of the other daemon is touched.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from . import matrix, registry, wait
from .container import client, free_port
from .errors import RunFailed

BINARY = "docker-registry"
#: A bcrypt line for a user nobody logs in as: with it the registry asks every client for
#: credentials (Basic auth), so an anonymous push is refused as by ghcr.io.
HTPASSWD = "nobody:$2y$05$yTJRw2bCDmzyVVOV9MnTSeyqlcxMaijqEJjyz3kqx/5NSGSVTsgLa\n"


def started(server, ready, timeout: float, log: Path):
    """``server`` once ``ready()`` (its process still running), else its ``__exit__`` and
    one error with the end of its log."""
    def up() -> bool:
        if server.proc.poll() is not None:
            raise RunFailed(f"{server.proc.args[0]} did not start: {log.read_text()[-800:]}")
        return ready()

    try:
        wait.until(up, timeout, every=0.3, what=f"{server.proc.args[0]}'s start ({log})")
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


#: The fresh daemon's own bridge (its default network), apart from the usual Docker ranges.
BRIDGE_ADDRESS = "10.212.0.1/24"


class FreshDaemon:
    def __init__(self, storage_driver: str, data_root: Path | None = None):
        """``data_root``: keep the daemon's images there for the next run (its containers,
        networks and volumes are still removed); by default it is temporary, like the rest."""
        self.storage_driver = storage_driver
        self.data_root = data_root
        self.folder: Path | None = None
        self.proc: subprocess.Popen | None = None
        self.bridge = ""

    @property
    def host(self) -> str:
        assert self.folder is not None, "FreshDaemon.host outside its with block"
        return f"unix://{self.folder / 'docker.sock'}"

    def client(self):
        return client(timeout=600, base_url=self.host)

    def __enter__(self) -> FreshDaemon:
        # A short path: a unix socket's path is limited to 107 bytes.
        self.folder = Path(tempfile.mkdtemp(prefix="cl-dockerd-"))
        (self.folder / "daemon.json").write_text(json.dumps({}))
        # A bridge of its own for its default network. Never `--bridge none`: dockerd then
        # deletes the host's docker0, the other daemon's bridge (daemon_unix.go,
        # removeDefaultBridgeInterface). No iptables rules either: published ports go
        # through docker-proxy; Compose's networks get an address pool of their own.
        self.bridge = f"clfresh{os.getpid() % 10**7}"
        for cmd in (["ip", "link", "add", self.bridge, "type", "bridge"],
                    ["ip", "addr", "add", BRIDGE_ADDRESS, "dev", self.bridge], ["ip", "link", "set", self.bridge, "up"]):
            done = subprocess.run(cmd, capture_output=True, text=True)
            if done.returncode:
                self.__exit__()
                raise RuntimeError(f"{' '.join(cmd)} failed: {done.stderr.strip()} (a second daemon needs root)")
        root = self.data_root or self.folder / "root"
        root.mkdir(parents=True, exist_ok=True)
        # A kept data root keeps images and build cache, never networks: its network store
        # would hold the last run's default "bridge" network, and dockerd, finding a stale
        # one with address pools set, deletes it and then the interface named docker0, the
        # host daemon's (moby daemon_unix.go, initNetworkController, "Clear stale bridge
        # network"). Without the store it starts as from an empty root.
        (root / "network" / "files" / "local-kv.db").unlink(missing_ok=True)
        cmd = ["dockerd", "--config-file", str(self.folder / "daemon.json"), "--data-root", str(root),
               "--exec-root", str(self.folder / "exec"), "--pidfile", str(self.folder / "docker.pid"),
               "--host", self.host, "--storage-driver", self.storage_driver,
               "--bridge", self.bridge, "--iptables=false", "--ip-masq=false",
               "--default-address-pool", "base=10.213.0.0/16,size=24"]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=open(self.folder / "dockerd.log", "w"),
                                     start_new_session=True)
        # (With no network store, dockerd's other path to removeDefaultBridgeInterface,
        # clearing a stale "bridge" network with address pools set, is not taken: above.)
        docker0 = Path("/sys/class/net/docker0")
        had_docker0 = docker0.exists()
        started(self, self._answers, 60, self.folder / "dockerd.log")
        if had_docker0 and not docker0.exists():
            self.__exit__()
            raise RuntimeError("the second dockerd removed the host's docker0; restart the Docker daemon")
        return self

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
        if self.bridge:
            subprocess.run(["ip", "link", "del", self.bridge], capture_output=True)
            self.bridge = ""
        if self.folder is not None:
            # A mount dockerd left (it unmounts its own on a clean stop) would make rmtree fail.
            mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()
                      if line.split()[1].startswith(str(self.folder))]
            for mount in sorted(mounts, reverse=True):
                subprocess.run(["umount", "-l", mount], capture_output=True)
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None


def fresh_clone(dest: Path) -> Path:
    """The project as a fresh clone has it: its tracked files, none of the built artefacts
    (no virtualenv, wheelhouse, sources or base images)."""
    files = subprocess.run(["git", "ls-files", "-z"], cwd=matrix.ROOT, capture_output=True, text=True, check=True)
    for name in filter(None, files.stdout.split("\0")):
        src = matrix.ROOT / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    return dest
