"""The workshop's notebooks, through the running servers: a lab notebook executed end to
end, its copy in work/, and work/ kept across ``scripts/workshop down``."""

import json
import re
import time
import uuid

import pytest

from labmatrix import expect, matrix
from tests.utils.tracked_workshop import NOTEBOOK_LAB, PROJECT_LABEL, RUN_NOTEBOOK
from tests.utils.tracked_workshop import compose_run as run

SECTION = re.compile(r"^=+ --start-method (\S+) =+\n(.*?)^\[outcome: ([^,\]]+), exit code ([^\]]+)\]$",
                     re.S | re.M)


def test_lab_notebook_runs_through_the_server(workshop, image):
    """Execute a lab notebook as JupyterLab would (session, kernel, websocket) and check
    that its last cell ran the lab as a script under every method, with the outcomes the
    matrix expects."""
    lab = NOTEBOOK_LAB
    container = workshop.container(image.name)
    start = time.monotonic()
    # The client runs on the server's venv (on a free-threaded image `python` is the bare
    # free-threaded interpreter, without Jupyter's client libraries).
    proc = run(["docker", "exec", "-i", "-e", f"JUPYTER_TOKEN={workshop.token}", container.id,
                "/opt/venv/bin/python", "-", f"labs/{lab}.py"], input=RUN_NOTEBOOK.read_text(), timeout=300)
    workshop.figures.setdefault("notebook_s", {})[image.name] = round(time.monotonic() - start, 1)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    version = container.image.labels[matrix.PYTHON_VERSION_LABEL]
    # A free-threaded image's kernel runs without the GIL, and its name says so.
    gil = "off" if image.free_threaded else ""
    assert result["kernel"] == f"Python {version}{' · no GIL' if gil else ''} · {image.default_method} ({image.name})"
    cells = result["cells"]
    assert all(c["status"] == "ok" for c in cells), [c for c in cells if c["status"] != "ok"]
    last = cells[-1]
    assert "lab.run(main)" in last["source"]
    text = "".join(o.get("text", "") for o in last["outputs"] if o["type"] == "stream")
    assert "as a real script" in text and "__main__ is not a file" in text, text
    sections = {m.group(1): m for m in SECTION.finditer(text)}
    assert list(sections) == list(matrix.METHODS), text
    for method, m in sections.items():
        exp = expect.expected(lab, version, method, image.platform, gil)
        assert m.group(3) == exp.outcome, f"{method}: notebook shows {m.group(3)}, matrix expects {exp.outcome}\n{text}"
    if True:  # main_guard
        # Visible in the notebook: the unguarded script's spawn child fails at bootstrap
        # (however the lab words it), while under fork the course's "Dummy" is printed.
        spawn, fork = sections["spawn"].group(2), sections["fork"].group(2)
        signals = ("child exitcode 1", "RuntimeError", "bootstrapping phase", "Safe importing of main module")
        assert any(signal in spawn for signal in signals), spawn
        assert "Dummy" in fork.splitlines(), fork


@pytest.mark.docker
def test_running_it_again_changes_nothing(workshop):
    """scripts/workshop on a running workshop: its own ports are not "in use", nothing is
    recreated, and the same URLs are printed."""
    before = {name: workshop.container(name).id for name in workshop.images}
    proc = workshop.workshop(*workshop.images)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert {name: workshop.container(name).id for name in workshop.images} == before
    urls = re.findall(r"http://\S+", proc.stdout)
    assert urls == re.findall(r"http://\S+", workshop.up_output) and len(urls) == len(workshop.images)


@pytest.mark.docker
def test_a_lab_copied_to_work_runs_there(workshop):
    """The landing page's advice: copy a lab into work/ and run it; labkit still imports and
    the last cell runs the copy."""
    name, lab = workshop.images[0], NOTEBOOK_LAB
    target = f"work/{lab}.py"
    workshop.api(name, "DELETE", f"/api/contents/{target}")
    copied = workshop.api(name, "POST", "/api/contents/work", {"copy_from": f"labs/{lab}.py"})
    assert copied.status_code == 201 and copied.json()["path"] == target, copied.text
    try:
        proc = run(["docker", "exec", "-i", "-e", f"JUPYTER_TOKEN={workshop.token}", workshop.container(name).id,
                    "/opt/venv/bin/python", "-", target], input=RUN_NOTEBOOK.read_text(), timeout=300)
        assert proc.returncode == 0, proc.stderr
        last = json.loads(proc.stdout)["cells"][-1]
        text = "".join(o.get("text", "") for o in last["outputs"] if o["type"] == "stream")
        assert last["status"] == "ok" and f"Running {lab}.py as a real script" in text, last
        assert [m.group(1) for m in SECTION.finditer(text)] == list(matrix.METHODS), text
    finally:
        workshop.api(name, "DELETE", f"/api/contents/{target}")


@pytest.mark.docker
def test_work_survives_down_and_labs_stay_read_only(workshop):
    """What an attendee saves in work/ outlives `scripts/workshop down` (the volume stays)."""
    name = workshop.images[0]
    marker = f"kept-{uuid.uuid4().hex}.py"
    saved = workshop.api(name, "PUT", f"/api/contents/work/{marker}",
                         {"type": "file", "format": "text", "content": "# %%\nprint('mine')\n"})
    assert saved.status_code in (200, 201), saved.text
    volume = f"{workshop.name}_work"
    down = workshop.down()
    assert "work is kept" in down.stdout
    assert not workshop.docker_client.containers.list(filters={"label": f"{PROJECT_LABEL}={workshop.name}"},
                                            all=True, sparse=True)
    kept = workshop.docker_client.volumes.get(volume)
    assert kept.attrs["Labels"][matrix.LABEL] == "concurrency-lab"
    workshop.figures["restart_s"] = round(workshop.up(), 1)
    back = workshop.api(name, "GET", f"/api/contents/work/{marker}?type=file&format=text", None)
    assert back.status_code == 200 and back.json()["content"] == "# %%\nprint('mine')\n"
    # Every image shares the one work volume.
    for other in workshop.images:
        listing = workshop.get(other, "/api/contents/work").json()["content"]
        assert marker in {item["name"] for item in listing}
