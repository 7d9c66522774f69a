"""Small typed fixtures over labmatrix.session; options and ids: tests/utils/matrix_plugin.py."""

from pathlib import Path

import pytest

pytest.register_assert_rewrite("tests.utils")  # before the helpers below are imported

from labmatrix import matrix  # noqa: E402
from labmatrix.container import client  # noqa: E402
from labmatrix.errors import MissingEnvironment  # noqa: E402
from labmatrix.session import MatrixSession, Selection, report_dir  # noqa: E402
from tests.utils.matrix_plugin import RESULTS, SELECTION, SESSION, wanted  # noqa: E402

pytest_plugins = ["tests.utils.matrix_plugin"]


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
    except MissingEnvironment as exc:
        if request.config.getoption("--require-docker") or request.config.getoption("--image"):
            pytest.exit(str(exc), returncode=3)
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def lab_session(request) -> MatrixSession:
    """The session's matrix run; it starts containers only when an image test asks."""
    with MatrixSession() as run:
        request.config.stash[SESSION] = run
        yield run


@pytest.fixture(scope="session")
def lab_containers(docker_client, selection, lab_session) -> dict:
    try:
        lab_session.add_images([matrix.get_image(name) for name in selection.images])
    except MissingEnvironment as exc:
        pytest.exit(str(exc), returncode=3)
    return lab_session.containers


@pytest.fixture(scope="session")
def matrix_results(request, lab_session, lab_containers) -> dict:
    return lab_session.run(wanted(request.session, "matrix_cell"))


@pytest.fixture(scope="session")
def host_results(request, lab_session) -> dict:
    return lab_session.run(wanted(request.session, "host_cell"))
