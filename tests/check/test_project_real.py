"""`scripts/check --project` on real projects from PyPI that use processes or threads and
ship their tests in the sdist. Each sdist is downloaded into the test's temporary folder
(never into this repository); what is asserted is what docs/check-project.md reports."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tarfile

import pytest

from labmatrix import matrix

CHECK = str(matrix.ROOT / "scripts" / "check")
pytestmark = pytest.mark.docker


def sdist(tmp_path, pin):
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check", "--no-deps",
                    "--no-binary", ":all:", pin, "--dest", str(tmp_path / "dl")], check=True, timeout=300)
    (archive,) = (tmp_path / "dl").glob("*.tar.gz")
    with tarfile.open(archive) as tar:
        tar.extractall(tmp_path / "src", filter="data")
    (folder,) = (tmp_path / "src").iterdir()
    return folder


def check_project(tmp_path, folder, *args):
    out = tmp_path / "out"
    proc = subprocess.run([CHECK, "--project", str(folder), "--out", str(out), *args], cwd=matrix.ROOT,
                          capture_output=True, text=True, timeout=1800)
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    data = json.loads((out / "check.json").read_text())
    grid = {t: {col: o["outcome"] for col, o in cells.items()} for t, cells in data["tests"].items()}
    return proc, data, grid


def test_multiprocessing_logging_works_only_under_fork(docker_client, tmp_path):
    """multiprocessing-logging 0.4.0 refuses every method but fork (install_mp_handler
    raises), and its tests start processes with local functions: under spawn and
    forkserver, including 3.14's default, 6 of its 8 tests fail, each for a named reason."""
    folder = sdist(tmp_path, "multiprocessing-logging==0.4.0")
    proc, data, grid = check_project(tmp_path, folder, "--image", "py3.13", "--image", "py3.14", "--timeout", "120")
    assert proc.returncode == 1
    assert len(data["differ"]) == 6 and not data["everywhere"], proc.stdout
    for test in data["differ"]:
        assert {col for col, o in grid[test].items() if o == "failed"} == {
            "py3.13/spawn", "py3.13/forkserver", "py3.14/spawn", "py3.14/forkserver*"}, (test, grid[test])
        reasons = {s for e in data["explained"][test]["cells"].values() for s in e["signatures"]}
        assert reasons == ({"requires-fork"} if "InstallHandlersTest" in test else {"pickle"}), (test, reasons)


def test_fasteners_reader_writer_lock_agrees_in_every_cell(docker_client, tmp_path):
    """fasteners 0.20's reader-writer lock (threads) behaves alike under every start method
    on 3.9 and 3.14; on the free-threaded image its test group cannot be installed: eventlet
    needs greenlet, whose newest release has no cp313t wheel, and the cells say so."""
    free = [i.name for i in matrix.images() if i.free_threaded]
    folder = sdist(tmp_path, "fasteners==0.20")
    images = [a for name in ("py3.9", "py3.14", *free) for a in ("--image", name)]
    proc, data, grid = check_project(tmp_path, folder, *images, "--timeout", "300", "tests/test_reader_writer_lock.py")
    assert data["differ"] == [] and data["everywhere"] == [], proc.stdout
    cells = data["cells"]
    assert len(cells) == 3 * (2 + 2 * len(free))
    ran = [c for c in cells if not c["problem"]]
    assert len(ran) == 6 and all(c["status"].startswith("9 passed, 1 skipped in ") for c in ran), proc.stdout
    for c in cells:
        if c["problem"]:
            assert c["image"] in free and re.fullmatch(r"cannot install: greenlet==\S+ has no wheel for cp3\d+t.*",
                                                       c["status"]), c["status"]
