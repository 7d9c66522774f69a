"""Benchmark the warm matrix: every lab × every image × every method, images side by side.

    python -m labmatrix.bench [--image NAME ...]

Last line: ``matrix cells=<N> wall_s=<s> lab_s=<sum of in-container lab seconds> ratio=<wall/lab>``.
"""

import argparse
import sys
import time
from contextlib import ExitStack

from . import cells, matrix
from .container import DriverError, LabContainer, client, require_images, sweep


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench-matrix")
    parser.add_argument("--image", action="append", choices=matrix.image_names())
    args = parser.parse_args(argv)
    images = [matrix.get_image(n) for n in (args.image or matrix.image_names())]
    try:
        cli = client()
        require_images(cli, images)
    except DriverError as exc:
        print(f"bench-matrix: {exc}", file=sys.stderr)
        return 1
    sweep(cli)
    todo = {i.name: [(lab, m) for lab in matrix.lab_names() for m in matrix.METHODS] for i in images}
    with ExitStack() as stack:
        containers = {i.name: stack.enter_context(LabContainer(cli, i)) for i in images}
        start = time.monotonic()
        _, results = cells.run_images(containers, todo)
        wall = time.monotonic() - start
    lab_s = sum(r.duration_s for r in results.values())
    bad = [r.id for r in results.values() if r.problems]
    for image in images:
        mine = [r for r in results.values() if r.image == image.name]
        print(f"{image.name:14} cells={len(mine):3} lab_s={sum(r.duration_s for r in mine):6.1f} "
              f"slowest={max(mine, key=lambda r: r.duration_s).id if mine else '-'}")
    if bad:
        print(f"({len(bad)} cells differ from their expectation: {', '.join(sorted(bad)[:5])} ...)")
    print(f"matrix cells={len(results)} wall_s={wall:.1f} lab_s={lab_s:.1f} ratio={wall / lab_s:.2f}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        sys.exit(130)
