"""Run cells (lab × target × start method [× GIL mode]) in batches and check them against
expectations.

A target is an image of the matrix (run inside one long-lived container per image, one
``docker exec`` per batch) or ``host`` (the interpreter running the driver). The batch
runner is ``labs/labkit/runner.py``; it enforces each cell's bound next to the lab. On a
free-threaded image a batch runs with the GIL off (the default there) or forced on with
``PYTHON_GIL=1``, which the runner and every lab it starts inherit.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field

from . import expect
from .container import LabContainer
from .matrix import CELL_TIMEOUT, GIL_ENV, LABS_DIR, Image, platform_name, variant


@dataclass
class Result:
    lab: str
    image: str
    method: str
    outcome: str
    obs: dict
    returncode: int | None
    duration_s: float
    stdout: str
    stderr: str
    python: str = ""
    platform: str = "linux"
    default_method: str = ""
    expected: dict = field(default_factory=dict)
    why: dict = field(default_factory=dict)
    problems: list = field(default_factory=list)
    obs_all: dict = field(default_factory=dict)
    gil: str = ""  # "off" or "on" on a free-threaded image; "" where there is no GIL axis

    @property
    def id(self) -> str:
        return f"{self.lab}-{self.image}-{self.method}" + (f"-gil_{self.gil}" if self.gil else "")

    @property
    def variant(self) -> str:
        return variant(self.image, self.gil)

    @property
    def ok(self) -> bool:
        return not self.problems

    def explain(self) -> str:
        """What was expected, what was observed, and why each rule that applies does."""
        lines = [f"{self.id}: " + ("as expected" if self.ok else "expected vs observed")]
        lines += [f"  {p}" + (f"  (why: {self.why[k]})" if (k := p.split(":")[0]) in self.why else "")
                  for p in self.problems]
        if self.ok and self.why:
            lines += [f"  {key}: {why}" for key, why in self.why.items()]
        if not self.ok:
            lines += ["--- stdout ---", self.stdout.rstrip(), "--- stderr ---", self.stderr.rstrip()]
        return "\n".join(lines)

    def to_json(self) -> dict:
        return asdict(self)


#: Runner processes at once over all images: the cores, plus as many again for cells that
#: wait (a bounded join, a child's start).
RUNNERS = 2 * (os.cpu_count() or 1)
BATCHES_PER_RUNNER = 3


def _batch_args(cells: list[tuple[str, str]]) -> list[str]:
    return ["--timeout", str(CELL_TIMEOUT), *[f"{lab}:{method}" for lab, method in cells]]


def _parse(target: str, output: str, default_method: str, gil: str = "") -> tuple[dict, list[Result]]:
    header, results = {}, []
    for line in output.splitlines():
        if not line.startswith("{"):
            continue
        item = json.loads(line)
        if item.get("header"):
            header = item
            continue
        platform = platform_name(item["obs"].get("platform", ""))
        python = ".".join(map(str, header.get("version_info", [])))
        results.append(Result(
            lab=item["lab"], image=target, method=item["method"], outcome=item["outcome"],
            obs=item["obs"], obs_all=item.get("obs_all", {}), returncode=item["returncode"],
            duration_s=item["duration_s"], stdout=item["stdout"], stderr=item["stderr"],
            python=python, platform=platform, gil=gil,
            default_method=default_method or expect.platform_default(python, platform)))
    return header, results


def check(result: Result) -> Result:
    exp = expect.expected(result.lab, result.python, result.method, result.platform, result.gil)
    result.expected = {"outcome": exp.outcome, "obs": exp.obs}
    result.why = exp.why
    result.problems = expect.compare(exp, result.outcome, result.obs)
    return result


def _chunks(cells: list, n: int) -> list[list]:
    return [cells[i::n] for i in range(n) if cells[i::n]]


def _in_batches(run_batch, cells: list[tuple[str, str]], jobs: int) -> tuple[dict, list[Result]]:
    """Split cells into ``jobs`` runner batches, run them side by side, check every result."""
    with ThreadPoolExecutor(jobs) as pool:
        parts = list(pool.map(run_batch, _chunks(cells, jobs)))
    header = parts[0][0] if parts else {}
    return header, [check(r) for _, rs in parts for r in rs]


def run_host(cells: list[tuple[str, str]], jobs: int = 2) -> tuple[dict, list[Result]]:
    """Run cells with the host interpreter."""
    def batch(part):
        proc = subprocess.run([sys.executable, "-m", "labkit.runner", *_batch_args(part)],
                              cwd=LABS_DIR, capture_output=True, text=True,
                              timeout=CELL_TIMEOUT * len(part) + 30)
        if proc.returncode != 0:
            raise RuntimeError(f"runner failed on host: {proc.stderr.strip()}")
        return _parse("host", proc.stdout, "")
    return _in_batches(batch, cells, jobs)


def _image_batch(container: LabContainer, part: list[tuple[str, str]], gil: str = "") -> tuple[dict, list[Result]]:
    """One runner (one ``docker exec``) over ``part`` inside the container."""
    image: Image = container.image
    code, out, err = container.exec(["python", "-m", "labkit.runner", *_batch_args(part)],
                                    timeout=CELL_TIMEOUT * len(part) + 30, env=GIL_ENV[gil] if gil else None)
    if code != 0:
        raise RuntimeError(f"runner failed in {variant(image.name, gil)} (exit {code}): {err.strip()[-500:]}")
    return _parse(image.name, out, image.default_method, gil)


def run_image(container: LabContainer, cells: list[tuple[str, str]], jobs: int = 2,
              gil: str = "") -> tuple[dict, list[Result]]:
    """Run cells inside one image's container (in one GIL mode of a free-threaded image)."""
    return _in_batches(lambda part: _image_batch(container, part, gil), cells, jobs)


def run_images(containers: dict[str, LabContainer], todo: dict[tuple[str, str], list],
               runners: int = RUNNERS) -> tuple[dict, dict]:
    """Run every (image, GIL mode)'s cells, ``runners`` batches at a time over all images.

    More runners than cores only stretch every cell (a cell's bounded waits then expire on
    a starved process); a few more than cores keep the cores busy while some cells wait.
    Each variant's cells are dealt into BATCHES_PER_RUNNER × runners / variants batches,
    so that a slow image does not finish alone. On Ctrl-C or a failed batch the containers
    are removed at once, which ends their execs.
    """
    per_variant = max(1, -(-BATCHES_PER_RUNNER * runners // max(1, len(todo))))
    tasks = [(name, gil, part) for (name, gil), cells in todo.items() for part in _chunks(cells, per_variant)]
    pool = ThreadPoolExecutor(max(1, runners))
    headers, results = {}, {}
    try:
        futures = [pool.submit(_image_batch, containers[name], part, gil) for name, gil, part in tasks]
        for (name, gil, _), future in zip(tasks, futures):
            header, found = future.result()
            headers[variant(name, gil)] = header
            results.update({(r.lab, r.image, r.method, r.gil): check(r) for r in found})
    except BaseException:
        for container in containers.values():
            container.remove()
        raise
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    return headers, results
