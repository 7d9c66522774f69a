"""The image matrix, read from ``matrix.toml`` (the one place that defines it).

Stdlib only, so shell scripts read the matrix through it with the host's ``python3``
(never by parsing TOML in shell):

    python3 -m labmatrix.matrix values python   # one value per image, in file order
    python3 -m labmatrix.matrix mirror
    python3 -m labmatrix.matrix tag py3.14            # concurrency-lab:py3.14
    python3 -m labmatrix.matrix python-label          # the image label with the exact version
    python3 -m labmatrix.matrix gil-label             # the image label with the GIL facts
    python3 -m labmatrix.matrix source py3.13t        # python3.13=3.13.5 trixie (nothing if none)
    python3 -m labmatrix.matrix hub-suite hub-python  # the hub image's Debian suite and Python
    python3 -m labmatrix.matrix registry              # the image repository to pull from ('' = none)
    python3 -m labmatrix.matrix ref py3.14 hub        # what Compose runs: <registry or concurrency-lab>:py3.14
    python3 -m labmatrix.matrix immutable py3.14 3.14.0 20261206   # py3.14-3.14.0-20261206

``load()`` checks every key and value: a typo is one line naming the image and the key,
with a close match when there is one (as cibuildwheel's option checks do).
"""

import difflib
import json
import os
import sys
from collections.abc import Iterable
from dataclasses import MISSING, dataclass, fields
from functools import cache
from pathlib import Path

import tomllib

from .cli import run as run_command
from .errors import BadInput

ROOT = Path(__file__).resolve().parent.parent
LABS_DIR = ROOT / "labs"
# The host side's words; labs/labkit defines the container side's, and tests/test_vocabulary.py
# ties the two together.
METHODS = ("fork", "spawn", "forkserver", "default")
#: The platforms an image can behave like (matrix.toml's ``platform``), and the
#: ``sys.platform`` each one has natively.
PLATFORMS = {"linux": "linux", "macos": "darwin", "windows": "win32"}
#: Every bound multiplied, on both sides (labkit reads the same variable in the
#: container): for a host far slower than any laptop, such as QEMU user emulation
#: (scripts/verify-arm64). 1 everywhere else.
TIME_SCALE_ENV = "LABKIT_TIME_SCALE"
#: The bound on one lab run, passed to labkit.runner (which enforces it), times time_scale().
CELL_TIMEOUT = 15


def time_scale() -> float:
    return float(os.environ.get(TIME_SCALE_ENV) or 1)


def cell_timeout() -> float:
    """The bound on one lab run on this host: CELL_TIMEOUT, times time_scale()."""
    return CELL_TIMEOUT * time_scale()


IMAGE_REPO = "concurrency-lab"
LABEL_PREFIX = "org.concurrency-lab"
LABEL = f"{LABEL_PREFIX}.project"
#: The image label that records the image's exact interpreter (scripts/build-images sets it).
PYTHON_VERSION_LABEL = f"{LABEL_PREFIX}.python-version"
#: The image label with Py_GIL_DISABLED and sys._is_gil_enabled() (scripts/build-images).
GIL_LABEL = f"{LABEL_PREFIX}.gil"
#: The label of a labelled image that names the image Compose built (scripts/build-images).
BUILT_FROM_LABEL = f"{LABEL_PREFIX}.built-from"
#: The GIL axis: on a free-threaded image every cell runs with the GIL off (its default)
#: and forced on (PYTHON_GIL=1, PEP 703 "Build configuration changes"). GIL builds have
#: no axis: their cells have gil "".
GIL_MODES = ("off", "on")
GIL_ENV = {"off": {}, "on": {"PYTHON_GIL": "1"}}


#: QEMU user emulation (binfmt_misc) reads its CPU model from each emulated process's
#: environment; where the host sets it (scripts/verify-arm64), lab processes get it too.
EMULATOR_CPU_ENV = "QEMU_CPU"


def container_env(gil: str = "") -> dict[str, str]:
    """What a process started in a lab container is given on top of the image's
    environment: the GIL mode's variable and, on an emulated host, the time scale and
    the emulator's CPU model."""
    scale = {TIME_SCALE_ENV: str(time_scale())} if time_scale() != 1 else {}
    cpu = {EMULATOR_CPU_ENV: os.environ[EMULATOR_CPU_ENV]} if os.environ.get(EMULATOR_CPU_ENV) else {}
    return {**GIL_ENV.get(gil, {}), **scale, **cpu}


