"""The matrix driver: options, ids, one container per image, the report at the end.

    pytest --image py3.14 --method spawn -k main_guard

Test ids read ``test_lab[<lab>-<image>-<method>]``. The cells of a session are run in
batches before the first test needs them: every selected image in its own thread, one
container each, so images run side by side. Each test then checks its own cell.
"""

from __future__ import annotations

import os
import time

import pytest

from labmatrix import cells, matrix, report
from labmatrix.container import DriverError, LabContainer, client, remove_mine, require_images, sweep

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def pytest_addoption(parser):
    group = parser.getgroup("lab matrix")
    group.addoption("--image", action="append", default=[], help="image to run (repeatable); default: all")
    group.addoption("--lab", action="append", default=[], help="lab to run (repeatable); default: all")
    group.addoption("--method", action="append", default=[], help="start method (repeatable); default: all")
    group.addoption("--require-docker", action="store_true", default=IN_CI,
                    help="fail, instead of skip, when Docker is missing (on by default when CI=true)")
    group.addoption("--results", default=str(matrix.ROOT / "results"), help="where the report goes")


def _pick(config, option, valid):
    chosen = config.getoption(option) or list(valid)
    unknown = [name for name in chosen if name not in valid]
    if unknown:
        raise pytest.UsageError(f"unknown {option.lstrip('-')} {', '.join(map(repr, unknown))}; "
                                f"valid: {', '.join(valid)}")
    return chosen


def pytest_configure(config):
    config.lab_images = _pick(config, "--image", matrix.image_names())
    config.lab_labs = _pick(config, "--lab", matrix.lab_names())
    config.lab_methods = _pick(config, "--method", list(matrix.METHODS))
    for name in matrix.image_names():
        config.addinivalue_line("markers", f"{name}: cells and checks of image {name}")
    config.lab_results = {}


def pytest_generate_tests(metafunc):
    config = metafunc.config
    if "matrix_cell" in metafunc.fixturenames:
        params = [pytest.param((lab, image, method), id=f"{lab}-{image}-{method}",
                               marks=[getattr(pytest.mark, image), pytest.mark.docker])
                  for lab in config.lab_labs for image in config.lab_images for method in config.lab_methods]
        metafunc.parametrize("matrix_cell", params)
    if "host_cell" in metafunc.fixturenames:
        params = [pytest.param((lab, "host", method), id=f"{lab}-host-{method}")
                  for lab in config.lab_labs for method in config.lab_methods]
        metafunc.parametrize("host_cell", params)
    for argname, keep in (("image", lambda i: True), ("spawn_image", lambda i: i.default_method == "spawn")):
        if argname in metafunc.fixturenames:
            chosen = [matrix.get_image(name) for name in config.lab_images]
            metafunc.parametrize(argname, [
                pytest.param(i, id=i.name, marks=[getattr(pytest.mark, i.name), pytest.mark.docker])
                for i in chosen if keep(i)])


def _wanted(session, argname):
    """The cells of the tests that survived -k/-m selection."""
    return sorted({item.callspec.params[argname] for item in session.items
                   if hasattr(item, "callspec") and argname in item.callspec.params})


@pytest.fixture(scope="session")
def docker_client(request):
    explicit = bool(request.config.getoption("--image"))
    try:
        cli = client()
    except DriverError as exc:
        if request.config.getoption("--require-docker") or explicit:
            pytest.exit(str(exc), returncode=3)
        pytest.skip(str(exc))
    sweep(cli)
    request.config.lab_docker_used = True
    return cli


@pytest.fixture(scope="session")
def lab_containers(docker_client, request):
    """One running container per selected image for the whole session, removed at the end."""
    images = [matrix.get_image(name) for name in request.config.lab_images]
    try:
        require_images(docker_client, images)
    except DriverError as exc:
        pytest.exit(str(exc), returncode=3)
    started = {image.name: LabContainer(docker_client, image) for image in images}
    try:
        for container in started.values():
            container.__enter__()
        yield started
    finally:
        for container in started.values():
            container.remove()


@pytest.fixture(scope="session")
def matrix_results(lab_containers, request):
    wanted = _wanted(request.session, "matrix_cell")
    by_image = {}
    for lab, image, method in wanted:
        by_image.setdefault(image, []).append((lab, method))
    start = time.monotonic()
    headers, results = cells.run_images(lab_containers, by_image)
    request.config.lab_results.update(results)
    request.config.lab_run = {"wall_s": round(time.monotonic() - start, 2), "headers": headers}
    return results


@pytest.fixture(scope="session")
def host_results(request):
    wanted = _wanted(request.session, "host_cell")
    _, found = cells.run_host([(lab, method) for lab, _, method in wanted])
    results = {(r.lab, r.image, r.method): r for r in found}
    request.config.lab_results.update(results)
    return results


def assert_cell(result):
    if result.problems:
        lines = [f"{result.id}: expected vs observed"]
        lines += [f"  {p}" + (f"  (why: {result.why[k]})" if (k := p.split(':')[0]) in result.why else "")
                  for p in result.problems]
        lines += ["--- stdout ---", result.stdout.rstrip(), "--- stderr ---", result.stderr.rstrip()]
        pytest.fail("\n".join(lines), pytrace=False)


def pytest_unconfigure(config):
    """Whatever happened, no container of this driver outlives it."""
    if getattr(config, "lab_docker_used", False):
        remove_mine(client())


def pytest_sessionfinish(session):
    results = getattr(session.config, "lab_results", {})
    if results:
        run = getattr(session.config, "lab_run", {})
        report.write(list(results.values()), session.config.getoption("--results"), run)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """With --require-docker (default in CI) a Docker test that skips is a failure."""
    outcome = yield
    rep = outcome.get_result()
    if rep.skipped and item.get_closest_marker("docker") and item.config.getoption("--require-docker"):
        rep.outcome = "failed"
        rep.longrepr = f"Docker test skipped but --require-docker is set: {rep.longrepr}"
