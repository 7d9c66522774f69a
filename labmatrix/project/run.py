"""Run a project's suite in each cell: a container per image (and GIL mode) started from
its dependency layer, the project copied in, one ``docker exec`` of the in-container runner
(box/project_runner.py) per cell, several cells at once within the driver's limit.

Cells of one container run one after another (the runner's sweep of strays after a cell
would otherwise kill its neighbour); cells of different containers run side by side, at
most ``cells.RUNNERS`` at once, dealt round-robin over the containers so that every image
progresses.
"""

from __future__ import annotations

import io
import json
import tarfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from .. import matrix
from ..cells import RUNNERS
from ..container import ContainerPool, DriverError, LabContainer
from . import copyin, layers

HERE = Path(__file__).resolve().parent
CHECK_BOX = HERE.parent / "check" / "box"
BOX = "/opt/project-box"
CHECK_MOUNT = "/opt/check"
SCRATCH = "/home/lab/scratch"
INPUT = "/home/lab/input"
DIST = "/home/lab/dist"
OUTPUT_CAP = 256 * 1024  # bytes kept of pytest's own stdout and stderr (the tests' output is in the JUnit XML)


@dataclass
class Cell:
    image: str
    gil: str
    method: str  # fork, spawn or forkserver (an image's default is one of them)
    default: bool  # the image's default method
    python: str = ""
    status: str = "pending"  # set by the run: see explain.cell_status
    result: dict = field(default_factory=dict)  # the runner's line: outcome, returncode, junit, progress, ...
    problem: str = ""  # "cannot install: ..." when the cell could not run at all

    @property
    def variant(self) -> str:
        return matrix.variant(self.image, self.gil)

    @property
    def name(self) -> str:
        return f"{self.image}{f' gil={self.gil}' if self.gil else ''}/{self.method}"


def _wheel_tar(wheel: Path) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("dist")
        info.type, info.mode = tarfile.DIRTYPE, 0o755
        tar.addfile(info)
        info = tarfile.TarInfo(f"dist/{wheel.name}")
        data = wheel.read_bytes()
        info.size, info.mode = len(data), 0o644
        tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def container_options() -> dict:
    return {"volumes": {str(CHECK_BOX): {"bind": CHECK_MOUNT, "mode": "ro"}, str(HERE / "box"): {"bind": BOX, "mode": "ro"}},
            "tmpfs": {SCRATCH: "size=512m,uid=1000,gid=1000,mode=0700"}}


def run_cells(cli, todo: list[Cell], layer_of: dict[str, str], folder: Path, wheel: Path | None,
              pytest_args: list[str], timeout: float) -> dict:
    """Run every cell of ``todo`` whose image has a layer; returns timings."""
    start = time.monotonic()
    source = copyin.archive(folder, "input")
    dist = _wheel_tar(wheel) if wheel else None
    variants = list(dict.fromkeys((c.image, c.gil) for c in todo if c.image in layer_of))
    with ContainerPool(cli) as containers:
        # A container per (image, GIL mode), from the image's dependency layer.
        layered = {}
        for image in dict.fromkeys(image for image, _ in variants):
            base = matrix.get_image(image)
            fields = {k: getattr(base, k) for k in base.__dataclass_fields__}
            layered[image] = layers.LayerImage(**fields, layer=layer_of[image])
        started_boxes = containers.start([layered[image] for image, _ in variants], **container_options())
        boxes: dict[tuple[str, str], LabContainer] = dict(zip(variants, started_boxes))

        def copy_in(box: LabContainer) -> None:
            copyin.put(box.container, "/home/lab", source)
            if dist:
                copyin.put(box.container, "/home/lab", dist)

        if boxes:
            with ThreadPoolExecutor(len(boxes)) as pool:
                list(pool.map(copy_in, boxes.values()))
        started = time.monotonic()
        locks = {key: threading.Lock() for key in boxes}
        runnable = [c for c in todo if (c.image, c.gil) in boxes]
        # round-robin over the containers, so that each image's cells start early
        order = sorted(runnable, key=lambda c: ([c2 for c2 in runnable if (c2.image, c2.gil) == (c.image, c.gil)].index(c),
                                                variants.index((c.image, c.gil))))

        def one(cell: Cell) -> None:
            key = (cell.image, cell.gil)
            spec = {"name": cell.method + (f"-gil-{cell.gil}" if cell.gil else ""), "method": cell.method,
                    "gil": cell.gil, "env": matrix.container_env(cell.gil), "input": INPUT,
                    "wheel": f"{DIST}/{wheel.name}" if wheel else None, "args": pytest_args, "timeout": timeout,
                    "cap": OUTPUT_CAP, "scratch": SCRATCH}
            with locks[key]:
                t0 = time.monotonic()
                code, out, err = boxes[key].exec([layers.PYTHON, f"{BOX}/project_runner.py", json.dumps(spec)],
                                                 timeout=timeout + 60)
            lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
            if code != 0 or len(lines) < 2:
                raise DriverError(f"the project runner failed in {cell.name} (exit {code}): {err.strip()[-300:]}")
            cell.python = ".".join(map(str, lines[0]["version_info"]))
            cell.result = dict(lines[1], exec_s=round(time.monotonic() - t0, 3))

        pool = ThreadPoolExecutor(max(1, min(RUNNERS, len(order))))
        try:
            list(pool.map(one, order))
        except BaseException:
            containers.remove_all()  # at once: that ends their execs
            raise
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
        ran = time.monotonic()
        containers.remove_all()
    end = time.monotonic()
    return {"start_s": round(started - start, 2), "cells_s": round(ran - started, 2), "remove_s": round(end - ran, 2)}