#: The image labels the build sets from matrix.toml (compose.yaml's build labels).
IMAGE_LABEL = f"{LABEL_PREFIX}.image"
METHOD_LABEL = f"{LABEL_PREFIX}.default-method"
#: What ties a container, network, volume or image to the run that made it (container.py).
PID_LABEL = f"{LABEL_PREFIX}.driver-pid"
HOST_LABEL = f"{LABEL_PREFIX}.driver-host"
KEY_LABEL = f"{LABEL_PREFIX}.container-key"
#: A dependency layer of scripts/check --project (labmatrix/project/layers.py): a lab image
#: plus a project's dependencies, never a lab image itself.
DEPS_LABEL = f"{LABEL_PREFIX}.deps"
#: The environment that gives a workshop's compose project the driver labels (the tests'
#: projects; an attendee's workshop has them empty, so no sweep ever touches it).
RUN_LABEL_ENV = {PID_LABEL: "LABMATRIX_DRIVER_PID", HOST_LABEL: "LABMATRIX_DRIVER_HOST"}
#: The hub's network label with the port of its API, and the attendee's name on each
#: server and work volume (labmatrix/hub, images/hub/jupyterhub_config.py).
API_PORT_LABEL = f"{LABEL_PREFIX}.hub-api-port"
HUB_USER_LABEL = f"{LABEL}-user"
#: The environment variable that overrides [debian] mirror for one run.
MIRROR_ENV = "DEBIAN_MIRROR"
#: The image label with the UTC date (YYYYMMDD) scripts/build-images labelled the image on:
#: the immutable published tag is ``<image>-<exact Python>-<build date>``.
BUILD_DATE_LABEL = f"{LABEL_PREFIX}.build-date"
#: The environment variable that overrides matrix.toml's ``[publish] registry``; set to
#: IMAGE_REPO it means "no registry" (Compose's image name is then the local one).
REGISTRY_ENV = "CONCURRENCY_LAB_REGISTRY"
#: The architectures images are built and published for, as Docker names them.
ARCHES = ("amd64", "arm64")
#: The hub's image (labmatrix/hub/command.py builds it) is published beside the lab images.
HUB = "hub"


@dataclass(frozen=True)
class Image:
    name: str
    suite: str
    python: str
    default_method: str
    platform: str
    port: int
    why: str
    source: str = ""  # "<source package>=<upstream version>": compiled with --disable-gil

    @property
    def tag(self) -> str:
        return f"{IMAGE_REPO}:{self.name}"

    @property
    def free_threaded(self) -> bool:
        return bool(self.source)

    @property
    def gil_modes(self) -> tuple[str, ...]:
        """The GIL axis of this image: ("off", "on") when free-threaded, ("",) otherwise."""
        return GIL_MODES if self.free_threaded else ("",)

    @property
    def debian_python(self) -> str:
        """The Debian python3.X of the suite (on a free-threaded image, the server's)."""
        return self.python.removesuffix("t")


class MatrixError(BadInput):
    """matrix.toml has a key or a value that cannot be used: one line naming where."""


#: The tables of matrix.toml and their keys (images are checked against ``Image``).
TABLES = {"debian": {"mirror"}, "hub": {"suite", "python"}, "publish": {"registry"}, "image": set()}


