"""The image matrix, read from ``matrix.toml`` (the one place that defines it).

Stdlib only, so shell scripts read the matrix through it with the host's ``python3``
(never by parsing TOML in shell):

    python3 -m labmatrix.matrix values python   # one value per image, in file order
    python3 -m labmatrix.matrix mirror
"""

import sys
from dataclasses import dataclass, fields
from functools import cache
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parent.parent
LABS_DIR = ROOT / "labs"
METHODS = ("fork", "spawn", "forkserver", "default")
IMAGE_REPO = "concurrency-lab"
LABEL = "org.concurrency-lab.project"


@dataclass(frozen=True)
class Image:
    name: str
    suite: str
    python: str
    default_method: str
    platform: str
    port: int
    why: str

    @property
    def tag(self) -> str:
        return f"{IMAGE_REPO}:{self.name}"


@cache
def load() -> dict:
    return tomllib.loads((ROOT / "matrix.toml").read_text())


def images() -> list[Image]:
    return [Image(**entry) for entry in load()["image"]]


def image_names() -> list[str]:
    return [image.name for image in images()]


def get_image(name: str) -> Image:
    for image in images():
        if image.name == name:
            return image
    raise KeyError(name)


def mirror() -> str:
    return load()["debian"]["mirror"]


def lab_names() -> list[str]:
    return sorted(p.stem for p in LABS_DIR.glob("*.py") if not p.name.startswith(("_", ".")))


def main(argv: list[str]) -> int:
    keys = [f.name for f in fields(Image)]
    if argv[:1] == ["mirror"] and len(argv) == 1:
        print(mirror())
        return 0
    if argv[:1] == ["values"] and len(argv) == 2 and argv[1] in keys:
        for image in images():
            print(getattr(image, argv[1]))
        return 0
    print(f"usage: python3 -m labmatrix.matrix mirror | values {{{'|'.join(keys)}}}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
