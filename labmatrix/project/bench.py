"""scripts/bench-check-project: ``scripts/check --project`` on a small real project, cold and warm.

The project: multiprocessing-logging 0.4.0 (PyPI), a logging handler for multiprocessing
whose 8 tests take about 1-2 s on one interpreter; its sdist ships them. It is downloaded
into a temporary folder (never into this repository) and checked in every built image,
under every start method and GIL mode.

Cold: no dependency layer and no cached lock or wheel of ours (a fresh cache folder, and a
salt in the layers' hash: CHECK_PROJECT_SALT); uv's and pip's own HTTP caches stay as
they are. Warm: the same command again. The layers the run made are removed at the end.

Lines: one per run with its phases (prepare: wheel, resolution, layers; start: containers
up and the project copied in; cells; remove), the pytest processes' summed time against
the summed ``docker exec`` time of the cells, and the share of the warm run's wall time
spent outside pytest. Last line: ``check-project cells=<n> cold_s=<s> warm_s=<s>``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
import uuid
from pathlib import Path

from ..cli import run
from ..container import client

PROJECT = "multiprocessing-logging==0.4.0"


def fetch(dest: Path) -> Path:
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check", "--no-deps",
                    "--no-binary", ":all:", PROJECT, "--dest", str(dest)], check=True, timeout=300)
    (sdist,) = dest.glob("*.tar.gz")
    with tarfile.open(sdist) as tar:
        tar.extractall(dest, filter="data")
    return next(p for p in dest.iterdir() if p.is_dir())


def one(folder: Path, out: Path, env: dict, argv: list[str]) -> tuple[float, dict, int]:
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "labmatrix.check", "--project", str(folder), "--out", str(out),
                           "--fail-on", "never", *argv], env=env, capture_output=True, text=True, timeout=3600)
    wall = time.monotonic() - start
    if proc.returncode != 0:
        print(proc.stdout + proc.stderr, file=sys.stderr)
        raise SystemExit(f"bench-check-project: the check failed (exit {proc.returncode})")
    return wall, json.loads((out / "check.json").read_text()), proc.returncode


def main(argv: list[str]) -> int:
    with tempfile.TemporaryDirectory(prefix="bench-check-project-") as folder_name:
        tmp = Path(folder_name)
        folder = fetch(tmp / "src")
        home_cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
        env = {"UV_CACHE_DIR": str(home_cache / "uv"), "PIP_CACHE_DIR": str(home_cache / "pip"), **os.environ,
               "XDG_CACHE_HOME": str(tmp / "cache"), "CHECK_PROJECT_SALT": uuid.uuid4().hex,
               "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
        runs = {}
        try:
            for kind in ("cold", "warm"):
                wall, data, _ = one(folder, tmp / kind, env, argv)
                r = data["run"]
                runs[kind] = (wall, data)
                if data["run"]["skipped_images"]:
                    print(f"bench-check-project: not built, left out: {', '.join(data['run']['skipped_images'])}",
                          file=sys.stderr)
                print(f"{kind}: wall_s={wall:.1f} build_s={r['build_s']} resolve_s={r['resolve_s']} "
                      f"layers_s={r['layers_s']} (built {len(r['layers_built'])}) start_s={r['start_s']} "
                      f"cells_s={r['cells_s']} remove_s={r['remove_s']} pytest_sum_s={r['pytest_s']} "
                      f"exec_sum_s={r['exec_s']} differ={len(data['differ'])}")
        finally:
            layers = {tag for _, data in runs.values() for tag in data["run"]["layers"].values()}
            docker = client()
            for tag in layers:
                docker.images.remove(tag, force=True)
        wall, data = runs["warm"]
        r = data["run"]
        inside = r["cells_s"] / wall * (r["pytest_s"] / r["exec_s"]) if r["exec_s"] else 0.0
        print(f"warm: {100 * (1 - inside):.0f}% of the wall time outside pytest (prepare, containers, docker exec, "
              f"runner and copy: {wall - r['cells_s']:.1f} s outside the cells phase, "
              f"{r['exec_s'] - r['pytest_s']:.1f} s of exec time outside the pytest processes)")
        print(f"check-project cells={len(data['cells'])} cold_s={runs['cold'][0]:.1f} warm_s={wall:.1f}")
    return 0


if __name__ == "__main__":
    run(main, "bench-check-project")
