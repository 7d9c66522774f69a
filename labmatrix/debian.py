"""Fetch one binary package from the Debian mirror of ``matrix.toml``, verified.

Used where the host's own suite lacks a tool the build needs: bookworm ships only
Compose v1 (``docker-compose`` 1.29) and no buildx, so ``.ci/run`` installs trixie's
``docker-compose`` (v2, a Docker CLI plugin) and ``docker-buildx``. Both are static Go
programs that depend on nothing but libc, so they install on bookworm too.

Stdlib only: it runs on the host's ``python3`` before the dev virtualenv exists. The
``Packages`` index is parsed in Python, not in a shell pipeline, so no stage of a pipe can
die of SIGPIPE when an early stage stops reading (the fault ``curl | xz | awk`` had under
``set -o pipefail``). The .deb is checked against the SHA-256 the index lists.

    python3 -m labmatrix.debian fetch docker-compose --suite trixie --dest DIR
    python3 -m labmatrix.debian install-plugin docker-compose --suite trixie [--dir DIR]
    python3 -m labmatrix.debian source python3.13=3.13.5 --suite trixie [--dest sources]

``source`` fetches the upstream tarball (``<package>_<version>.orig.tar.xz``) a source
package of the suite is built from, checked against the SHA-256 that the suite's
``Sources`` index lists. It keeps the tarball and that checksum in ``sources/`` (git-ignored)
and, once both are there, only re-checks the file: no network after the first time.

``install-plugin`` copies only the CLI plugin out of the package into a Docker CLI plugin
folder (``/usr/local/libexec/docker/cli-plugins`` for root, ``~/.docker/cli-plugins``
otherwise), so the host's own ``docker-compose`` v1 package stays as it was.
"""

from __future__ import annotations

import argparse
import hashlib
import lzma
import os
import shutil
import subprocess
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from labmatrix.cli import run
from labmatrix.errors import RunFailed
from labmatrix.matrix import mirror as matrix_mirror
from labmatrix.matrix import source_file

TIMEOUT_S = 60


class FetchError(RunFailed):
    """One line that says what failed and what to do."""


@dataclass(frozen=True)
class Package:
    name: str
    version: str
    filename: str
    sha256: str
    size: int


def host_arch() -> str:
    try:
        out = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True, check=True)
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        import platform

        return {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())


def _get(url: str) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
            return response.read()
    except urllib.error.HTTPError as exc:
        raise FetchError(f"{url}: HTTP {exc.code}; check [debian] mirror in matrix.toml or DEBIAN_MIRROR") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise FetchError(f"{url}: {reason}; check the network and the Debian mirror") from None


def parse_packages(text: str) -> dict[str, Package]:
    """The stanzas of a ``Packages`` index, by package name (the first stanza wins)."""
    found: dict[str, Package] = {}
    for stanza in text.split("\n\n"):
        fields: dict[str, str] = {}
        for line in stanza.splitlines():
            if line and not line[0].isspace() and ":" in line:
                key, _, value = line.partition(":")
                fields[key] = value.strip()
        name = fields.get("Package")
        if name and name not in found and {"Filename", "SHA256", "Version"} <= fields.keys():
            found[name] = Package(name, fields["Version"], fields["Filename"], fields["SHA256"], int(fields.get("Size", 0)))
    return found


def find(name: str, suite: str, arch: str, mirror: str) -> Package:
    url = f"{mirror}/dists/{suite}/main/binary-{arch}/Packages.xz"
    try:
        text = lzma.decompress(_get(url)).decode()
    except lzma.LZMAError:
        raise FetchError(f"{url}: not an xz file; check the Debian mirror") from None
    package = parse_packages(text).get(name)
    if package is None:
        raise FetchError(f"no package {name} in Debian {suite} ({arch}) at {mirror}")
    return package


def fetch(name: str, suite: str, dest: Path, *, arch: str | None = None, mirror: str | None = None) -> Path:
    """Download package ``name`` of ``suite`` into ``dest``, verify it, return its path."""
    mirror = (mirror or matrix_mirror()).rstrip("/")
    package = find(name, suite, arch or host_arch(), mirror)
    data = _get(f"{mirror}/{package.filename}")
    digest = hashlib.sha256(data).hexdigest()
    if digest != package.sha256:
        raise FetchError(f"{package.filename}: SHA-256 {digest} is not the index's {package.sha256}")
    dest.mkdir(parents=True, exist_ok=True)
    path = dest / Path(package.filename).name
    path.write_bytes(data)
    return path


def extract(deb: Path, dest: Path) -> Path:
    """Unpack a .deb's files (no maintainer scripts) into ``dest``, as ``dpkg-deb -x`` does."""
    if shutil.which("dpkg-deb") is None:
        raise FetchError("dpkg-deb is not installed; this step needs a Debian-based host")
    done = subprocess.run(["dpkg-deb", "-x", str(deb), str(dest)], capture_output=True, text=True)
    if done.returncode != 0:
        raise FetchError(f"dpkg-deb -x {deb.name} failed: {done.stderr.strip()}")
    return dest


@dataclass(frozen=True)
class Source:
    package: str
    version: str  # the upstream version, e.g. 3.13.5 of Debian's 3.13.5-2+deb13u5

    @classmethod
    def parse(cls, spec: str) -> Source:
        package, _, version = spec.partition("=")
        if not package or not version:
            raise FetchError(f"bad source {spec!r}; write it as <source package>=<upstream version>, "
                             "e.g. python3.13=3.13.5")
        return cls(package, version)

    @property
    def filename(self) -> str:
        return source_file(f"{self.package}={self.version}")


