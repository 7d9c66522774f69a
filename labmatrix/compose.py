"""A workshop's compose project run from code, beside an attendee's: its environment and
``scripts/workshop`` (or ``docker compose``) under it.

A project gets a name, an env file and ports of its own, and the driver labels of this
process (compose.yaml's ``LABMATRIX_DRIVER_*`` variables, ``container.run_labels``), so a
project started by a test or a benchmark never touches an attendee's workshop, its
``.env`` or its ``work`` volume, and ``container.sweep_dead`` removes it if its run dies.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from . import matrix
from .container import run_labels
from .envfile import port_var

WORKSHOP = matrix.ROOT / "scripts" / "workshop"
PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"


def project_env(project: str, env_file: Path, ports: dict[str, int] | None = None) -> dict[str, str]:
    """The environment of a project: its name, env file, ports and driver labels, and
    nothing inherited that would change what Compose interpolates."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PORT_", "COMPOSE_", "JUPYTER_TOKEN", "WORKSHOP_"))}
    env.update(COMPOSE_PROJECT_NAME=project, WORKSHOP_ENV_FILE=str(env_file))
    env.update({var: run_labels()[label] for label, var in matrix.RUN_LABEL_ENV.items()})
    for name, port in (ports or {}).items():
        env[port_var(matrix.get_image(name))] = str(port)
    return env


def compose_run(cmd: list[str], env: dict | None = None, timeout: float = 120,
                input: str | None = None) -> subprocess.CompletedProcess:
    """Run ``cmd`` (scripts/workshop or docker compose) in the repository, output captured."""
    return subprocess.run(cmd, cwd=matrix.ROOT, env=env, capture_output=True, text=True, timeout=timeout,
                          input=input)
