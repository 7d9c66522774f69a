"""The lab matrix's pytest options and parametrisation (a plugin that tests/conftest.py loads).

    pytest --image py3.14 --method spawn --lab main_guard

Test ids read ``test_lab[<lab>-<image>-<method>]``, and ``...-gil_off``/``...-gil_on`` on a
free-threaded image (``--gil on|off`` picks one). A lab runs along the axes it declares;
``--all-axes`` runs it along every axis, and ``test_axis_agrees[<cell>]`` compares each cell
that its axes drop with the cell kept in its place. Run state lives in ``config.stash``; the
run itself is a ``labmatrix.session.MatrixSession``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from labmatrix import matrix
from labmatrix.session import HOST, MatrixSession, Selection, SelectionError

SELECTION, RESULTS, SESSION = pytest.StashKey[Selection](), pytest.StashKey[Path](), pytest.StashKey[MatrixSession]()
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def pytest_addoption(parser):
    group = parser.getgroup("lab matrix")
    for name in ("image", "lab", "method", "gil"):
        group.addoption(f"--{name}", action="append", default=[], help=f"{name} to run (repeatable); default: all")
    group.addoption("--all-axes", action="store_true", default=False,
                    help="run every lab along every axis, and check that the cells its axes drop agree with the kept ones")
    group.addoption("--require-docker", action="store_true", default=IN_CI,
                    help="fail, instead of skip, when Docker is missing (on by default when CI=true)")
    group.addoption("--results", help="report folder; default results/ (full), results/host/ or results/partial/<selection>/")


def pytest_configure(config):
    try:
        sel = Selection.pick(*(config.getoption(o) for o in ("--image", "--lab", "--method", "--gil")),
                             all_axes=config.getoption("--all-axes"))
    except SelectionError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.stash[SELECTION] = sel
    if config.getoption("--results"):
        config.stash[RESULTS] = Path(config.getoption("--results"))


def pytest_generate_tests(metafunc):
    sel, docker = metafunc.config.stash[SELECTION], pytest.mark.docker
    params = {"matrix_cell": [pytest.param(c, id=c.id, marks=docker) for c in sel.cells()],
              "host_cell": [pytest.param(c, id=c.id) for c in sel.cells([HOST])],
              "dropped_cell": [pytest.param(c, id=c.id, marks=docker) for c in sel.cells() if c.kept() != c],
              "image": [pytest.param(matrix.get_image(n), id=n, marks=docker) for n in sel.images]}
    params["spawn_image"] = [p for p in params["image"] if p.values[0].default_method == "spawn"]
    # The browser needs two images at most: the spawn one (what laptops do) and a
    # free-threaded one (its kernel runs on another interpreter than Jupyter), else the first.
    params["browser_image"] = [p for p in params["image"] if p.values[0].default_method == "spawn"
                               or p.values[0].free_threaded] or params["image"][:1]
    for argname in set(params) & set(metafunc.fixturenames):
        metafunc.parametrize(argname, params[argname])


def wanted(session, argname: str) -> list:
    """The cells of the tests that survived -k/-m selection."""
    return sorted({i.callspec.params[argname] for i in session.items
                   if hasattr(i, "callspec") and argname in i.callspec.params})


def pytest_collection_modifyitems(config, items):
    """Without --all-axes no cell is dropped: the agreement test is left out (deselected),
    not collected as a skip, so a CI run shows no skipped container test."""
    if config.stash[SELECTION].all_axes:
        return
    dropped = [item for item in items if "dropped_cell" in getattr(item, "fixturenames", ())]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [item for item in items if item not in dropped]


def pytest_sessionfinish(session):
    if (run := session.config.stash.get(SESSION, None)) and run.results:
        run.write_report(session.config.stash[SELECTION], session.config.stash.get(RESULTS, None))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """With --require-docker (default in CI) a Docker test that skips is a failure."""
    rep = (yield).get_result()
    if rep.skipped and item.get_closest_marker("docker") and item.config.getoption("--require-docker"):
        rep.outcome, rep.longrepr = "failed", f"Docker test skipped but --require-docker is set: {rep.longrepr}"
