"""Every known signature of labmatrix/check/signatures.toml, shown by a real script.

One set of check containers (the scripts' folder mounted, as scripts/check mounts a
script's) serves every script; each script runs in one image under the methods where its
signature shows, and the explanation the check gives is asserted.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import pytest

from labmatrix import matrix
from labmatrix.check import command as check
from labmatrix.check import signatures
from labmatrix.container import ContainerPool

SCRIPTS = Path(__file__).resolve().parent / "scripts"

pytestmark = pytest.mark.docker

IMAGES = ("py3.9", "py3.13", "py3.13t", "py3.14", "py3.15")
METHODS = ("fork", "spawn", "forkserver")
# signature id -> (script, image, methods run, cell whose explanation names it, timeout)
SHOWN = {
    "main-guard": ("unguarded.py", "py3.13", METHODS, "spawn", 20),
    "forkserver-unguarded": ("unguarded.py", "py3.14", METHODS, "forkserver", 20),
    "pickle": ("pickle_lambda.py", "py3.13", METHODS, "spawn", 20),
    "defined-under-guard": ("defined_under_guard.py", "py3.13", METHODS, "spawn", 20),
    "context-already-set": ("context_twice.py", "py3.13", ("fork",), "fork", 20),
    "fork-deprecation-warning": ("fork_threads.py", "py3.13", ("fork",), "fork", 20),
    "fork-lock-held": ("fork_lock.py", "py3.13", ("fork", "spawn"), "fork", 4),
    "broken-process-pool": ("broken_pool.py", "py3.13", ("fork",), "fork", 20),
    "resource-tracker-leak": ("shm_leak.py", "py3.13", ("fork",), "fork", 20),
    "printed-twice": ("printed_twice.py", "py3.13", ("fork",), "fork", 20),
    "reimport": ("module_print.py", "py3.13", METHODS, "fork", 20),
    "runtime-state": ("runtime_state.py", "py3.13", METHODS, "fork", 20),
    "read-only-src": ("writes_beside.py", "py3.13", ("fork",), "fork", 20),
    "pids-limit": ("fork_bomb.py", "py3.13", ("fork",), "fork", 30),
    "stdin-eof": ("reads_stdin.py", "py3.13", ("fork",), "fork", 20),
    "syntax": ("needs_3_10.txt", "py3.9", ("fork",), "fork", 20),
    "killed": ("memory_hog.py", "py3.13", ("fork",), "fork", 30),
    "requires-fork": ("requires_fork.py", "py3.13", ("spawn",), "spawn", 20),
    "needs-network": ("needs_network.py", "py3.13", ("fork",), "fork", 20),
    "fork-warning-error": ("fork_warning_error.py", "py3.15", ("fork",), "fork", 20),
    "gil-assumed": ("assumes_gil.py", "py3.13t", ("fork",), "fork-gil-off", 20),
    "join-timeout": ("join_timeout.py", "py3.13", ("spawn",), "spawn", 20),
}


def test_every_signature_has_a_script():
    table = [s.id for s in signatures.load(check.SRC)]
    assert sorted(table) == sorted(SHOWN), "each signature needs a script that shows it (SHOWN)"
    for sig in signatures.load(check.SRC):
        assert sig.docs.startswith("https://"), sig.id
    for script, *_ in SHOWN.values():
        assert (SCRIPTS / script).is_file(), script


@pytest.fixture(scope="module")
def boxes(docker_client):
    with ContainerPool(docker_client) as pool:
        pool.start([matrix.get_image(name) for name in IMAGES], **check.container_options())
        yield pool.boxes


def run(boxes, script, image, methods, timeout):
    opts = check.Options(SCRIPTS / script, images=(image,), methods=methods, timeout=timeout)
    cells, _ = check.explain_all(check.run_cells(boxes, opts), timeout)
    return {c.method + (f"-gil-{c.gil}" if c.gil else ""): c for c in cells}


@pytest.mark.parametrize("sig", sorted(SHOWN))
def test_signature_is_recognised(boxes, sig):
    script, image, methods, method, timeout = SHOWN[sig]
    cells = run(boxes, script, image, methods, timeout)
    cell = cells[method]
    assert sig in cell.signatures, (cell.outcome, cell.signatures, cell.stderr[-800:])
    assert cell.explanation and cell.recognised


def test_unguarded_script_per_method(boxes):
    """The headline: the unguarded script works under fork and fails under spawn on 3.13
    (the child's RuntimeError); on 3.14 forkserver, the default there, the parent itself
    dies of ConnectionResetError."""
    cells = run(boxes, "unguarded.py", "py3.14", ("fork", "spawn", "forkserver", "default"), 20)
    assert cells["fork"].outcome == "ok" and "child ran" in cells["fork"].stdout
    assert cells["forkserver"].outcome == "error:ConnectionResetError"
    assert cells["default"].group == cells["forkserver"].group != cells["fork"].group
    assert "main-guard" in cells["spawn"].signatures


def test_fork_bomb_is_ended_and_the_next_cell_is_clean(boxes):
    """The pids limit ends a fork bomb; a cell running beside it in another image, and the
    next cell in its own, are unaffected, and nothing of the bomb is left."""
    with ThreadPoolExecutor(2) as pool:
        bomb = pool.submit(run, boxes, "fork_bomb.py", "py3.13", ("fork",), 30)
        beside = pool.submit(run, boxes, "guarded.py", "py3.9", ("fork", "spawn", "forkserver"), 20)
        cells, other = bomb.result(), beside.result()
    assert cells["fork"].outcome == "crash:SIGKILL" and cells["fork"].signatures == ["pids-limit"]
    assert cells["fork"].ended_by_pids_limit and cells["fork"].duration_s < 20  # not at its 30 s bound
    assert {c.outcome for c in other.values()} == {"ok"}, other
    after = run(boxes, "guarded.py", "py3.13", ("fork", "spawn"), 20)
    assert [c.outcome for c in after.values()] == ["ok", "ok"], after
    code, out, _ = boxes["py3.13"][0].exec(
        ["python", "-c", "import os; print(sum(n.isdigit() for n in os.listdir('/proc')))"], timeout=20)
    assert code == 0 and int(out) < 8, f"processes left in the container: {out}"


def test_hook_forces_the_method_at_interpreter_start(boxes):
    """No edit of the script: the method in force is what the hook set (the platform
    default), and a script that pins its own method keeps it."""
    cells = run(boxes, "guarded.py", "py3.9", METHODS, 20)
    assert {c.outcome for c in cells.values()} == {"ok"}
    assert len({c.group for c in cells.values()}) == 1
    for method, cell in cells.items():
        forks = [e for e in cell.events if e["event"] == "fork"]
        starts = [e for e in cell.events if e["event"] == "start"]
        if method == "fork":
            assert len(starts) == 1 and forks  # workers forked from the script
        else:
            assert len(starts) > 1  # fresh interpreters: spawned workers or a fork server


def test_unmatched_failure_is_marked_not_recognised(boxes, tmp_path):
    cells = run(boxes, "reads_stdin.py", "py3.13", ("fork",), 20)
    cell = replace(cells["fork"], stderr="Traceback (most recent call last):\nZeroDivisionError: odd\n",
                   outcome="error:ZeroDivisionError", signatures=[])
    (cell,), _ = check.explain_all([cell], 20)
    assert cell.explanation == "not recognised: error:ZeroDivisionError, ZeroDivisionError: odd"
    assert not cell.recognised


def test_a_script_that_pins_its_method_keeps_it(boxes):
    """The hook sets the platform default, not the chosen method: set_start_method('fork')
    in the script works under every forced method (no 'context has already been set'),
    and the cells say that the script's choice won."""
    cells = run(boxes, "pins_fork.py", "py3.14", ("fork", "spawn", "forkserver", "default"), 20)
    assert {c.outcome for c in cells.values()} == {"ok"}
    assert len({c.group for c in cells.values()}) == 1
    assert "chose its own start method (fork)" in cells["spawn"].explanation
    assert "chose its own start method" not in cells["fork"].explanation
