"""scripts/bench-check: how long ``scripts/check`` takes for a script that runs 1 s.

Figure line: ``check-1s cells= images= wall_s= start_s= cells_s= remove_s= cell_s= load=``
(wall_s end to end; start_s containers up, cells_s the cells, remove_s containers gone;
cell_s the mean in-container time of one cell; load the 1-minute load average after).

The script starts one process with the start method in force and sleeps in it, about a
second in all, so every cell pays for its method's start (spawn: a fresh interpreter).
Warm means the images are built; the run itself starts and removes its containers.
"""

import json
import os
import sys
import tempfile
import time
from pathlib import Path

from ..cli import run
from .command import main as check_main

ONE_SECOND = '''\
import multiprocessing as mp
import time


def work():
    time.sleep(0.9)  # the script's "work"; nothing waits on it but join()


if __name__ == "__main__":
    start = time.monotonic()
    p = mp.Process(target=work)
    p.start()
    p.join()
    print("ran", mp.get_start_method(), "exit", p.exitcode)
'''


def main(argv: list[str]) -> int:
    with tempfile.TemporaryDirectory(prefix="bench-check-") as folder:
        os.chmod(folder, 0o755)
        script = Path(folder) / "one_second.py"
        script.write_text(ONE_SECOND)
        script.chmod(0o644)
        start = time.monotonic()
        code = check_main([str(script), *argv, "--out", str(Path(folder) / "out")])
        wall = time.monotonic() - start
        if code not in (0, 1):
            return code
        data = json.loads((Path(folder) / "out" / "check.json").read_text())
    cells = data["cells"]
    bad = [f"{c['image']}/{c['method']}" for c in cells if c["outcome"] != "ok"]
    if bad:
        print(f"bench-check: cells did not run to the end: {', '.join(bad)}", file=sys.stderr)
    run = data["run"]
    print(f"check-1s cells={len(cells)} images={len({c['image'] for c in cells})} wall_s={wall:.1f} "
          f"start_s={run['start_s']:.1f} cells_s={run['cells_s']:.1f} remove_s={run['remove_s']:.1f} "
          f"cell_s={sum(c['duration_s'] for c in cells) / max(1, len(cells)):.2f} load={os.getloadavg()[0]:.1f}")
    return 1 if bad else 0


if __name__ == "__main__":
    run(main, "bench-check")