def _unknown(where: str, key: str, valid: Iterable[str]) -> MatrixError:
    close = difflib.get_close_matches(key, list(valid), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else f"; valid: {', '.join(sorted(valid))}"
    return MatrixError(f"matrix.toml: {where}: unknown key {key!r}{hint}")


def validate(data: dict) -> dict:
    """``data`` (matrix.toml, parsed) if every table, key and value is known; else MatrixError."""
    for table in data:
        if table not in TABLES:
            raise _unknown("top level", table, TABLES)
    for table, keys in TABLES.items():
        if table != "image":
            for key in data.get(table, {}):
                if key not in keys:
                    raise _unknown(f"[{table}]", key, keys)
    known = {f.name: f for f in fields(Image)}
    required = [name for name, f in known.items() if f.default is MISSING]
    names: set[str] = set()
    ports: dict[int, str] = {}
    for n, entry in enumerate(data.get("image", []), 1):
        where = f"image {entry.get('name', f'#{n}')!r}"
        for key, value in entry.items():
            if key not in known:
                raise _unknown(where, key, known)
            want = int if key == "port" else str
            if not isinstance(value, want) or isinstance(value, bool):
                raise MatrixError(f"matrix.toml: {where}: {key} = {value!r} is not a{'n integer' if want is int else ' string'}")
        for key in required:
            if key not in entry:
                raise MatrixError(f"matrix.toml: {where}: {key} is missing")
        if entry["default_method"] not in METHODS[:-1]:
            raise MatrixError(f"matrix.toml: {where}: default_method = {entry['default_method']!r}; "
                              f"valid: {', '.join(METHODS[:-1])}")
        if entry["platform"] not in PLATFORMS:
            raise MatrixError(f"matrix.toml: {where}: platform = {entry['platform']!r}; valid: {', '.join(PLATFORMS)}")
        if entry["name"] in names:
            raise MatrixError(f"matrix.toml: {where}: the name is used twice")
        if entry["port"] in ports:
            raise MatrixError(f"matrix.toml: {where}: port {entry['port']} is {ports[entry['port']]!r}'s too")
        if not 1024 <= entry["port"] <= 65535:
            raise MatrixError(f"matrix.toml: {where}: port {entry['port']} is not in 1024-65535")
        names.add(entry["name"])
        ports[entry["port"]] = entry["name"]
    return data


@cache
def load() -> dict:
    return validate(tomllib.loads((ROOT / "matrix.toml").read_text()))


def images() -> list[Image]:
    return [Image(**entry) for entry in load()["image"]]


def hub() -> dict[str, str]:
    """The hub image's Debian suite and Python (its lock is requirements/hub.txt)."""
    return dict(load()["hub"])


def image_names() -> list[str]:
    return [image.name for image in images()]


def variant(image: str, gil: str = "") -> str:
    """The name of an image's GIL variant in reports and headers: ``py3.13t gil=off``, or
    just the image where it has no GIL axis."""
    return f"{image} gil={gil}" if gil else image


def cell_id(lab: str, target: str, method: str, gil: str = "") -> str:
    """A cell's id in test ids, reports and scripts/lab: ``main_guard-py3.13t-fork-gil_off``."""
    return f"{lab}-{target}-{method}" + (f"-gil_{gil}" if gil else "")


def get_image(name: str) -> Image:
    for image in images():
        if image.name == name:
            return image
    raise KeyError(name)


def source_file(source: str) -> str:
    """``python3.13=3.13.5`` -> ``python3.13_3.13.5.orig.tar.xz`` (Debian's name for it)."""
    package, _, version = source.partition("=")
    return f"{package}_{version}.orig.tar.xz"


def mirror(override: bool = True) -> str:
    """The Debian mirror: DEBIAN_MIRROR for one run, else matrix.toml's (the one place
    that applies the override; ``override=False`` is the file's, which compose.yaml is
    rendered with)."""
    return (override and os.environ.get(MIRROR_ENV)) or load()["debian"]["mirror"]


def registry_setting() -> str:
    """matrix.toml's registry, or IMAGE_REPO where it sets none (Compose's default)."""
    return load().get("publish", {}).get("registry", "").strip() or IMAGE_REPO


def registry() -> str:
    """The image repository to pull from and push to, "" for none (build here)."""
    value = os.environ.get(REGISTRY_ENV, "").strip() or registry_setting()
    return "" if value == IMAGE_REPO else value


def ref(name: str) -> str:
    """The name Compose runs an image (or the hub) by: from the registry if one is set."""
    return f"{registry() or IMAGE_REPO}:{name}"


def immutable_tag(name: str, version: str, date: str) -> str:
    """The published tag that never moves: ``py3.14-3.14.0-20261206``."""
    return f"{name}-{version}-{date}"


def platform_name(value: str) -> str:
    """A platform as matrix.toml names it, from that name or from a ``sys.platform``."""
    if value in PLATFORMS:
        return value
    return next((name for name, native in PLATFORMS.items() if value.startswith(native)), "linux")


def lab_names() -> list[str]:
    return sorted(p.stem for p in LABS_DIR.glob("*.py") if not p.name.startswith(("_", ".")))


def main(argv: list[str]) -> int:
    keys = [f.name for f in fields(Image)] + ["debian_python"]
    one = {"mirror": mirror, "repo": lambda: IMAGE_REPO, "project-label": lambda: LABEL,
           "hub-suite": lambda: hub()["suite"], "hub-python": lambda: hub()["python"],
           "python-label": lambda: PYTHON_VERSION_LABEL, "method-label": lambda: METHOD_LABEL,
           "gil-label": lambda: GIL_LABEL, "built-from-label": lambda: BUILT_FROM_LABEL,
           "build-date-label": lambda: BUILD_DATE_LABEL, "deps-label": lambda: DEPS_LABEL, "registry": registry, "registry-env": lambda: REGISTRY_ENV}
    if argv and set(argv) <= set(one):  # a line per name, in the order given
        print("\n".join(one[name]() for name in argv))
        return 0
    if argv[:1] == ["values"] and len(argv) in (2, 3) and argv[1] in keys and argv[2:] in ([], ["--json"]):
        values = [getattr(image, argv[1]) for image in images()]
        print(json.dumps(values) if argv[2:] else "\n".join(map(str, values)))
        return 0
    if argv[:1] in (["tag"], ["source"]) and len(argv) >= 2 and set(argv[1:]) <= set(image_names()):
        for image in map(get_image, argv[1:]):  # a line per image, in the order given
            if argv[0] == "tag":
                print(image.tag)
            elif image.source:
                print(image.source, image.suite)
        return 0
    if argv[:1] == ["ref"] and len(argv) >= 2 and set(argv[1:]) <= {*image_names(), HUB}:
        print("\n".join(map(ref, argv[1:])))
        return 0
    if argv[:1] == ["immutable"] and len(argv) == 4 and argv[1] in {*image_names(), HUB}:
        print(immutable_tag(*argv[1:]))
        return 0
    print(f"usage: python3 -m labmatrix.matrix {{{'|'.join(one)}}}... | values {{{'|'.join(keys)}}} [--json] "
          "| tag IMAGE... | source IMAGE... | ref IMAGE|hub... | immutable IMAGE|hub VERSION DATE", file=sys.stderr)
    return 2


if __name__ == "__main__":
    run_command(main, "matrix")
