"""The one poll loop: wait until a predicate holds, or fail with one line.

Polling only observes Docker's or a server's state; nothing in a lab is ordered by it
(labs order themselves with Events, Barriers, pipes and Conditions). Modelled on
docker-stacks' tests/utils/wait.py ``wait_until``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from .errors import RunFailed

T = TypeVar("T")


class TimedOut(RunFailed):
    """The predicate did not hold in time: ``<what> not reached within <timeout> s``."""


def until(predicate: Callable[[], T], timeout: float, every: float = 0.5, what: str = "",
          error: type[Exception] = TimedOut) -> T:
    """Call ``predicate`` every ``every`` seconds until it returns something true, and
    return that; after ``timeout`` seconds raise ``error`` naming ``what``. The predicate
    may raise to stop waiting at once (e.g. a server that exited)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise error(f"{what or 'the condition'} not reached within {timeout:g} s")
        time.sleep(every)
