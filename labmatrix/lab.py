"""The lab author's inner loop: one lab in every image under every method, side by side.

    scripts/lab main_guard [--image NAME ...] [--method M ...] [--gil on|off] [--host]

Prints a table (a row per method, a column per image, two for a free-threaded image: GIL
off and GIL on) of each cell's outcome, marks the
cells that differ from their expectation (✗) or that a version- or method-specific rule
covers (Δ), and lists what differs and why. The report goes to results/partial/<lab>/,
never over the full matrix report. Exit status: 0 when every cell is as expected, 1 when
one is not, 2 on bad input.
"""

from __future__ import annotations

import argparse
import time

from . import matrix
from .cells import Result
from .cli import run as run_command
from .matrix import variant
from .session import HOST, MatrixSession, Selection
from .table import text_table


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


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="scripts/lab", description=__doc__.split("\n\n")[0])
    parser.add_argument("lab")
    parser.add_argument("--image", action="append", default=[])
    parser.add_argument("--method", action="append", default=[])
    parser.add_argument("--gil", action="append", default=[], help="on or off: one GIL mode of a free-threaded image")
    parser.add_argument("--host", action="store_true", help="also run it on this host's interpreter")
    args = parser.parse_args(argv)
    sel = Selection.pick(args.image, [args.lab], args.method, args.gil)
    targets = [*sel.images, *([HOST] if args.host else [])]
    start = time.monotonic()
    with MatrixSession(sel.images) as run:
        results = list(run.run(sel.cells(targets)).values())
        columns = [variant(t, gil) for t, gil in sel.variants(targets)]
        out = run.write_report(sel)
    wall = time.monotonic() - start
    print("\n".join(table(results, columns, list(sel.methods))))
    print()
    print("\n".join(notes(results)) or "every cell as its usual expectation")
    bad = sum(not r.ok for r in results)
    print(f"\n{args.lab}: {len(results) - bad}/{len(results)} cells as expected in {wall:.1f} s; "
          f"report in {out.relative_to(matrix.ROOT) if out.is_relative_to(matrix.ROOT) else out}/")
    return 1 if bad else 0


if __name__ == "__main__":
    run_command(main, "lab")
