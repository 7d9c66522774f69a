"""The one tail of every host-side ``python -m labmatrix.<command>``: its exit status, a
:class:`~labmatrix.errors.UserError` as ``prog: message`` with the error's code, and Ctrl-C
as exit 130 with no traceback (the command's ``with`` blocks have removed what it started)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import NoReturn

from .errors import UserError


def run(main: Callable[[list[str]], int], prog: str, interrupted: str = "") -> NoReturn:
    """``sys.exit(main(argv))``; a UserError is one line on stderr; on Ctrl-C print
    ``interrupted`` (if any) and exit 130."""
    try:
        sys.exit(main(sys.argv[1:]))
    except UserError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        sys.exit(exc.status)
    except KeyboardInterrupt:
        if interrupted:
            print(interrupted, file=sys.stderr)
        sys.exit(130)
