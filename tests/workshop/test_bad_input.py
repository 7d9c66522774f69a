"""Bad input and faults: each gives one clear line that names the fix, and leaves a
running workshop serving."""

import os
import re
import shutil
import socket
import uuid

import pytest
import requests

from labmatrix import matrix
from labmatrix.container import free_port
from labmatrix.envfile import port_var
from tests.utils.tracked_workshop import (
    TEST_PREFIX,
    UP_TIMEOUT,
    WORKSHOP,
    project_env,
    remove_project,
    resources,
)
from tests.utils.tracked_workshop import compose_run as run


def one_clear_line(proc) -> str:
    lines = [ln for ln in (proc.stdout + proc.stderr).splitlines() if ln.strip()]
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    assert len(lines) == 1, lines
    return lines[0]


@pytest.fixture
def scratch_project(docker_client, tmp_path):
    """A project name and env file for a run that must fail before starting anything."""
    project = f"{TEST_PREFIX}{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        yield project, tmp_path / ".env"
    finally:
        left = resources(docker_client, project)
        remove_project(docker_client, project)
        assert not left, f"a failed start left {left}"


@pytest.mark.docker
@pytest.mark.parametrize("blank", ["JUPYTER_TOKEN=", 'JUPYTER_TOKEN=" "', "JUPYTER_TOKEN='\t '"],
                         ids=["empty", "space", "blanks"])
def test_port_in_use_is_one_clear_line(scratch_project, blank):
    """A busy port is named with its image and .env variable; on the way, an empty or blank
    token is replaced by a random one (a blank one would lock everyone out)."""
    project, env_file = scratch_project
    name = matrix.images()[-1].name
    var = port_var(matrix.get_image(name))
    env_file.write_text(f"{blank}\n")  # must be replaced, never used
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = run([str(WORKSHOP), name], env=project_env(project, env_file, {name: port}))
    line = one_clear_line_after_token(proc)
    assert f"port {port}" in line and name in line and var in line, line
    tokens = re.findall(r"^JUPYTER_TOKEN=(.*)$", env_file.read_text(), re.M)
    assert len(tokens) == 1 and re.fullmatch(r"[0-9a-f]{48}", tokens[0]), env_file.read_text()


def one_clear_line_after_token(proc) -> str:
    """Like one_clear_line, allowing the one notice that a token was written."""
    lines = [ln for ln in (proc.stdout + proc.stderr).splitlines()
             if ln.strip() and "wrote a random JUPYTER_TOKEN" not in ln]
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert len(lines) == 1, lines
    return lines[0]


@pytest.mark.docker
def test_unknown_image_and_option_are_one_clear_line(scratch_project):
    project, env_file = scratch_project
    env = project_env(project, env_file)
    line = one_clear_line(run([str(WORKSHOP), "py2.7"], env=env))
    assert "unknown image 'py2.7'" in line and "py3.14" in line
    line = one_clear_line(run([str(WORKSHOP), "--bogus"], env=env))
    assert "unknown option" in line
    line = one_clear_line(run([str(WORKSHOP), ""], env=env))
    assert "unknown image ''" in line and "py3.14" in line
    assert not env_file.exists(), "nothing is written before the arguments are valid"


@pytest.mark.docker
def test_missing_image_is_one_clear_line(scratch_project, tmp_path):
    """With --no-build a missing image is named with the command that builds it. The image
    is made to look missing with a `docker` wrapper, so no real image is removed."""
    project, env_file = scratch_project
    name = matrix.images()[0].name
    real = shutil.which("docker")
    shim = tmp_path / "bin"
    shim.mkdir()
    (shim / "docker").write_text(
        "#!/bin/sh\n"
        f'case "$*" in "image inspect "*" concurrency-lab:{name}")\n'
        f'  echo "Error: No such image: concurrency-lab:{name}" >&2; exit 1 ;;\n'
        "esac\n"
        f'exec "{real}" "$@"\n')
    (shim / "docker").chmod(0o755)
    env = project_env(project, env_file, {name: free_port()})
    env["PATH"] = f"{shim}{os.pathsep}{env['PATH']}"
    line = one_clear_line_after_token(run([str(WORKSHOP), "--no-build", name], env=env))
    assert f"image(s) not built or outdated: {name}" in line and f"scripts/build-images {name}" in line, line
    # The instructor's offline copy, named as the workshop's page (docs/workshop.md) names it.
    assert "docker load -i concurrency-lab.tar.gz" in line, line
    assert "docker load -i concurrency-lab.tar.gz" in (matrix.ROOT / "docs" / "workshop.md").read_text()


