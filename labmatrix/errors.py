"""One error type for every host-side command: a problem the user can fix, said in one line.

Each error carries the command's exit status (documented once, in README.md):

    1  a run failed (a cell, a fetch, a hub that did not come up) or --fail-on said so
    2  bad input (an argument, a selection, a .env or matrix.toml entry)
    3  a missing environment (no Docker daemon, an image not built)
    130  Ctrl-C (cli.run; what the command started is removed)

``cli.run`` prints ``prog: message`` and exits with the code: no command prints its own
errors. Modelled on cibuildwheel's ``errors.FatalError.return_code``.
"""

from __future__ import annotations

from typing import ClassVar


class UserError(Exception):
    """A problem the user can fix; reported as one line, no traceback."""

    exit_code: ClassVar[int] = 1

    def __init__(self, message: str, exit_code: int | None = None):
        super().__init__(message)
        if exit_code is not None:
            self.code = exit_code

    @property
    def status(self) -> int:
        return getattr(self, "code", self.exit_code)


class RunFailed(UserError):
    """What was asked ran and failed (exit 1)."""

    exit_code = 1


class BadInput(UserError):
    """An argument or a setting that cannot be used (exit 2)."""

    exit_code = 2


class MissingEnvironment(UserError):
    """Something the command needs is not there: Docker, an image (exit 3)."""

    exit_code = 3
