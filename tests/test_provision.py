"""Provisioning: what `.ci/run` installs on a fresh machine, exercised for real.

A green CI run on a machine that already has the tools proves nothing about a fresh one
(a `curl | xz | awk` pipe died of SIGPIPE under `set -o pipefail` only where Compose v2
was missing). So:

- the Python path that fetches trixie's Compose v2 and buildx is run on its own, and the
  extracted plugins must start;
- a fake mirror on 127.0.0.1 shows that a wrong checksum or a missing package is one line;
- `.ci/provision` runs whole in a bare Debian container (minbase: no python3, no docker,
  no mmdebstrap, no chromium), and every tool must work afterwards.
"""

from __future__ import annotations

import hashlib
import http.server
import lzma
import re
import subprocess
import sys
import threading

import pytest

from labmatrix import debian, matrix
from labmatrix.container import LabContainer

CI_DIR = matrix.ROOT / ".ci"
FRESH_SUITE = "bookworm"  # the oldest suite a CI host runs; it has only Compose v1


@pytest.mark.parametrize(("package", "plugin", "version"), [
    ("docker-compose", "docker-compose", r"Docker Compose version v?2\."),
    ("docker-buildx", "docker-buildx", r"github\.com/docker/buildx v?0\.\d+"),
])
def test_trixie_plugin_fetched_verified_and_runs(tmp_path, package, plugin, version):
    installed = debian.install_plugin(package, "trixie", tmp_path)
    assert [p.name for p in installed] == [plugin]
    out = subprocess.run([str(installed[0]), "version"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert re.search(version, out.stdout), out.stdout


class _FakeMirror(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep pytest's output clean
        pass


@pytest.fixture
def fake_mirror(tmp_path):
    """A mirror with one suite whose index lists a .deb under a wrong SHA-256."""
    deb = tmp_path / "pool" / "main" / "t" / "tool_1_amd64.deb"
    deb.parent.mkdir(parents=True)
    deb.write_bytes(b"not the listed file")
    index = tmp_path / "dists" / "fake" / "main" / "binary-amd64"
    index.mkdir(parents=True)
    stanza = (f"Package: tool\nVersion: 1\nArchitecture: amd64\nFilename: {deb.relative_to(tmp_path)}\n"
              f"Size: 19\nSHA256: {hashlib.sha256(b'the listed file').hexdigest()}\n")
    (index / "Packages.xz").write_bytes(lzma.compress(stanza.encode()))
    handler = lambda *a, **k: _FakeMirror(*a, directory=str(tmp_path), **k)  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(("package", "message"), [
    ("tool", r"^debian: pool/main/t/tool_1_amd64\.deb: SHA-256 [0-9a-f]{64} is not the index's [0-9a-f]{64}$"),
    ("nosuch", r"^debian: no package nosuch in Debian fake \(amd64\) at http://127\.0\.0\.1:\d+$"),
])
def test_bad_package_is_one_line(fake_mirror, tmp_path, package, message):
    proc = subprocess.run([sys.executable, "-m", "labmatrix.debian", "fetch", package, "--suite", "fake",
                           "--arch", "amd64", "--dest", str(tmp_path / "out")],
                          cwd=matrix.ROOT, env={"DEBIAN_MIRROR": fake_mirror, "PATH": "/usr/bin:/bin"},
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert re.fullmatch(message, proc.stderr.strip()), proc.stderr
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir()), "a bad .deb was kept"


def test_every_install_step_is_one_apt_line_or_the_tested_python_path():
    steps = [line.strip() for line in (CI_DIR / "provision").read_text().splitlines()
             if re.search(r"apt_install |install-plugin|dpkg -i|curl|wget|\| *(xz|awk|sed)", line)
             and not line.lstrip().startswith("#")]
    assert steps, ".ci/provision installs nothing?"
    allowed = re.compile(r"(command -v \S+ >/dev/null \|\| |python3 -c '[^']*' 2>/dev/null \|\| )?"
                         r"apt_install [a-z0-9.-]+( [a-z0-9.-]+)*|"
                         r'sudo_ python3 -m labmatrix\.debian install-plugin "docker-\$plugin" --suite trixie')
    odd = [s for s in steps if not allowed.fullmatch(s)]
    assert not odd, f"install steps that are neither one apt-get line nor labmatrix.debian: {odd}"
    assert ".ci/provision" in (CI_DIR / "run").read_text()


class FreshHost(LabContainer):
    """A bare Debian container standing in for a fresh CI machine: root, with the bridge
    network (it installs from the mirror), the repository read-only at /src."""

    def __init__(self, docker_client, suite: str):
        super().__init__(docker_client, matrix.images()[0])
        self.base = f"debian:{suite}-slim"

    def _start(self) -> None:
        self.container = self.docker_client.containers.run(
            self.base, command=["sleep", "infinity"], detach=True, init=True, labels=self.labels(),
            volumes={str(matrix.ROOT): {"bind": "/src", "mode": "ro"}}, working_dir="/src",
            environment={"PYTHONDONTWRITEBYTECODE": "1"},
            security_opt=["no-new-privileges:true"], pids_limit=1024, mem_limit="2g")


@pytest.mark.docker
def test_ci_provision_on_a_bare_debian(docker_client):
    """`.ci/provision` alone makes a bare Debian able to run `.ci/run` (less the daemon)."""
    base = f"debian:{FRESH_SUITE}-slim"
    try:
        docker_client.images.get(base)
    except Exception:
        pytest.fail(f"{base} is missing; make it with scripts/make-bases", pytrace=False)
    with FreshHost(docker_client, FRESH_SUITE) as host:
        rc, out, err = host.exec(["sh", "-c", "command -v python3 docker mmdebstrap chromium docker-registry || true"], timeout=30)
        assert out.strip() == "", f"{base} is not bare: {out}"
        rc, out, err = host.exec(["bash", ".ci/provision"], timeout=900)
        assert rc == 0, f"rc={rc}\n{out}\n{err}"
        checks = {
            "docker compose version": r"Docker Compose version v?2\.",
            "docker buildx version": r"github\.com/docker/buildx",
            "mmdebstrap --version": r"mmdebstrap \d",
            "chromium --version": r"Chromium \d+",
            "docker-registry --version": r"distribution v?2\.",
            "python3 -m venv /tmp/venv && /tmp/venv/bin/python -c 'print(\"venv ok\")'": r"venv ok",
        }
        for command, pattern in checks.items():
            rc, out, err = host.exec(["sh", "-c", command], timeout=120)
            assert rc == 0 and re.search(pattern, out + err), f"{command}: rc={rc}\n{out}\n{err}"
        # A second run installs nothing: every step sees its tool.
        rc, out, err = host.exec(["bash", ".ci/provision"], timeout=120)
        assert rc == 0 and "install" not in out + err, f"second run: rc={rc}\n{out}\n{err}"
