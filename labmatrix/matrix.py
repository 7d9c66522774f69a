"""The image matrix, read from ``matrix.toml`` (the one place that defines it)."""

from dataclasses import dataclass
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