@pytest.mark.docker
@pytest.mark.parametrize("content", ["", 'JUPYTER_TOKEN=" "\n'], ids=["no-token", "blank-token"])
def test_plain_compose_up_without_env_generates_a_token(docker_client, tmp_path, content, selection):
    """`docker compose up` with no token (or a blank one) in .env: each container makes its
    own and prints it."""
    name = selection.images[-1]
    project = f"{TEST_PREFIX}{os.getpid()}-{uuid.uuid4().hex[:8]}"
    port = free_port()
    empty = tmp_path / "empty.env"
    empty.write_text(content)
    env = project_env(project, empty, {name: port})
    try:
        proc = run(["docker", "compose", "--env-file", str(empty), "up", "-d", "--wait", name],
                   env=env, timeout=UP_TIMEOUT)
        assert proc.returncode == 0, proc.stderr
        logs = run(["docker", "compose", "--env-file", str(empty), "logs", name], env=env).stdout
        found = re.search(rf"open http://127\.0\.0\.1:{port}/lab/tree/labs/README\.md\?token=([0-9a-f]+)", logs)
        assert found and len(found.group(1)) == 48, logs
        base = f"http://127.0.0.1:{port}/api/contents"
        assert requests.get(base, timeout=30).status_code == 403
        assert requests.get(base, headers={"Authorization": f"token {found.group(1)}"}, timeout=30).status_code == 200
    finally:
        remove_project(docker_client, project)
        assert not resources(docker_client, project)


# Lines of a corrupted .env (after a valid one), and what the one clear line must name.
CORRUPT = {
    "port-not-a-number": ("PORT_PY3_14=88a45", "PORT_PY3_14=88a45"),
    "port-too-high": ("PORT_PY3_14=99999", "PORT_PY3_14=99999"),
    "port-negative": ("PORT_PY3_14=-1", "PORT_PY3_14=-1"),
    "not-a-variable": ("this is not a variable", "this is not a variable"),
    "unterminated-quote": ('JUPYTER_TOKEN="x', 'JUPYTER_TOKEN="x'),
    "required-unset": ("FOO=${U:?x}", "${U:?x}"),
}


@pytest.mark.docker
@pytest.mark.parametrize("case", CORRUPT, ids=list(CORRUPT))
def test_corrupted_env_file_names_the_line(scratch_project, case):
    project, env_file = scratch_project
    bad, shown = CORRUPT[case]
    good = "# the workshop\nJUPYTER_TOKEN=0123456789abcdef\n"
    env_file.write_text(f"{good}{bad}\n")
    env = project_env(project, env_file)
    env.pop("U", None)
    line = one_clear_line(run([str(WORKSHOP), "py3.14"], env=env))
    assert line.startswith("workshop: ") and f"{env_file} line 3" in line and shown in line, line
    assert env_file.read_text() == f"{good}{bad}\n", "a corrupted .env is left as it was"


@pytest.mark.docker
def test_a_port_from_the_environment_is_checked_too(scratch_project):
    project, env_file = scratch_project
    env = project_env(project, env_file)
    env["PORT_PY3_14"] = "http"
    line = one_clear_line_after_token(run([str(WORKSHOP), "py3.14"], env=env))
    assert "the environment: PORT_PY3_14=http is not a port" in line, line


def _serves(workshop, name) -> bool:
    return workshop.get(name, "/api/contents").status_code == 200


@pytest.mark.docker
def test_moving_a_running_lab_to_a_busy_port_keeps_it_serving(workshop, image):
    """With the workshop running, PORT_<IMAGE> set to a port another program holds: the
    port check names it, and the running lab is not touched."""
    name, var = image.name, port_var(image)
    before = workshop.container(name).id
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        line = one_clear_line(workshop.workshop(name, env={var: str(port)}))
    assert f"port {port} (image {name}) is already in use" in line and var in line, line
    assert workshop.container(name).id == before and _serves(workshop, name)


@pytest.mark.docker
def test_a_failed_move_brings_the_lab_back_on_its_port(workshop, image):
    """The new port passes the check but cannot be bound when Docker publishes it (a socket
    bound there, not listening: what a program that takes the port meanwhile does). The
    start fails, and the lab serves again on the port it had."""
    name, var = image.name, port_var(image)
    old = workshop.ports[name]
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        proc = workshop.workshop(name, env={var: str(port)})
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert f"workshop: {name} could not move to port {port}; it serves again on port {old}" in proc.stderr, \
        proc.stderr
    assert workshop.container(name).ports["8888/tcp"][0]["HostPort"] == str(old)
    assert _serves(workshop, name)