def upstream_version(debian_version: str) -> str:
    """``1:3.13.5-2+deb13u5`` -> ``3.13.5`` (no epoch, no Debian revision)."""
    return debian_version.split(":", 1)[-1].rsplit("-", 1)[0]


def source_checksum(text: str, source: Source) -> tuple[str, str] | None:
    """(pool directory, SHA-256) of the source's orig tarball in a ``Sources`` index."""
    for stanza in text.split("\n\n"):
        lines = stanza.splitlines()
        if f"Package: {source.package}" not in lines:
            continue
        fields, key = {}, None
        for line in lines:
            if line[:1].isspace() and key:
                fields[key] += "\n" + line.strip()
            elif ":" in line:
                key, _, value = line.partition(":")
                fields[key] = value.strip()
        if upstream_version(fields.get("Version", "")) != source.version:
            continue
        for entry in fields.get("Checksums-Sha256", "").splitlines():
            parts = entry.split()
            if len(parts) == 3 and parts[2] == source.filename:
                return fields.get("Directory", ""), parts[0]
    return None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch_source(spec: str, suite: str, dest: Path, *, mirror: str | None = None) -> Path:
    """The verified upstream tarball of ``spec`` (``package=version``) in ``dest``.

    A cached tarball is re-checked against the checksum kept beside it (``.sha256``, from
    the index); a mismatch is an error, never a silent re-download over it.
    """
    source = Source.parse(spec)
    mirror = (mirror or matrix_mirror()).rstrip("/")
    path, sums = dest / source.filename, dest / f"{source.filename}.sha256"
    if path.exists() and sums.exists():
        want = sums.read_text().split()[0]
        if (have := _sha256(path)) != want:
            raise FetchError(f"{path}: SHA-256 {have} is not the {want} that {suite}'s Sources index at "
                             f"{mirror} lists; delete it to fetch it again")
        return path
    index = f"{mirror}/dists/{suite}/main/source/Sources.xz"
    try:
        text = lzma.decompress(_get(index)).decode()
    except lzma.LZMAError:
        raise FetchError(f"{index}: not an xz file; check the Debian mirror") from None
    found = source_checksum(text, source)
    if found is None:
        raise FetchError(f"{source.filename}: not in {suite}'s Sources index at {mirror}; "
                         f"fix the image's source in matrix.toml")
    directory, want = found
    data = _get(f"{mirror}/{directory}/{source.filename}")
    if (have := hashlib.sha256(data).hexdigest()) != want:
        raise FetchError(f"{source.filename} from {mirror}: SHA-256 {have} is not the index's {want}")
    dest.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".part")
    partial.write_bytes(data)
    partial.replace(path)  # never a half-written tarball under the real name
    sums.write_text(f"{want}  {source.filename}\n")
    return path


PLUGIN_DIR_IN_DEB = Path("usr/libexec/docker/cli-plugins")


def default_plugin_dir() -> Path:
    if os.geteuid() == 0:
        return Path("/usr/local/libexec/docker/cli-plugins")
    return Path.home() / ".docker" / "cli-plugins"


def install_plugin(name: str, suite: str, plugin_dir: Path, *, arch: str | None = None) -> list[Path]:
    """Install the Docker CLI plugin(s) that package ``name`` ships into ``plugin_dir``."""
    with tempfile.TemporaryDirectory(prefix="labmatrix-deb-") as tmp:
        root = extract(fetch(name, suite, Path(tmp) / "deb", arch=arch), Path(tmp) / "root")
        plugins = sorted((root / PLUGIN_DIR_IN_DEB).glob("docker-*"))
        if not plugins:
            raise FetchError(f"package {name} of {suite} holds no Docker CLI plugin in /{PLUGIN_DIR_IN_DEB}")
        plugin_dir.mkdir(parents=True, exist_ok=True)
        installed = []
        for plugin in plugins:
            target = plugin_dir / plugin.name
            shutil.copy2(plugin, target)
            target.chmod(0o755)
            installed.append(target)
        return installed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m labmatrix.debian", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    get = sub.add_parser("fetch", help="download a verified .deb and print its path")
    get.add_argument("package")
    get.add_argument("--suite", required=True)
    get.add_argument("--dest", type=Path, required=True)
    get.add_argument("--arch")
    plug = sub.add_parser("install-plugin", help="install the Docker CLI plugin a package ships")
    plug.add_argument("package")
    plug.add_argument("--suite", required=True)
    plug.add_argument("--dir", type=Path, default=None, help="plugin folder (default: the CLI's own)")
    src = sub.add_parser("source", help="download a verified upstream tarball and print its path")
    src.add_argument("source", help="<source package>=<upstream version>, e.g. python3.13=3.13.5")
    src.add_argument("--suite", required=True)
    src.add_argument("--dest", type=Path, default=Path("sources"))
    args = parser.parse_args(argv)
    if args.command == "source":
        print(fetch_source(args.source, args.suite, args.dest))
    elif args.command == "fetch":
        print(fetch(args.package, args.suite, args.dest, arch=args.arch))
    else:
        for path in install_plugin(args.package, args.suite, args.dir or default_plugin_dir()):
            print(path)
    return 0


if __name__ == "__main__":
    run(main, "debian")
