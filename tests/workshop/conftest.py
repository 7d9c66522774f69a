"""The workshop tests' one running workshop (a session fixture; tests/utils/tracked_workshop.py).

The workshop is started the README's way (``scripts/workshop``) in a compose project of
its own (``concurrency-lab-test-<pid>``), on free ports, with its own env file, through
``tests/utils/tracked_workshop.py``: an attendee's running workshop, its ``.env`` and its ``work``
volume are never touched. Everything the tests create carries the project label and is
removed afterwards, on failure too; a run that died is swept by the next one.
"""

from __future__ import annotations

import json
import os

import pytest

from labmatrix import matrix
from labmatrix.container import free_port, require_images, sweep_dead
from labmatrix.errors import MissingEnvironment
from tests.utils.tracked_workshop import TEST_PREFIX, Workshop


@pytest.fixture(scope="session")
def workshop(docker_client, selection, results_dir, tmp_path_factory):
    images = list(selection.images)
    try:
        require_images(docker_client, [matrix.get_image(name) for name in images])
    except MissingEnvironment as exc:
        pytest.exit(str(exc), returncode=3)
    sweep_dead(docker_client)
    env_file = tmp_path_factory.mktemp("workshop") / ".env"
    ws = Workshop(docker_client, f"{TEST_PREFIX}{os.getpid()}", env_file,
                  {name: free_port() for name in images}, images)
    try:
        ws.figures["up_s"] = round(ws.up(), 1)
        yield ws
    finally:
        ws.remove()
        left = ws.resources()
        results_dir.mkdir(parents=True, exist_ok=True)
        (results_dir / "workshop.json").write_text(json.dumps(ws.figures, indent=1) + "\n")
        assert not left, f"left behind: {left}"
