"""A project's dependencies, resolved and downloaded on the host for each image's Python.

Containers reach no package index (a TLS-intercepting proxy only the host trusts), so
everything a cell installs is fetched here, the way scripts/wheelhouse fills the images'
wheelhouse:

1. The project is built into a wheel on the host (``pip wheel`` of a copy of its folder:
   setuptools writes build/ and *.egg-info into the tree it builds, and the user's folder
   is never written). Its metadata gives the dependencies and extras whatever the build
   backend (pyproject.toml, setup.cfg or setup.py). Only a pure-Python project can be
   checked: a compiled one would need each image's compiler and headers.
2. What a cell installs: the project's dependencies, its test extra (``test``, ``tests``
   or ``testing``, or ``--extra``), a PEP 735 dependency group of pyproject.toml
   (``--group``, or one of those names), ``-r`` requirement files, and pytest.
3. Per image, ``uv pip compile`` resolves them for that image's exact Python and platform
   (its markers; ``pip download --python-version`` evaluates markers for the host's own
   Python), then ``pip download --no-deps --only-binary=:all:`` fetches each pin for the
   image's ABI (cp39 … cp315, cp313t; an abi3 wheel does not load on a free-threaded
   build, PEP 703). A pin with only an sdist is built into a wheel on the host if it is
   pure Python; otherwise the image's cells say "cannot install: <pin> has no wheel for
   <abi>". Locks and wheels are cached (``$XDG_CACHE_HOME/concurrency-lab/project``), so a
   warm run asks no index.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from email.parser import Parser
from pathlib import Path

import tomllib

from . import copyin

CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "concurrency-lab" / "project"
TEST_NAMES = ("test", "tests", "testing")
PIP = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
UV = [str(Path(sys.executable).with_name("uv")), "pip", "compile", "--quiet", "--no-header", "--no-annotate"]
NETWORK_S = 600  # a bound on one resolution or download on the host


class DepsError(Exception):
    """Dependencies that cannot be had anywhere: one line that names the fix."""


@dataclass(frozen=True)
class Target:
    """What an image's interpreter accepts (probed in the image once per image id)."""

    image: str
    python: str  # the exact version, e.g. 3.13.5
    abi: str  # cp313, or cp313t on a free-threaded build
    machine: str  # x86_64, aarch64
    glibc: tuple[int, int]

    @property
    def minor(self) -> str:
        return ".".join(self.python.split(".")[:2])

    def platforms(self) -> list[str]:
        """manylinux tags this glibc accepts (PEP 600), with the legacy aliases (PEP 513/571/599)."""
        tags = [f"manylinux_{self.glibc[0]}_{n}_{self.machine}" for n in range(self.glibc[1], 4, -1)]
        legacy = {"manylinux2014": (2, 17), "manylinux2010": (2, 12), "manylinux1": (2, 5)}
        return tags + [f"{name}_{self.machine}" for name, v in legacy.items() if v <= self.glibc]


#: Printed by each image's interpreter: what Target needs (stdlib, 3.9+).
PROBE = r"""
import json, platform, sys, sysconfig
t = "t" if sysconfig.get_config_var("Py_GIL_DISABLED") else ""
glibc = platform.libc_ver()[1] or "2.17"
print(json.dumps({"python": platform.python_version(), "abi": "cp%d%d%s" % (sys.version_info[0], sys.version_info[1], t),
                  "machine": platform.machine(), "glibc": [int(x) for x in glibc.split(".")[:2]]}))
"""


@dataclass
class Project:
    folder: Path
    wheel: Path | None  # the project built on the host; None for a folder that is not a package
    name: str
    requirements: list[str] = field(default_factory=list)  # requirement lines, markers kept
    files: list[Path] = field(default_factory=list)  # -r files
    key: str = ""  # what the resolution depends on: the project's requirements, not its code

    def lock_key(self) -> str:
        return "\n".join([self.key, *self.requirements[1 if self.wheel else 0:], *(str(f) for f in self.files)])

    def lines(self) -> list[str]:
        return [*self.requirements, *(f"-r {f}" for f in self.files)]


