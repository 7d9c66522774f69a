"""Pull before build, and the image digests that tie results to images (docs/publishing.md).

Stdlib only and through the ``docker`` CLI, so the shell scripts call it with the host's
``python3`` (an attendee needs no virtualenv to pull), and it honours ``DOCKER_HOST``:

    python3 -m labmatrix.registry pull WHO [--no-build] [--always] NAME...
        NAME is an image of matrix.toml or ``hub``. Pulls what is missing (every NAME with
        --always) from the registry when one is set and answers; prints, on stdout, the
        names still to build, and one line on stderr saying which it did and why. A pulled
        image whose labels disagree with matrix.toml is refused (and its name put back as
        it was). Each pulled image is also tagged concurrency-lab:<name>, the name the
        test driver and the hub run. Exit 1, with one line, when --no-build forbids
        the build that is needed, or on a refused image.
    python3 -m labmatrix.registry use WHO FILE
        Makes concurrency-lab:<image> exactly the images a report (matrix.json or
        check.json) ran: pulls each repo digest, finds each image id here.

An image's digest is its repo digest when it came from (or went to) a registry,
``<repository>@sha256:...``, which any host can pull; else its image id, ``sha256:...``,
which names it on the host that built it only.
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from . import matrix
from .errors import UserError

#: How long the registry has to answer ``GET /v2/`` before it counts as unreachable.
PROBE_TIMEOUT = 5
#: Images pulled at once (each pull fetches its layers three at a time).
PULLS = 3
#: The project label the hub's image carries (labmatrix/hub/command.py builds it with it).
HUB_PROJECT = "concurrency-lab-hub"


class RegistryError(UserError):
    """One line: what is wrong and how to fix it (exit 1 unless it says otherwise)."""


def host(repo: str) -> str:
    """The registry host of an image repository (Docker's rule: a first component with a
    dot or a colon, or localhost, is a host; anything else is on Docker Hub)."""
    first, sep, _ = repo.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        return first
    return "registry-1.docker.io"


def loopback(repo: str) -> bool:
    name = host(repo).rsplit(":", 1)[0]  # without the port
    return name in ("localhost", "[::1]") or name.startswith("127.")


def unreachable(repo: str, timeout: float = PROBE_TIMEOUT) -> str:
    """Why the registry of ``repo`` does not answer, "" when it does. Any HTTP answer to
    ``/v2/`` counts (401 is a registry asking for credentials: pulling may still work);
    Docker talks plain HTTP to a loopback registry, so that is tried there too."""
    why = ""
    for scheme in ("https", "http") if loopback(repo) else ("https",):
        try:
            urllib.request.urlopen(f"{scheme}://{host(repo)}/v2/", timeout=timeout).close()
            return ""
        except urllib.error.HTTPError:
            return ""
        except (OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            why = str(getattr(reason, "strerror", None) or reason)
    return why or "no answer"


def docker(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    try:
        done = subprocess.run(["docker", *args], capture_output=True, text=True)
    except FileNotFoundError:
        raise RegistryError("docker is not installed; install Docker and try again") from None
    if check and done.returncode:
        raise RegistryError(f"docker {args[0]} failed: {last_line(done)}")
    return done


def last_line(done: subprocess.CompletedProcess) -> str:
    lines = [ln.strip() for ln in (done.stderr or done.stdout or "").splitlines() if ln.strip()]
    return lines[-1].removeprefix("Error response from daemon: ") if lines else f"exit {done.returncode}"


def inspect(ref: str) -> dict | None:
    done = docker("image", "inspect", "--format", "{{json .}}", ref, check=False)
    return json.loads(done.stdout) if done.returncode == 0 else None


def labels_disagree(name: str, attrs: dict) -> str:
    """Why an image's labels do not fit matrix.toml's ``name`` ("" when they do)."""
    labels = (attrs.get("Config") or {}).get("Labels") or {}
    if name == matrix.HUB:
        found = labels.get(matrix.LABEL)
        return "" if found == HUB_PROJECT else f"its {matrix.LABEL} label is {found!r}, not {HUB_PROJECT!r}"
    image = matrix.get_image(name)
    if labels.get(matrix.IMAGE_LABEL) != name:
        return f"its {matrix.IMAGE_LABEL} label is {labels.get(matrix.IMAGE_LABEL)!r}, not {name!r}"
    version = labels.get(matrix.PYTHON_VERSION_LABEL, "")
    if version.split(".")[:2] != image.debian_python.split("."):
        return f"its Python label says {version or 'nothing'}, matrix.toml says {image.python}"
    return ""


def ready(name: str, ref: str) -> bool:
    """An image Compose can run and wait for: it has its HEALTHCHECK and, for a lab image,
    the version label scripts/build-images sets (an image without it is outdated)."""
    attrs = inspect(ref)
    if attrs is None:
        return False
    config = attrs.get("Config") or {}
    return name == matrix.HUB or bool(config.get("Healthcheck") and (config.get("Labels") or {}).get(matrix.PYTHON_VERSION_LABEL))


def _pull(name: str, repo: str) -> str:
    """Pull ``repo:name``; "" on success, else why not. A refused image leaves the name as
    it was before the pull (the earlier image, or no such name)."""
    ref = f"{repo}:{name}"
    before = (inspect(ref) or {}).get("Id")
    done = docker("pull", "--quiet", ref, check=False)
    if done.returncode:
        return f"{repo} has no {name} ({last_line(done)})" if "manifest unknown" in done.stderr or "not found" in done.stderr \
            else last_line(done)
    bad = labels_disagree(name, inspect(ref) or {})
    if bad:
        if before:
            docker("tag", before, ref)
        else:
            docker("image", "rm", ref, check=False)
        raise RegistryError(f"refusing {ref}: {bad}; publish it again (scripts/publish) or build here "
                            f"({matrix.REGISTRY_ENV}={matrix.IMAGE_REPO})")
    return ""


def pull(who: str, names: list[str], no_build: bool = False, always: bool = False, say=print) -> list[str]:
    """Pull before build: the names still to build. One line through ``say``."""
    repo = matrix.registry()
    wanted = [n for n in names if always or not ready(n, matrix.ref(n))]

    def build(todo: list[str], why: str) -> list[str]:
        listed = " ".join(todo)
        if todo and no_build and not repo:
            raise RegistryError(f"image(s) not built or outdated: {listed}; build them with: scripts/build-images "
                                f"{listed} (or load them: docker load -i concurrency-lab.tar.gz)")
        if todo and no_build:
            raise RegistryError(f"{why}, and --no-build forbids building {listed}; start the registry, "
                                f"or build them: scripts/build-images {listed}")
        say(f"{who}: " + (f"building {listed}: {why}" if todo else f"using the local images ({why})"))
        return todo

    if not wanted:  # (the offline path says nothing here, as before registries)
        return build([], "all present; update them with: docker compose pull") if repo else []
    if not repo:
        return build(wanted, f"no registry is set (matrix.toml [publish] registry, or {matrix.REGISTRY_ENV})")
    why = unreachable(repo)
    if why:
        return build(wanted, f"the registry {host(repo)} does not answer ({why})")
    failed = {}
    with ThreadPoolExecutor(PULLS) as pool:  # a refusal raises here, after every pull ended
        reasons = list(pool.map(lambda n: _pull(n, repo), wanted))
    for name, reason in zip(wanted, reasons):
        if reason:
            failed[name] = reason
        elif matrix.ref(name) != f"{matrix.IMAGE_REPO}:{name}":
            docker("tag", matrix.ref(name), f"{matrix.IMAGE_REPO}:{name}")
    pulled = [n for n in wanted if n not in failed]
    line = f"pulled {' '.join(pulled)} from {repo} (the registry answers)" if pulled else ""
    if failed:
        first = next(iter(failed.values()))
        return build(list(failed), (f"{line}; " if line else "") + f"could not pull them: {first}")
    say(f"{who}: {line}")
    return []


def pulled_for_hub(missing_labs: list[str], error: type[Exception]) -> bool:
    """scripts/hub's pull before build: with a registry set, pull the hub's image and the
    missing lab images (tagged with the names the hub runs). True when the hub's image was
    pulled (so it is not built); the offline path (no registry) says and does nothing."""
    if not matrix.registry():
        return False
    try:
        todo = pull("hub", [matrix.HUB, *missing_labs], say=lambda line: print(line, file=sys.stderr))
    except RegistryError as exc:
        raise error(str(exc)) from None
    return matrix.HUB not in todo


# --- Digests: results tied to images.


def digest(ref: str) -> str:
    """The image's repo digest (the registry's, when one is set), else its image id."""
    attrs = inspect(ref)
    if attrs is None:
        return ""
    repo = matrix.registry()
    repo_digests = attrs.get("RepoDigests") or []
    mine = [d for d in repo_digests if d.partition("@")[0] == repo] or repo_digests
    return mine[0] if mine else attrs["Id"]


def digests(names) -> dict[str, dict[str, str]]:
    """``{image: {"digest": ...}}`` for the images here of ``names`` (the driver's tags)."""
    found = {name: digest(matrix.get_image(name).tag) for name in names}
    return {name: {"digest": d} for name, d in found.items() if d}


def markdown(images: dict, report: str = "matrix.json") -> str:
    """The report's line of image digests ("" when the report has none)."""
    shown = [f"`{name}` `{info['digest']}`" for name, info in images.items() if info.get("digest")]
    return (f"\nImages (re-run exactly these: `scripts/lab LAB --digests {report}`): " + ", ".join(shown) + "\n") if shown else ""


def recorded(path: Path) -> dict[str, str]:
    """The image digests a report recorded: ``{image: digest}``."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise RegistryError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None
    found = {name: info.get("digest", "") for name, info in (data.get("images") or {}).items()
             if isinstance(info, dict) and info.get("digest")}
    if not found:
        raise RegistryError(f"{path} records no image digests (a report from before they were recorded?); "
                            "run the matrix again to write one")
    unknown = sorted(set(found) - set(matrix.image_names()))
    if unknown:
        raise RegistryError(f"{path} names image(s) matrix.toml does not have: {' '.join(unknown)}")
    return found


def use(who: str, path: Path, say=print) -> dict[str, str]:
    """Make ``concurrency-lab:<image>`` exactly the images the report ``path`` ran. Every
    image is found (or pulled) before any name is moved: a failure leaves the names as
    they were."""
    found = recorded(path)
    for name, d in found.items():
        if "@" in d:
            if inspect(d) is None:
                done = docker("pull", "--quiet", d, check=False)
                if done.returncode:
                    raise RegistryError(f"cannot pull {name}'s {d} from {path}: {last_line(done)}")
        elif inspect(d) is None:
            raise RegistryError(f"{name}'s image {d[:19]}… from {path} is not on this host: it was built on "
                                "another one and never published (docs/publishing.md)")
    for name, d in found.items():
        docker("tag", d, matrix.get_image(name).tag)
    say(f"{who}: using the images of {path}: " + ", ".join(f"{n} {d.rpartition('@')[2][:19]}" for n, d in found.items()))
    return found


def main(argv: list[str]) -> int:
    flags = {"--no-build", "--always"}
    opts = {a for a in argv if a in flags}
    args = [a for a in argv if a not in flags]
    valid = {*matrix.image_names(), matrix.HUB}

    def err(line: str) -> None:
        print(line, file=sys.stderr)
    try:
        if args[:1] == ["pull"] and len(args) >= 3 and set(args[2:]) <= valid:
            todo = pull(args[1], args[2:], "--no-build" in opts, "--always" in opts, say=err)
            print("\n".join(todo))
            return 0
        if args[:1] == ["use"] and len(args) == 3 and not opts:
            use(args[1], Path(args[2]), say=err)
            return 0
    except RegistryError as exc:
        err(f"{args[1]}: {exc}")
        return exc.status
    err("usage: python3 -m labmatrix.registry pull WHO [--no-build] [--always] NAME... "
        "| use WHO FILE   (NAME: an image of matrix.toml, or hub)")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
