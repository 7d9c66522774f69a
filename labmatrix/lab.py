"""The lab author's inner loop: one lab in every image along its axes, side by side.

    scripts/lab main_guard [--image NAME ...] [--method M ...] [--gil on|off] [--host] [--all-axes] [--watch]

Prints a table (a row per method, a column per image, two for a free-threaded image: GIL
off and GIL on) of each cell's outcome, marks the
cells that differ from their expectation (✗) or that a version- or method-specific rule
covers (Δ), and lists what differs and why. A lab runs along the axes its expect.toml
declares (one ``default`` row without the method axis, GIL off only without the gil
axis); ``--all-axes`` runs it along every axis and compares each cell the axes drop with
the one kept in its place. The report goes to results/partial/<lab>/,
never over the full matrix report. Exit status: 0 when every cell is as expected, 1 when
one is not, 2 on bad input.

``--watch`` keeps one container per image running and runs the lab again, table and all,
whenever ``labs/<lab>.py`` or its expect.toml changes on disk (stat polling: the stdlib
has no file-change events; an editor that saves by renaming is seen too). A syntax error
is one line, and watching goes on. Ctrl-C removes every container it started.
"""

from __future__ import annotations

import argparse
import functools
import math
import os
import time
from pathlib import Path

from . import expect, matrix, wait
from .cells import Result
from .cli import run as run_command
from .matrix import variant
from .session import HOST, MatrixSession, Selection, SelectionError, agreement
from .table import text_table

#: How often --watch looks at the lab's two files (a stat each: microseconds).
POLL_S = 0.1
#: One lab's cells are few: a batch (a ``docker exec`` and a runner) per one or two cells
#: keeps the runners busy, where the matrix's four-cell batches would run them in a row.
MIN_CELLS = 1


def _cell(r: Result | None) -> str:
    return "" if r is None else r.outcome + (" ✗" if not r.ok else "") + (" Δ" if r.why else "")


def table(results: list[Result], targets: list[str], methods: list[str]) -> list[str]:
    index = {(r.variant, r.method): r for r in results}
    return text_table([["method", *targets]] + [[m, *(_cell(index.get((t, m))) for t in targets)] for m in methods])


def notes(results: list[Result]) -> list[str]:
    lines = [f"✗ {r.variant} {r.method}: " + "; ".join(r.problems) for r in results if not r.ok]
    seen: dict[str, dict[str, None]] = {}
    for r in results:
        for why in r.why.values():
            seen.setdefault(why, {})[f"{r.variant}/{r.method}"] = None
    for why, where in seen.items():
        cells = list(where)
        lines.append(f"Δ {why}\n    [{', '.join(cells[:6])}{' …' if len(cells) > 6 else ''}]")
    return lines


def _say(*lines: str) -> None:
    print(*lines, sep="\n", flush=True)


def run_once(run: MatrixSession, sel: Selection, targets: list[str], lab: str) -> int:
    """Run the selection's cells in the session's containers, print the table, the notes
    and (with all_axes) the agreement; return how many cells (or axes) are not as expected."""
    run.results, run.headers, run.wall_s, run.solo_s = {}, {}, 0.0, 0.0
    start = time.monotonic()
    found = run.run(sel.cells(targets))
    results = list(found.values())
    columns = [variant(t, gil) for t, gil in sel.variants(targets)]
    columns = [c for c in columns if any(r.variant == c for r in results)]
    methods = [m for m in sel.methods if any(r.method == m for r in results)]
    out = run.write_report(sel)
    wall = time.monotonic() - start
    _say(*table(results, columns, methods), "", *(notes(results) or ["every cell as its usual expectation"]))
    bad = sum(not r.ok for r in results)
    if sel.all_axes:
        compared, differ = agreement(found)
        _say("", *[line for lines in differ.values() for line in lines],
             f"axes compared={compared} differ={len(differ)}")
        bad += len(differ)
    _say(f"\n{lab}: {sum(r.ok for r in results)}/{len(results)} cells as expected in {wall:.1f} s; "
         f"report in {out.relative_to(matrix.ROOT) if out.is_relative_to(matrix.ROOT) else out}/")
    return bad


def _stamp(paths: list[Path]) -> tuple:
    """What a save changes: each file's inode, size and modification time (None if absent)."""
    stamps: list[tuple[int, int, int] | None] = []
    for path in paths:
        try:
            st = os.stat(path)
            stamps.append((st.st_ino, st.st_size, st.st_mtime_ns))
        except FileNotFoundError:
            stamps.append(None)
    return tuple(stamps)


def problem(lab: str) -> str | None:
    """Why the lab cannot run as it is on disk, in one line (a syntax error, a broken
    expect.toml), or None. The images' interpreters may still reject newer syntax: that
    shows in the table as error:SyntaxError."""
    path = matrix.LABS_DIR / f"{lab}.py"
    try:
        compile(path.read_bytes(), str(path), "exec", dont_inherit=True)
    except SyntaxError as exc:
        return f"labs/{lab}.py:{exc.lineno}: SyntaxError: {exc.msg}"
    except (FileNotFoundError, ValueError) as exc:
        return f"labs/{lab}.py: {exc}"
    try:
        expect.axes(lab)
    except expect.ExpectationError as exc:
        return str(exc)
    return None


def watch(args: argparse.Namespace, sel: Selection, targets: list[str]) -> int:
    paths = [matrix.LABS_DIR / f"{args.lab}.py", matrix.LABS_DIR / f"{args.lab}.expect.toml"]
    with MatrixSession(sel.images, min_cells=MIN_CELLS) as run:
        seen: tuple | None = None

        def changed(before: tuple | None) -> tuple | None:
            stamp = _stamp(paths)
            return stamp if stamp != before else None

        while True:
            seen = wait.until(functools.partial(changed, seen), math.inf, every=POLL_S)
            trouble = problem(args.lab)
            if trouble is None:
                try:  # the axes may have changed
                    sel = Selection.pick(args.image, [args.lab], args.method, args.gil, args.all_axes)
                    run_once(run, sel, targets, args.lab)
                except SelectionError as exc:
                    trouble = str(exc)
            if trouble:
                _say(f"lab: {trouble}")
            _say(f"watching labs/{args.lab}.py and its expect.toml (Ctrl-C stops and removes the containers)")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="scripts/lab", description=__doc__.split("\n\n")[0])
    parser.add_argument("lab")
    parser.add_argument("--image", action="append", default=[])
    parser.add_argument("--method", action="append", default=[])
    parser.add_argument("--gil", action="append", default=[], help="on or off: one GIL mode of a free-threaded image")
    parser.add_argument("--host", action="store_true", help="also run it on this host's interpreter")
    parser.add_argument("--all-axes", action="store_true",
                        help="run it along every axis, and compare the cells its axes drop with the kept ones")
    parser.add_argument("--watch", action="store_true",
                        help="keep the containers running and run it again whenever the lab or its expect.toml changes")
    args = parser.parse_args(argv)
    sel = Selection.pick(args.image, [args.lab], args.method, args.gil, args.all_axes)
    targets = [*sel.images, *([HOST] if args.host else [])]
    if args.watch:
        return watch(args, sel, targets)
    with MatrixSession(sel.images, min_cells=MIN_CELLS) as run:
        bad = run_once(run, sel, targets, args.lab)
    return 1 if bad else 0


if __name__ == "__main__":
    run_command(main, "lab", "lab: stopped; every container it started is removed")
