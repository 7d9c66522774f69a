"""The one tail of every ``python -m labmatrix.<command>``: its exit status, and Ctrl-C as
exit 130 with no traceback (the command's ``with`` blocks have removed what it started)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import NoReturn


def run(main: Callable[[list[str]], int], interrupted: str = "") -> NoReturn:
    """``sys.exit(main(argv))``; on Ctrl-C print ``interrupted`` (if any) and exit 130."""
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        if interrupted:
            print(interrupted, file=sys.stderr)
        sys.exit(130)