# --------------------------------------------------------------------------- the project


def tree_hash(folder: Path) -> str:
    """A hash of the files a copy of the folder would hold (copyin.SKIP left out)."""
    h = hashlib.sha256()
    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if d not in copyin.SKIP and not d.endswith(".egg-info"))
        for name in sorted(names):
            path = Path(root, name)
            if path.is_file():
                h.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:20]


def is_package(folder: Path) -> bool:
    return (folder / "pyproject.toml").is_file() or (folder / "setup.py").is_file()


def build_wheel(folder: Path) -> Path:
    """The project's wheel, built on the host from a copy of its folder (cached by content)."""
    dest = CACHE / "builds" / tree_hash(folder)
    found = sorted(dest.glob("*.whl"))
    if found:
        return found[0]
    with tempfile.TemporaryDirectory(prefix="check-project-build-") as tmp:
        copy = Path(tmp, "src")
        shutil.copytree(folder, copy, symlinks=True,
                        ignore=lambda d, names: [n for n in names if n in copyin.SKIP or n.endswith(".egg-info")])
        out = Path(tmp, "dist")
        proc = subprocess.run([*PIP, "wheel", "--quiet", "--no-deps", "--wheel-dir", str(out), str(copy)],
                              capture_output=True, text=True, timeout=NETWORK_S)
        wheels = sorted(out.glob("*.whl"))
        if proc.returncode != 0 or not wheels:
            raise DepsError(f"cannot build {folder} into a wheel: {_last_error(proc.stderr or proc.stdout)}")
        wheel = wheels[0]
        if not wheel.name.endswith("-none-any.whl"):
            raise DepsError(f"{folder} builds a compiled wheel ({wheel.name}); --project checks pure-Python "
                            "projects only (the images have no compiler)")
        dest.mkdir(parents=True, exist_ok=True)
        shutil.copy2(wheel, dest / wheel.name)
    return dest / wheel.name


def metadata(wheel: Path) -> dict:
    import zipfile
    with zipfile.ZipFile(wheel) as zf:
        name = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA") and n.count("/") == 1)
        msg = Parser().parsestr(zf.read(name).decode())
    return {"name": msg["Name"], "requires": msg.get_all("Requires-Dist") or [],
            "extras": msg.get_all("Provides-Extra") or []}


def _groups(pyproject: dict, name: str, seen: tuple = ()) -> list[str]:
    """A PEP 735 dependency group, its include-group entries expanded."""
    groups = {re.sub(r"[-_.]+", "-", k).lower(): v for k, v in pyproject.get("dependency-groups", {}).items()}
    out = []
    for item in groups.get(name, []):
        if isinstance(item, dict) and "include-group" in item:
            inner = re.sub(r"[-_.]+", "-", item["include-group"]).lower()
            if inner not in seen:
                out += _groups(pyproject, inner, (*seen, name))
        elif isinstance(item, str):
            out.append(item)
    return out


