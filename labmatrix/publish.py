"""scripts/publish: push the images to the registry by digest, then merge the architectures.

    python -m labmatrix.publish push [--arch ARCH] [--out DIR] [NAME ...]
    python -m labmatrix.publish merge [--out DIR] [--tool auto|manifest|imagetools]

The registry is matrix.toml's ``[publish] registry`` (or CONCURRENCY_LAB_REGISTRY). NAME
is an image of matrix.toml or ``hub``; none means all of them.

``push`` runs on each architecture's own host (docker-stacks' way: native builds, no
emulation). It pushes each local ``concurrency-lab:<name>`` under a per-architecture tag,
``<name>-<exact Python>-<build date>-<arch>``, and records the digest the registry gave it
in ``DIR/<arch>.json``. The tags users pull are not touched: a push that fails half-way
changes nothing anyone runs.

``merge`` reads every ``<arch>.json`` under DIR (one folder per CI job is fine) and makes, per image, one manifest list (an OCI
image index) of the architectures' digests under both published tags: the moving
``<name>`` and the immutable ``<name>-<exact Python>-<build date>`` (the newest build date
of the architectures; their Pythons must agree). It uses ``docker manifest`` (Docker 20.10
has it) or ``docker buildx imagetools create`` (the GitHub runners have buildx), and
records each list's digest in ``DIR/manifests.json``.

Bad input (no registry set, an unknown architecture, an image that is not here or was
built for another architecture, an image whose labels disagree with matrix.toml, a push
the registry refuses) is one line and exit 1 (2 for bad arguments).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import urllib.request
from pathlib import Path

from . import matrix, registry
from .cli import run
from .container import client
from .registry import RegistryError

OUT = matrix.ROOT / "results" / "publish"
#: What the registry answers a manifest request with (Docker's and OCI's lists first).
MANIFEST_TYPES = ("application/vnd.docker.distribution.manifest.list.v2+json",
                  "application/vnd.oci.image.index.v1+json",
                  "application/vnd.docker.distribution.manifest.v2+json",
                  "application/vnd.oci.image.manifest.v1+json")
#: The hub's exact Python, asked of its image (it has no version label of its own).
VERSION = "import sys; print(sys.version.split()[0])"


def names(wanted: list[str]) -> list[str]:
    valid = [*matrix.image_names(), matrix.HUB]
    unknown = [n for n in wanted if n not in valid]
    if unknown:
        raise RegistryError(f"unknown image '{unknown[0]}'; valid: {' '.join(valid)}", exit_code=2)
    return wanted or valid


def check_arch(arch: str) -> str:
    if arch not in matrix.ARCHES:
        raise RegistryError(f"unknown architecture '{arch}'; valid: {', '.join(matrix.ARCHES)}", exit_code=2)
    return arch


def need_registry() -> str:
    repo = matrix.registry()
    if not repo:
        raise RegistryError(f"no registry is set; set [publish] registry in matrix.toml or {matrix.REGISTRY_ENV}"
                            " (for example ghcr.io/<owner>/concurrency-lab)")
    return repo


def _client():
    return client()


def exact_version(dc, name: str, image) -> str:
    labels = image.labels or {}
    if name != matrix.HUB:
        return labels[matrix.PYTHON_VERSION_LABEL]
    out = dc.containers.run(image.id, ["-c", VERSION], entrypoint="python3", network_disabled=True, remove=True,
                            user="nobody", labels={matrix.LABEL: "concurrency-lab-publish"})
    return out.decode().strip()


def build_date(image) -> str:
    return (image.labels or {}).get(matrix.BUILD_DATE_LABEL) or image.attrs["Created"][:10].replace("-", "")


def _push(dc, repo: str, tag: str) -> str:
    """Push ``repo:tag``; the digest the registry gave it. A refusal is one line."""
    digest, error = "", ""
    for event in dc.images.push(repo, tag, stream=True, decode=True):
        error = error or event.get("error", "")
        digest = (event.get("aux") or {}).get("Digest", digest)
    if error:
        if any(word in error.lower() for word in ("denied", "unauthorized", "credentials", "authentication")):
            raise RegistryError(f"the registry refused the push of {repo}:{tag} ({error.strip()}); "
                                f"log in first: docker login {registry.host(repo)}")
        raise RegistryError(f"pushing {repo}:{tag} failed: {error.strip()}")
    if not digest:
        raise RegistryError(f"pushing {repo}:{tag} gave no digest")
    return digest


def push(wanted: list[str], arch: str | None, out: Path, say=print) -> dict:
    repo = need_registry()
    arch = check_arch(arch) if arch else None
    todo = names(wanted)
    if (why := registry.unreachable(repo)):
        raise RegistryError(f"the registry {registry.host(repo)} does not answer ({why}); nothing was pushed")
    import docker

    dc = _client()
    images = {}
    for name in todo:  # every image is checked before anything is pushed
        local = f"{matrix.IMAGE_REPO}:{name}"
        try:
            image = dc.images.get(local)
        except docker.errors.ImageNotFound:
            raise RegistryError(f"image {local} is not here; build it first: "
                                + ("scripts/hub" if name == matrix.HUB else f"scripts/build-images {name}")) from None
        built_for = image.attrs.get("Architecture", "")
        arch = arch or check_arch(built_for)
        if built_for != arch:
            raise RegistryError(f"image {local} is built for {built_for}, not {arch}; build it on an {arch} host")
        if (bad := registry.labels_disagree(name, image.attrs)):
            raise RegistryError(f"refusing to publish {local}: {bad}; build it again: scripts/build-images {name}")
        images[name] = image
    record_file = out / f"{arch}.json"
    record = json.loads(record_file.read_text()) if record_file.exists() else {}
    for name, image in images.items():
        version, date = exact_version(dc, name, image), build_date(image)
        tag = f"{matrix.immutable_tag(name, version, date)}-{arch}"
        image.tag(repo, tag)
        try:
            digest = _push(dc, repo, tag)
        finally:  # the per-architecture name is the registry's, not this host's
            dc.images.remove(f"{repo}:{tag}", noprune=True)
        record[name] = {"digest": digest, "version": version, "date": date, "arch": arch, "tag": tag}
        out.mkdir(parents=True, exist_ok=True)
        record_file.write_text(json.dumps(record, indent=1, sort_keys=True))
        say(f"publish: {name} {arch} {repo}@{digest} ({tag})")
    return record


def _tool(choice: str) -> str:
    if choice != "auto":
        return choice
    has_buildx = subprocess.run(["docker", "buildx", "imagetools", "--help"], capture_output=True).returncode == 0
    return "imagetools" if has_buildx else "manifest"


def _run(cmd: list[str]) -> str:
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode:
        raise RegistryError(f"{' '.join(cmd[:3])} failed: {registry.last_line(done)}")
    return done.stdout.strip()


def remote_digest(repo: str, tag: str) -> str:
    """The digest the registry serves ``repo:tag`` under (``HEAD /v2/<name>/manifests/<tag>``;
    a loopback registry, no credentials: what the tests and the benchmark read)."""
    host = registry.host(repo)
    path = repo.removeprefix(host + "/")
    scheme = "http" if registry.loopback(repo) else "https"
    req = urllib.request.Request(f"{scheme}://{host}/v2/{path}/manifests/{tag}", method="HEAD",
                                 headers={"Accept": ", ".join(MANIFEST_TYPES)})
    with urllib.request.urlopen(req, timeout=registry.PROBE_TIMEOUT) as resp:
        return resp.headers["Docker-Content-Digest"]


def merge(out: Path, tool: str = "auto", say=print) -> dict:
    repo = need_registry()
    records: dict[str, dict] = {}
    for path in sorted(out.rglob("*.json")):  # one folder per job is fine: the records add up
        if path.stem in matrix.ARCHES:
            records.setdefault(path.stem, {}).update(json.loads(path.read_text()))
        elif path.name != "manifests.json":
            raise RegistryError(f"{path} is no architecture's record; valid: "
                                + ", ".join(f"{a}.json" for a in matrix.ARCHES))
    if not records:
        raise RegistryError(f"no pushed architectures in {out}; run scripts/publish push first")
    tool = _tool(tool)
    insecure = ["--insecure"] if registry.loopback(repo) else []
    lists = {}
    for name in dict.fromkeys(n for record in records.values() for n in record):
        entries = {arch: record[name] for arch, record in records.items() if name in record}
        versions = {e["version"] for e in entries.values()}
        if len(versions) > 1:
            raise RegistryError(f"{name}: the architectures have different Pythons ({', '.join(sorted(versions))}); "
                                "build them from the same Debian snapshot (matrix.toml [debian] mirror)")
        date = max(e["date"] for e in entries.values())
        sources = [f"{repo}@{e['digest']}" for e in entries.values()]
        tags = [name, matrix.immutable_tag(name, versions.pop(), date)]
        digest = ""
        for tag in tags:
            target = f"{repo}:{tag}"
            if tool == "imagetools":
                _run(["docker", "buildx", "imagetools", "create", "--tag", target, *sources])
                shown = _run(["docker", "buildx", "imagetools", "inspect", target])  # Name:, MediaType:, Digest:
                digest = digest or next((ln.split()[1] for ln in shown.splitlines() if ln.startswith("Digest:")), "")
            else:
                _run(["docker", "manifest", "create", *insecure, "--amend", target, *sources])
                pushed = _run(["docker", "manifest", "push", *insecure, "--purge", target])
                digest = digest or pushed.splitlines()[-1]  # it prints the list's digest
        lists[name] = {"digest": digest, "tags": tags, "arches": sorted(entries)}
        say(f"publish: {name} {'+'.join(sorted(entries))} -> {repo}:{tags[0]}, {repo}:{tags[1]} ({digest})")
    (out / "manifests.json").write_text(json.dumps(lists, indent=1, sort_keys=True))
    return lists


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="scripts/publish", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="step", required=True)
    p = sub.add_parser("push", help="push this host's images under per-architecture tags, by digest")
    p.add_argument("names", nargs="*", metavar="NAME")
    p.add_argument("--arch", help=f"one of {', '.join(matrix.ARCHES)} (default: the images' own)")
    p.add_argument("--out", type=Path, default=OUT)
    m = sub.add_parser("merge", help="one manifest list per tag from every architecture's digests")
    m.add_argument("--out", type=Path, default=OUT)
    m.add_argument("--tool", choices=("auto", "manifest", "imagetools"), default="auto")
    args = parser.parse_args(argv)
    if args.step == "push":
        push(args.names, args.arch, args.out)
    else:
        merge(args.out, args.tool)
    return 0


if __name__ == "__main__":
    run(main, "publish", "publish: interrupted; the published tags are as they were until a merge")
