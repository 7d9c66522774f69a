"""A run of the lab matrix as one object: what pytest, the benchmarks and the commands call.

    with MatrixSession(["py3.13", "py3.14"]) as run:
        results = run.run(Selection.pick(labs=["main_guard"]).cells(["py3.13", "py3.14"]))
        run.write_report()

``MatrixSession`` owns a ``ContainerPool`` (labmatrix/container.py: the Docker client, the
sweep of what a dead run left, the check that the images are built, one container per
image, removed on any failure or Ctrl-C), runs cells in batches, and keeps the results
with their report. ``host`` is a target too: the interpreter running the
driver, with no container.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from . import cells, expect, matrix, report
from .cells import Result
from .container import ContainerPool, LabContainer
from .errors import BadInput

HOST = "host"
RESULTS_DIR = matrix.ROOT / "results"
#: The runs whose figures are timings, by lab: the methods whose runs measure. These cells
#: run after all the others, one at a time and image after image, with nothing else of the
#: run competing for the cores: a start cost measured beside five other containers
#: measures the contention, not the start. (interpreters_parallel and cpu_threads time
#: threads and interpreters only in their default run. start_cost's default run repeats
#: its platform default's figures, which the named method's solo run gives; its one
#: timing lesson, fork against spawn, compares the fastest of alternating starts inside
#: one process, which load only slows alike, so it runs with the others.)
SOLO = {"start_cost": tuple(m for m in matrix.METHODS if m != "default"), "interpreters_parallel": ("default",),
        "cpu_threads": ("default",)}


def is_solo(lab: str, method: str) -> bool:
    return method in SOLO.get(lab, ())


class SelectionError(BadInput):
    """An unknown image, lab, method or GIL mode: one line that lists the valid ones."""


class Cell(NamedTuple):
    lab: str
    target: str  # an image name, or HOST
    method: str  # "default" only, for a lab without the method axis
    gil: str = ""  # "off" or "on" on a free-threaded image ("off" only without the gil axis); "" on a GIL build

    @property
    def id(self) -> str:
        return matrix.cell_id(self.lab, self.target, self.method, self.gil)

    def kept(self) -> Cell:
        """The cell that runs in this one's place when the lab's axes drop it (itself when
        they keep it): the image's default method without the method axis, the GIL off
        (a free-threaded image's default) without the gil axis."""
        axes = expect.axes(self.lab)
        return self._replace(method=self.method if "method" in axes else "default",
                             gil=self.gil if "gil" in axes or not self.gil else "off")


def gil_modes(target: str) -> tuple[str, ...]:
    """The GIL axis of a target: ("off", "on") on a free-threaded image, ("",) elsewhere."""
    return ("",) if target == HOST else matrix.get_image(target).gil_modes


def _pick(kind: str, chosen: Iterable[str], valid: Sequence[str]) -> tuple[str, ...]:
    chosen = tuple(chosen) or tuple(valid)
    unknown = [name for name in chosen if name not in valid]
    if unknown:
        raise SelectionError(f"unknown {kind} {', '.join(map(repr, unknown))}; valid: {', '.join(valid)}")
    return chosen


@dataclass(frozen=True)
class Selection:
    """Which images, labs, methods and GIL modes a run covers (each empty choice means all).

    ``gils`` filters the GIL axis of free-threaded images. ``--gil off`` keeps only the
    images that have it; ``--gil on`` keeps GIL builds too (their GIL is always on).

    A lab runs only along the axes it declares (expect.toml's ``axes``): without the method
    axis under ``default`` only, without the gil axis with the GIL off only. ``all_axes``
    (``--all-axes``) runs every lab along every axis anyway, to check that the cells the
    axes drop show what the kept ones show (:func:`agreement`).
    """

    images: tuple[str, ...]
    labs: tuple[str, ...]
    methods: tuple[str, ...]
    gils: tuple[str, ...] = matrix.GIL_MODES
    all_axes: bool = False

    @classmethod
    def pick(cls, images: Iterable[str] = (), labs: Iterable[str] = (), methods: Iterable[str] = (),
             gils: Iterable[str] = (), all_axes: bool = False) -> Selection:
        picked = _pick("image", images, matrix.image_names())
        gils = _pick("GIL mode", gils, matrix.GIL_MODES)
        if set(gils) == {"off"}:
            free = [name for name in picked if matrix.get_image(name).free_threaded]
            if not free:
                all_free = [i.name for i in matrix.images() if i.free_threaded]
                raise SelectionError(f"--gil off: {', '.join(picked)} {'has' if len(picked) == 1 else 'have'} "
                                     f"the GIL always on; the GIL axis exists only on free-threaded images: "
                                     f"{', '.join(all_free) or 'none in matrix.toml'}")
            picked = tuple(free)
        chosen = _pick("lab", labs, matrix.lab_names())
        try:
            for lab in chosen:
                expect.axes(lab)
        except expect.ExpectationError as exc:
            raise SelectionError(str(exc)) from None
        sel = cls(picked, chosen, _pick("method", methods, matrix.METHODS), gils, all_axes)
        if labs and not sel.cells([*picked, HOST]):
            lab = chosen[0]
            raise SelectionError(f"{lab} has no cell in this selection: its axes are {list(expect.axes(lab))} "
                                 f"(without \"method\" it runs under default only, without \"gil\" with the GIL "
                                 f"off only); add --all-axes to run it along every axis anyway")
        return sel

    @property
    def is_full(self) -> bool:
        return not self.all_axes and (set(self.images), set(self.labs), set(self.methods), set(self.gils)) == (
            set(matrix.image_names()), set(matrix.lab_names()), set(matrix.METHODS), set(matrix.GIL_MODES))

    def variants(self, targets: Iterable[str] | None = None) -> list[tuple[str, str]]:
        """The (target, GIL mode) pairs this selection runs, e.g. ("py3.13t", "off"),
        ("py3.13t", "on"), ("py3.14", "")."""
        targets = self.images if targets is None else tuple(targets)
        return [(t, gil) for t in targets for gil in gil_modes(t) if not gil or gil in self.gils]

    def cells(self, targets: Iterable[str] | None = None) -> list[Cell]:
        """The cells of this selection: every lab along the axes it declares (every axis with
        ``all_axes``)."""
        found = [Cell(lab, target, method, gil) for lab in self.labs for target, gil in self.variants(targets)
                 for method in self.methods]
        return found if self.all_axes else [c for c in found if c.kept() == c]

    def slug(self) -> str:
        """A file-name-safe name of a partial selection, e.g. ``main_guard.py3.14``."""
        parts = [sorted(v) for v, full in ((self.labs, matrix.lab_names()), (self.images, matrix.image_names()),
                                           (self.methods, matrix.METHODS)) if set(v) != set(full)]
        if set(self.gils) != set(matrix.GIL_MODES):
            parts.append([f"gil_{g}" for g in self.gils])
        if self.all_axes:
            parts.append(["all_axes"])
        return ".".join("+".join(p) for p in parts) or "all"


def agreement(results: dict[Cell, Result]) -> tuple[int, dict[Cell, list[str]]]:
    """Compare every cell that a lab's axes drop with the cell kept in its place (both run,
    as ``--all-axes`` runs them): (how many were compared, the differences of those that
    differ). A difference is a wrong ``axes`` declaration, or a lab that is not
    deterministic where it claims to be."""
    compared, differ = 0, {}
    for cell, result in sorted(results.items()):
        kept = cell.kept()
        if kept == cell or kept not in results:
            continue
        compared += 1
        lines = expect.disagreement(cell.lab, (results[kept].outcome, results[kept].obs), (result.outcome, result.obs))
        if lines:
            differ[cell] = [f"{cell.id} vs {kept.id}: {line}" for line in lines]
    return compared, differ


def report_dir(selection: Selection | None, images_ran: bool = True) -> Path:
    """Where a run's report goes: ``results/`` for the full matrix; beside it, a partial
    run (``results/partial/<slug>/``) or a host-only run (``results/host/``), so that
    neither overwrites the full report."""
    if not images_ran:
        return RESULTS_DIR / "host" if selection is None or selection.is_full else \
            RESULTS_DIR / "partial" / f"host.{selection.slug()}"
    if selection is None or selection.is_full:
        return RESULTS_DIR
    return RESULTS_DIR / "partial" / selection.slug()


class MatrixSession:
    """One run of the matrix over ``images`` (plus the host, which needs no container)."""

    def __init__(self, images: Sequence[str] = (), *, docker_client=None, solo: bool = True,
                 min_cells: int = cells.MIN_BATCH_CELLS, runners: int = cells.RUNNERS):
        self.images = [matrix.get_image(name) for name in images]
        self.solo = solo  # False runs the timing cells with the others (what the solo phase costs)
        self.min_cells = min_cells  # the fewest cells of a batch (cells.run); 1 for a few cells (scripts/lab)
        self.runners = runners  # runner processes at once over all images, outside the solo phase
        self.pool = ContainerPool(docker_client)
        self.containers: dict[str, LabContainer] = {}
        self.results: dict[Cell, Result] = {}
        self.headers: dict[str, dict] = {}
        self.wall_s = 0.0
        self.solo_s = 0.0  # of wall_s, the solo phase's
        self.storage_driver = ""

    def __enter__(self) -> MatrixSession:
        self.pool.__enter__()
        try:
            self.add_images(self.images)
        except BaseException:
            self.__exit__()
            raise
        return self

    def add_images(self, images: Sequence[matrix.Image]) -> None:
        """Check, then start, one container per image not started yet (side by side);
        they are removed when the session ends."""
        images = [i for i in images if i.name not in self.containers]
        if not images:
            return
        self.pool.start(images)
        self.containers = self.pool.first()
        self.images = [*self.images, *(i for i in images if i not in self.images)]

    def _remove_containers(self) -> None:
        for container in self.containers.values():
            container.remove()

    def __exit__(self, *exc_info) -> None:
        self.pool.__exit__(*exc_info)
        self.containers = {}

    def run(self, todo: Iterable[Cell]) -> dict[Cell, Result]:
        """Run the cells (host cells on the host, the rest in their image's container)."""
        todo = [Cell(*c) for c in todo]
        batches: dict[str, cells.Batch] = {}
        shared: dict[str, list[tuple[str, str]]] = {}
        solo: dict[str, list[tuple[str, str]]] = {}
        alone = is_solo if self.solo else (lambda lab, method: False)
        for cell in todo:
            name = cells.variant(cell.target, cell.gil)
            if name not in batches:
                if cell.target == HOST:
                    batches[name] = cells.host_batch
                elif cell.target in self.containers:
                    batches[name] = cells.image_batch(self.containers[cell.target], cell.gil)
                else:
                    raise SelectionError(f"image {cell.target!r} is not part of this session")
            (solo if alone(cell.lab, cell.method) else shared).setdefault(name, []).append((cell.lab, cell.method))
        for phase, runners in ((shared, self.runners), (solo, 1)):  # the solo phase: one cell at a time
            start = time.monotonic()
            headers, found = cells.run(batches, phase, runners, abort=self._remove_containers,
                                       min_cells=self.min_cells)
            self.headers.update(headers)
            self.results.update({Cell(*key): r for key, r in found.items()})
            took = time.monotonic() - start
            self.wall_s += took
            if phase is solo:
                self.solo_s += took
        for cell in todo:  # LABMATRIX_KEEP_CONTAINERS=1 keeps a failing cell's container
            if not self.results[cell].ok and cell.target in self.containers:
                self.containers[cell.target].failed = True
        return {cell: self.results[cell] for cell in todo}

    def write_report(self, selection: Selection | None = None, out: Path | None = None) -> Path:
        if self.pool.docker_client is not None and not self.storage_driver:
            self.storage_driver = self.pool.docker_client.info().get("Driver", "")
        run = {"wall_s": round(self.wall_s, 2), "solo_s": round(self.solo_s, 2), "solo": {lab: list(methods) for lab, methods in SOLO.items()},
               "storage_driver": self.storage_driver, "headers": self.headers,
               "axes": {lab: list(expect.axes(lab)) for lab in sorted({c.lab for c in self.results})}}
        images_ran = any(cell.target != HOST for cell in self.results)
        return report.write(list(self.results.values()), str(out or report_dir(selection, images_ran)), run)
