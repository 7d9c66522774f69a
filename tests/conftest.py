"""Thin pytest face of the lab matrix: ids, options, fixtures (labmatrix.session runs it).

    pytest --image py3.14 --method spawn --lab main_guard

Test ids read ``test_lab[<lab>-<image>-<method>]``, and ``...-gil_off``/``...-gil_on`` on a
free-threaded image (``--gil on|off`` picks one). Run state lives in ``config.stash``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from labmatrix import matrix
from labmatrix.container import DriverError, client
from labmatrix.session import HOST, MatrixSession, Selection, SelectionError, report_dir

SELECTION, RESULTS, SESSION = pytest.StashKey[Selection](), pytest.StashKey[Path](), pytest.StashKey[MatrixSession]()
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def pytest_addoption(parser):
    group = parser.getgroup("lab matrix")
    for name in ("image", "lab", "method", "gil"):
        group.addoption(f"--{name}", action="append", default=[], help=f"{name} to run (repeatable); default: all")
    group.addoption("--require-docker", action="store_true", default=IN_CI,
                    help="fail, instead of skip, when Docker is missing (on by default when CI=true)")
    group.addoption("--results", help="report folder; default results/ (full), results/host/ or results/partial/<selection>/")


def pytest_configure(config):
    try:
        sel = Selection.pick(*(config.getoption(o) for o in ("--image", "--lab", "--method", "--gil")))
    except SelectionError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.stash[SELECTION] = sel
    if config.getoption("--results"):
        config.stash[RESULTS] = Path(config.getoption("--results"))


def pytest_generate_tests(metafunc):
    sel, docker = metafunc.config.stash[SELECTION], pytest.mark.docker
    params = {"matrix_cell": [pytest.param(c, id=c.id, marks=docker) for c in sel.cells()],
              "host_cell": [pytest.param(c, id=c.id) for c in sel.cells([HOST])],
              "image": [pytest.param(matrix.get_image(n), id=n, marks=docker) for n in sel.images]}
    params["spawn_image"] = [p for p in params["image"] if p.values[0].default_method == "spawn"]
    for argname in set(params) & set(metafunc.fixturenames):
        metafunc.parametrize(argname, params[argname])


@pytest.fixture(scope="session")
def selection(request) -> Selection:
    return request.config.stash[SELECTION]


@pytest.fixture(scope="session")
def results_dir(request, selection) -> Path:
    return request.config.stash.get(RESULTS, None) or report_dir(selection)


@pytest.fixture(scope="session")
def docker_client(request):
    try:
        return client()
    except DriverError as exc:
        if request.config.getoption("--require-docker") or request.config.getoption("--image"):
            pytest.exit(str(exc), returncode=3)
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def lab_session(request):
    """The session's matrix run; it starts containers only when an image test asks."""
    with MatrixSession() as run:
        request.config.stash[SESSION] = run
        yield run


@pytest.fixture(scope="session")
def lab_containers(docker_client, selection, lab_session) -> dict:
    try:
        lab_session.add_images([matrix.get_image(name) for name in selection.images], cli=docker_client)
    except DriverError as exc:
        pytest.exit(str(exc), returncode=3)
    return lab_session.containers


def _wanted(request, argname):
    """The cells of the tests that survived -k/-m selection."""
    return sorted({i.callspec.params[argname] for i in request.session.items
                   if hasattr(i, "callspec") and argname in i.callspec.params})


@pytest.fixture(scope="session")
def matrix_results(request, lab_session, lab_containers):
    return lab_session.run(_wanted(request, "matrix_cell"))


@pytest.fixture(scope="session")
def host_results(request, lab_session):
    return lab_session.run(_wanted(request, "host_cell"))


def pytest_sessionfinish(session):
    if (run := session.config.stash.get(SESSION, None)) and run.results:
        run.write_report(session.config.stash[SELECTION], session.config.stash.get(RESULTS, None))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """With --require-docker (default in CI) a Docker test that skips is a failure."""
    rep = (yield).get_result()
    if rep.skipped and item.get_closest_marker("docker") and item.config.getoption("--require-docker"):
        rep.outcome, rep.longrepr = "failed", f"Docker test skipped but --require-docker is set: {rep.longrepr}"
