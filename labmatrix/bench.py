"""Benchmark the warm matrix (images built), images side by side.

    python -m labmatrix.bench [--image NAME ...] [--lab LAB] [--all-axes]
    python -m labmatrix.bench --watch LAB [--watch LAB ...] [--image NAME ...]

Figure lines:
``matrix cells=<N> wall_s=<s> solo_s=<of it, the solo phase> lab_s=<sum of in-container lab seconds> cpu_s=<their CPU seconds> ratio=<wall/lab>``
(every lab × image × method, containers already running), then
``one-lab lab=<LAB> cells=<N> wall_s=<s>`` (what ``scripts/lab LAB`` costs end to end:
containers started, cells run, containers removed). With ``--solo-cost`` the matrix runs a
second time with the timing cells among the others, and a third line reads
``solo-cost with_s=<s> without_s=<s> adds_s=<difference>``: what the solo phase adds.
``--by-lab`` first lists each lab's cells with their seconds and CPU seconds, costliest
first: where the matrix's time goes.

``--all-axes`` runs every lab along every axis (the matrix line counts those cells), then
prints ``axes compared=<n> differ=<n>``: how many cells that a lab's axes drop were
compared with the cell kept in their place, and how many showed another outcome or other
observations (the lab's ``varies`` aside); each difference is listed on stderr.

``--watch LAB`` measures the lab author's loop instead: it starts ``scripts/lab LAB
--watch``, waits for its first table, then saves ``labs/LAB.py`` (its own bytes again)
five times, each time timing from the save to the end of the table printed for it, and
prints ``watch lab=<LAB> saves=5 median_s=<s> min_s=<s> max_s=<s>``.
"""

import argparse
import os
import signal
import statistics
import subprocess
import sys
import time

from . import matrix
from .cli import run as run_command
from .session import MatrixSession, Selection, agreement

SAVES = 5


def bench_watch(lab: str, images: list[str]) -> int:
    """Save labs/<lab>.py SAVES times under a running ``scripts/lab --watch``, timing each
    save to its summary line (printed after the table)."""
    path = matrix.LABS_DIR / f"{lab}.py"
    source = path.read_bytes()
    cmd = [sys.executable, "-m", "labmatrix.lab", lab, "--watch", *[a for i in images for a in ("--image", i)]]
    proc = subprocess.Popen(cmd, cwd=matrix.ROOT, stdout=subprocess.PIPE, text=True, bufsize=1)
    summary = f"{lab}: "

    def next_table() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith(summary):
                return
            if line.startswith("lab: "):
                raise RuntimeError(line.strip())
        raise RuntimeError(f"scripts/lab --watch ended (exit {proc.wait()})")
    took = []
    try:
        next_table()  # the first run, containers started
        for _ in range(SAVES):
            start = time.monotonic()
            path.write_bytes(source)  # a save: same bytes, a new modification time
            next_table()
            took.append(time.monotonic() - start)
    finally:
        proc.send_signal(signal.SIGINT)  # what Ctrl-C does: the containers are removed
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
    print(f"watch lab={lab} saves={SAVES} median_s={statistics.median(took):.2f} "
          f"min_s={min(took):.2f} max_s={max(took):.2f}", flush=True)
    return 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench-matrix")
    parser.add_argument("--image", action="append", choices=matrix.image_names())
    parser.add_argument("--lab", default="main_guard", choices=matrix.lab_names())
    parser.add_argument("--solo-cost", action="store_true", help="also run the matrix without a solo phase")
    parser.add_argument("--by-lab", action="store_true", help="list each lab's seconds and CPU seconds")
    parser.add_argument("--all-axes", action="store_true", help="every lab along every axis, and their agreement")
    parser.add_argument("--watch", action="append", choices=matrix.lab_names(), metavar="LAB",
                        help="time scripts/lab LAB --watch from a save to its table instead")
    args = parser.parse_args(argv)
    if args.watch:
        os.environ.setdefault("PYTHONUNBUFFERED", "1")
        for lab in args.watch:
            bench_watch(lab, args.image or [])
        return 0
    sel = Selection.pick(args.image or (), all_axes=args.all_axes)
    with MatrixSession(sel.images) as run:
        start = time.monotonic()
        results = run.run(sel.cells())
        wall = time.monotonic() - start
        solo_s = run.solo_s  # of wall_s: the timing runs, one at a time (session.SOLO)
    lab_s = sum(r.duration_s for r in results.values())
    cpu_s = sum(r.cpu_s or 0 for r in results.values())
    if args.by_lab:
        by_lab: dict[str, list] = {}
        for r in results.values():
            by_lab.setdefault(r.lab, []).append(r)
        for lab, rs in sorted(by_lab.items(), key=lambda kv: -sum(r.cpu_s or 0 for r in kv[1])):
            print(f"{lab:22} cells={len(rs):3} lab_s={sum(r.duration_s for r in rs):6.1f} "
                  f"cpu_s={sum(r.cpu_s or 0 for r in rs):6.1f}")
    bad = [r.id for r in results.values() if not r.ok]
    for name in sel.images:
        mine = [r for r in results.values() if r.target == name]
        print(f"{name:14} cells={len(mine):3} lab_s={sum(r.duration_s for r in mine):6.1f} "
              f"slowest={max(mine, key=lambda r: r.duration_s).id if mine else '-'}")
    if bad:
        print(f"({len(bad)} cells differ from their expectation: {', '.join(sorted(bad)[:5])} ...)")
        for r in sorted((r for r in results.values() if not r.ok), key=lambda r: r.id)[:3]:
            print(r.explain(), file=sys.stderr)  # a figure from a run that did not match is no figure
    print(f"matrix cells={len(results)} wall_s={wall:.1f} solo_s={solo_s:.1f} lab_s={lab_s:.1f} "
          f"cpu_s={cpu_s:.1f} ratio={wall / lab_s:.2f}")
    if args.all_axes:
        compared, differ = agreement(results)
        for lines in differ.values():
            print("\n".join(lines), file=sys.stderr)
        print(f"axes compared={compared} differ={len(differ)}")
    if args.solo_cost:
        with MatrixSession(sel.images, solo=False) as run:
            start = time.monotonic()
            run.run(sel.cells())
            without = time.monotonic() - start
        print(f"solo-cost with_s={wall:.1f} without_s={without:.1f} adds_s={wall - without:.1f}")
    one = Selection.pick(sel.images, [args.lab])
    start = time.monotonic()
    with MatrixSession(one.images) as run:
        n = len(run.run(one.cells()))
    print(f"one-lab lab={args.lab} cells={n} wall_s={time.monotonic() - start:.1f}")
    return 0


if __name__ == "__main__":
    run_command(main, "bench-matrix")
