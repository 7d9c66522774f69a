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
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field

from . import expect
from .container import DriverError, LabContainer
from .matrix import LABS_DIR, Image, cell_id, cell_timeout, container_env, platform_name, variant


@dataclass
class Result:
    """One cell's run (labkit.runner's line for it) and, once judged, what was expected,
    why, and the problems: observed against expected."""

    lab: str
    target: str  # an image of the matrix, or "host"
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
    cpu_s: float | None = None  # CPU seconds of the lab and the children it waited for

    @property
    def id(self) -> str:
        return cell_id(self.lab, self.target, self.method, self.gil)

    @property
    def variant(self) -> str:
        return variant(self.target, self.gil)

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
#: The fewest cells a target's batch is cut to: each batch costs a ``docker exec`` and a
#: runner's interpreter, so smaller batches make a one-lab run slower (docs/performance.md).
MIN_BATCH_CELLS = 4


def _batch_args(cells: list[tuple[str, str]]) -> list[str]:
    return ["--timeout", str(cell_timeout()), *[f"{lab}:{method}" for lab, method in cells]]


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
            lab=item["lab"], target=target, method=item["method"], outcome=item["outcome"],
            obs=item["obs"], obs_all=item.get("obs_all", {}), returncode=item["returncode"],
            duration_s=item["duration_s"], cpu_s=item.get("cpu_s"), stdout=item["stdout"], stderr=item["stderr"],
            python=python, platform=platform, gil=gil,
            default_method=default_method or expect.platform_default(python, platform)))
    return header, results


def judge(result: Result) -> Result:
    """The result with its expectation (labs/<lab>.expect.toml) and the problems found."""
    exp = expect.expected(result.lab, result.python, result.method, result.platform, result.gil)
    result.expected = {"outcome": exp.outcome, "obs": exp.obs}
    result.why = exp.why
    result.problems = expect.compare(exp, result.outcome, result.obs)
    return result


def _chunks(cells: list, n: int) -> list[list]:
    return [cells[i::n] for i in range(n) if cells[i::n]]


#: One runner over some cells of one target: (its header, its results).
Batch = Callable[[list[tuple[str, str]]], tuple[dict, list[Result]]]


def host_batch(part: list[tuple[str, str]]) -> tuple[dict, list[Result]]:
    """One runner over ``part`` with the host interpreter."""
    proc = subprocess.run([sys.executable, "-m", "labkit.runner", *_batch_args(part)],
                          cwd=LABS_DIR, capture_output=True, text=True,
                          timeout=cell_timeout() * len(part) + 30)
    if proc.returncode != 0:
        raise DriverError(f"runner failed on host: {proc.stderr.strip()}")
    return _parse("host", proc.stdout, "")


def image_batch(container: LabContainer, gil: str = "") -> Batch:
    """One runner (one ``docker exec``) over some cells inside the container, in one GIL
    mode of a free-threaded image."""
    image: Image = container.image

    def batch(part: list[tuple[str, str]]) -> tuple[dict, list[Result]]:
        code, out, err = container.exec(["python", "-m", "labkit.runner", *_batch_args(part)],
                                        timeout=cell_timeout() * len(part) + 30,
                                        env=container_env(gil) or None)
        if code != 0:
            raise DriverError(f"runner failed in {variant(image.name, gil)} (exit {code}): {err.strip()[-500:]}")
        return _parse(image.name, out, image.default_method, gil)
    return batch


def run(batches: dict[str, Batch], todo: dict[str, list[tuple[str, str]]], runners: int = RUNNERS,
        abort: Callable[[], None] = lambda: None, min_cells: int = MIN_BATCH_CELLS) -> tuple[dict, dict]:
    """Run every target's cells (by variant: ``py3.14``, ``py3.13t gil=off``, ``host``),
    ``runners`` batches at a time over all targets; check every result.

    More runners than cores only stretch every cell (a cell's bounded waits then expire on
    a starved process); a few more than cores keep the cores busy while some cells wait.
    Each target's cells are dealt into BATCHES_PER_RUNNER × runners / targets batches (of
    ``min_cells`` cells at least), so that a slow image does not finish alone; with one
    runner, each target's cells are one batch run one cell at a time (the solo phase). On Ctrl-C or a failed batch ``abort``
    runs at once (the session removes its containers, which ends their execs).
    """
    todo = {name: cells for name, cells in todo.items() if cells}
    per_target = -(-BATCHES_PER_RUNNER * runners // max(1, len(todo))) if runners > 1 else 1
    tasks = [(name, part) for name, cells in todo.items()
             for part in _chunks(cells, max(1, min(per_target, len(cells) // min_cells)))]
    pool = ThreadPoolExecutor(max(1, runners))
    headers, results = {}, {}
    try:
        futures = [pool.submit(batches[name], part) for name, part in tasks]
        for (name, _), future in zip(tasks, futures):
            header, found = future.result()
            headers[name] = header
            results.update({(r.lab, r.target, r.method, r.gil): judge(r) for r in found})
    except BaseException:
        abort()
        raise
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    return headers, results
