"""Ctrl-C a command the way a user does, once it has got somewhere."""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Callable

from labmatrix import matrix, wait
from labmatrix.matrix import PID_LABEL


def interrupt_when(cmd: list[str], ready: Callable[[dict], object], timeout: float,
                   what: str) -> tuple[subprocess.CompletedProcess, dict]:
    """Start ``cmd``, wait until ``ready(filters)`` holds (``filters`` select the containers
    of the command's pid), send SIGINT; the finished process and those filters."""
    proc = subprocess.Popen(cmd, cwd=matrix.ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    mine = {"label": f"{PID_LABEL}={proc.pid}"}
    try:
        wait.until(lambda: ready(mine), timeout, every=0.1, what=what)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err), mine
