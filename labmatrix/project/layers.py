"""A dependency layer per (image, dependency set): the image plus a venv with the project's
dependencies, installed offline, built once and reused.

The layer is made by a container of the image (no network, root only inside it) that
receives the wheels by ``put_archive``, creates ``/opt/project`` (a venv that sees only
the standard library and what it installs, as tox's would) and installs them with pip run
from its own wheel; the container is then committed as
``concurrency-lab-deps:<image>-<hash>``, labelled like the project's other images. The
hash covers the base image's id, every wheel's name and content and this recipe, so a
rebuilt image or a new pin makes a new layer and an unchanged project reuses its own.
The images' start-method hook (images/lab_mp_platform.py, which the macOS-like image
needs) is copied into the venv, which does not see the system site-packages.
"""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
from dataclasses import dataclass
from pathlib import Path

import docker.errors

from .. import matrix
from ..container import force_remove, run_labels
from ..matrix import HOST_LABEL, PID_LABEL
from . import copyin
from .deps import Resolved

REPO = "concurrency-lab-deps"
VENV = "/opt/project"
PYTHON = f"{VENV}/bin/python"
DEPS_LABEL = matrix.DEPS_LABEL
#: Part of every layer's hash; CHECK_PROJECT_SALT adds to it, so that a benchmark can
#: measure a cold run (no layer yet) without removing layers that others use.
RECIPE = "layer-v1" + os.environ.get("CHECK_PROJECT_SALT", "")
INSTALL = f"""set -eu
python -m venv --without-pip {VENV}
site=$({PYTHON} -c 'import sysconfig; print(sysconfig.get_path("purelib"))')
hook=$(python -c 'import lab_mp_platform, os; print(os.path.dirname(lab_mp_platform.__file__))')
cp "$hook"/lab[-_]mp[-_]platform.* "$site"/
pip=$(ls /tmp/wheels/pip-*.whl)
{PYTHON} "$pip/pip" install --quiet --no-index --no-cache-dir --disable-pip-version-check \\
  --find-links /tmp/wheels -r /tmp/wheels/requirements.txt
rm -rf /tmp/wheels
"""
BUILD_S = 600


@dataclass(frozen=True)
class LayerImage(matrix.Image):
    """A matrix image whose containers start from its dependency layer (LabContainer uses ``tag``)."""

    layer: str = ""

    @property
    def tag(self) -> str:
        return self.layer


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def layer_tag(cli, image: matrix.Image, resolved: Resolved) -> str:
    base = cli.images.get(image.tag).id
    h = hashlib.sha256("\0".join([RECIPE, base, INSTALL, *sorted(resolved.pins),
                                  *sorted(f"{w.name}:{_sha(w)}" for w in resolved.wheels)]).encode())
    return f"{REPO}:{image.name}-{h.hexdigest()[:16]}"


def _wheels_tar(resolved: Resolved) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for path, name in [*((w, w.name) for w in resolved.wheels)]:
            tar.add(path, arcname=f"wheels/{name}")
        reqs = ("\n".join(resolved.pins) + "\n").encode()
        info = tarfile.TarInfo("wheels/requirements.txt")
        info.size = len(reqs)
        tar.addfile(info, io.BytesIO(reqs))
    return buf.getvalue()


def ensure(cli, image: matrix.Image, resolved: Resolved) -> tuple[str, bool, str]:
    """The layer's tag, whether it was built now, and a problem ("cannot install: ...") if
    the install failed in the image."""
    tag = layer_tag(cli, image, resolved)
    try:
        cli.images.get(tag)
        return tag, False, ""
    except docker.errors.ImageNotFound:
        pass
    box = cli.containers.create(image.tag, command=["sleep", "infinity"], user="0:0", network_mode="none",
                                labels=run_labels(), working_dir="/", pids_limit=512, mem_limit="2g",
                                healthcheck={"test": ["NONE"]})
    try:
        box.start()
        copyin.put(box, "/tmp", _wheels_tar(resolved))
        result = box.exec_run(["timeout", "-s", "KILL", str(BUILD_S), "sh", "-c", INSTALL], demux=True)
        out = ((result.output[0] or b"") + (result.output[1] or b"")).decode(errors="replace")
        if result.exit_code != 0:
            lines = [ln.strip() for ln in out.splitlines() if ln.strip()]
            errors = [ln for ln in lines if ln.startswith("ERROR:")]
            return "", False, "cannot install: " + ((errors or lines or [f"exit {result.exit_code}"])[-1])[:300]
        config = cli.images.get(image.tag).attrs["Config"]
        # The layer is kept for later runs: it takes the container's labels but not the run's
        # pid and host, which would let the next run's sweep (container.sweep_dead) remove it,
        # nor the lab image's built-from, by which scripts/build-images finds a lab image.
        changes = [f"LABEL {DEPS_LABEL}={tag.split(':', 1)[1]}", f"LABEL {matrix.IMAGE_LABEL}={image.name}",
                   f'LABEL {PID_LABEL}="" {HOST_LABEL}="" {matrix.BUILT_FROM_LABEL}=""',
                   f"USER {config.get('User') or '1000:1000'}", f"WORKDIR {config.get('WorkingDir') or '/home/lab'}"]
        box.commit(repository=REPO, tag=tag.split(":", 1)[1], changes=changes)
        return tag, True, ""
    finally:
        force_remove(box)