def project(folder: Path, extras: tuple[str, ...] = (), groups: tuple[str, ...] = (),
            files: tuple[Path, ...] = ()) -> Project:
    """What the project installs in a cell, read from its wheel and pyproject.toml."""
    pyproject = {}
    if (folder / "pyproject.toml").is_file():
        try:
            pyproject = tomllib.loads((folder / "pyproject.toml").read_text())
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise DepsError(f"{folder / 'pyproject.toml'} is not valid TOML: {exc}") from None
    wheel, name, reqs, key = None, folder.name, [], ""
    if is_package(folder):
        wheel = build_wheel(folder)
        meta = metadata(wheel)
        name = meta["name"]
        normal = [e for e in meta["extras"]]
        chosen = list(extras) or [e for e in normal if re.sub(r"[-_.]+", "-", e).lower() in TEST_NAMES][:1]
        unknown = [e for e in chosen if e not in normal]
        if unknown:
            raise DepsError(f"{name} has no extra {unknown[0]!r}; its extras: {', '.join(normal) or 'none'}")
        reqs.append(f"{name}[{','.join(chosen)}] @ {wheel.as_uri()}" if chosen else f"{name} @ {wheel.as_uri()}")
        key = "\n".join([name, ",".join(chosen), *sorted(meta["requires"])])
    available = {re.sub(r"[-_.]+", "-", k).lower() for k in pyproject.get("dependency-groups", {})}
    chosen_groups = [re.sub(r"[-_.]+", "-", g).lower() for g in groups] or [g for g in TEST_NAMES if g in available][:1]
    for group in chosen_groups:
        if group not in available:
            raise DepsError(f"{folder / 'pyproject.toml'} has no dependency group {group!r}; "
                            f"its groups: {', '.join(sorted(available)) or 'none'}")
        reqs += _groups(pyproject, group)
    reqs += ["pytest", "pip"]  # pip installs the rest offline in the image (its venvs drop pip)
    for f in files:
        if not f.is_file():
            raise DepsError(f"no such requirements file: {f}")
    return Project(folder, wheel, name, reqs, [f.resolve() for f in files], key)


# --------------------------------------------------------------------------- per image


@dataclass
class Resolved:
    """What one image installs: its wheels, or why it cannot."""

    target: Target
    wheels: list[Path] = field(default_factory=list)  # without the project's own
    pins: list[str] = field(default_factory=list)
    problem: str = ""  # "cannot install: ..." when the image's cells cannot run


def _key(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:20]


def _last_error(text: str) -> str:
    lines = [ln.strip(" ×╰─▶│") .strip() for ln in text.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith(("ERROR:", "error:"))]
    line = (errors or lines or ["(no output)"])[-1]
    return re.sub(r"^(ERROR|error):\s*", "", line)[:300]


def _uv_reason(text: str) -> str:
    """The sentence of uv's resolution error that names the requirement."""
    flat = " ".join(ln.strip(" ×╰─▶│").strip() for ln in text.splitlines())
    flat = re.sub(r"\s+", " ", flat)
    m = re.search(r"Because (.*?)(?:, we can conclude| and you require|$)", flat)
    if m:
        return "because " + m.group(1).strip()
    return _last_error(text)


def compile_lock(project: Project, target: Target) -> list[str]:
    """Exact pins for the image's Python (cached by the requirements and the Python)."""
    text = "\n".join(project.lines())
    files = "".join(f.read_text() for f in project.files)
    key = _key("lock-v2", project.lock_key(), files, target.python, target.machine)
    lock = CACHE / "locks" / f"{key}.txt"
    if lock.is_file():
        return lock.read_text().split()
    (CACHE / "pure").mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="check-project-lock-") as tmp:
        req_in = Path(tmp, "requirements.in")
        req_in.write_text(text + "\n")
        proc = subprocess.run([*UV, "--python-version", target.python, "--python-platform",
                               f"{target.machine}-unknown-linux-gnu", "--find-links", str(CACHE / "pure"),
                               str(req_in)], capture_output=True, text=True, timeout=NETWORK_S)
    if proc.returncode != 0:
        raise DepsError(f"cannot resolve the dependencies for Python {target.python}: {_uv_reason(proc.stderr)}")
    pins = [ln.strip() for ln in proc.stdout.splitlines()
            if ln.strip() and not ln.startswith(("#", " ", "-")) and " @ " not in ln]
    lock.parent.mkdir(parents=True, exist_ok=True)
    lock.write_text("\n".join(pins) + "\n")
    return pins


def _pure_wheel(pin: str) -> Path | None:
    """A pin that has only an sdist, built into a wheel on the host if it is pure Python."""
    pure = CACHE / "pure"
    name = re.split(r"[=<>!~ ;\[]", pin, maxsplit=1)[0]
    norm = re.sub(r"[-_.]+", "_", name).lower()
    version = pin.split("==", 1)[1] if "==" in pin else ""
    for wheel in pure.glob("*.whl"):
        parts = wheel.name.split("-")
        if parts[0].lower() == norm and (not version or parts[1] == version):
            return wheel
    refused = pure / f".not-pure-{norm}-{version}"  # built once: not pure (or no sdist)
    if refused.exists():
        return None
    with tempfile.TemporaryDirectory(prefix="check-project-sdist-") as tmp:
        proc = subprocess.run([*PIP, "wheel", "--quiet", "--no-deps", "--no-binary", name, "--wheel-dir", tmp, pin],
                              capture_output=True, text=True, timeout=NETWORK_S)
        built = sorted(Path(tmp).glob("*.whl"))
        if proc.returncode != 0 or not built or not built[0].name.endswith("-none-any.whl"):
            pure.mkdir(parents=True, exist_ok=True)
            refused.touch()
            return None
        pure.mkdir(parents=True, exist_ok=True)
        shutil.copy2(built[0], pure / built[0].name)
        return pure / built[0].name


def _wheel_for(pin: str, folder: Path) -> Path | None:
    name, _, version = pin.partition("==")
    norm = re.sub(r"[-_.]+", "_", name).lower()
    for wheel in folder.glob("*.whl"):
        parts = wheel.name[:-4].split("-")
        if parts[0].lower() == norm and parts[1] == version:
            return wheel
    return None


def download(pins: list[str], target: Target) -> tuple[list[Path], str]:
    """The wheel of every pin for the image's ABI: (wheels, problem)."""
    folder = CACHE / "wheels" / f"{target.abi}-{target.machine}"
    folder.mkdir(parents=True, exist_ok=True)
    missing = [p for p in pins if not _wheel_for(p, folder) and not _wheel_for(p, CACHE / "pure")]
    if missing:
        # abi3 wheels load on a GIL build of 3.2+ (PEP 384), never on a free-threaded one (PEP 703).
        abis = [target.abi, "none"] + ([] if target.abi.endswith("t") else ["abi3"])
        base = [*PIP, "download", "--quiet", "--no-deps", "--only-binary=:all:", "--implementation", "cp",
                "--python-version", target.minor, *[a for abi in abis for a in ("--abi", abi)],
                *[a for p in [*target.platforms(), "any"] for a in ("--platform", p)], "--dest", str(folder)]
        with tempfile.TemporaryDirectory() as tmp:
            Path(tmp, "pins.txt").write_text("\n".join(missing) + "\n")
            proc = subprocess.run([*base, "-r", str(Path(tmp, "pins.txt"))], capture_output=True, text=True,
                                  timeout=NETWORK_S)
        if proc.returncode != 0:  # one at a time, to name the pin that has no wheel
            for pin in missing:
                if _wheel_for(pin, folder):
                    continue
                one = subprocess.run([*base, pin], capture_output=True, text=True, timeout=NETWORK_S)
                if one.returncode != 0 and not _pure_wheel(pin):
                    return [], f"cannot install: {pin} has no wheel for {target.abi}"
    wheels = []
    for pin in pins:
        wheel = _wheel_for(pin, folder) or _wheel_for(pin, CACHE / "pure")
        if wheel is None:
            return [], f"cannot install: {pin} has no wheel for {target.abi}"
        if target.abi.endswith("t") and "-abi3-" in wheel.name:
            return [], f"cannot install: {pin} has no wheel for {target.abi} (only abi3, which a free-threaded build cannot load)"
        wheels.append(wheel)
    return wheels, ""


def resolve(project: Project, target: Target) -> Resolved:
    try:
        pins = compile_lock(project, target)
    except DepsError as exc:
        return Resolved(target, problem=f"cannot install: {exc}")
    wheels, problem = download(pins, target)
    return Resolved(target, wheels, pins, problem)


def save_probe(image_id: str, data: dict) -> None:
    path = CACHE / "probes" / f"{image_id.replace(':', '-')}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


def cached_probe(image_id: str) -> dict | None:
    path = CACHE / "probes" / f"{image_id.replace(':', '-')}.json"
    return json.loads(path.read_text()) if path.is_file() else None
