"""A pytest plugin: which test is running, so that a cell stopped at its bound can say
which test hung (pytest writes its JUnit XML only when the session ends). One JSON line
per event to ``$CHECK_PROGRESS``. Stdlib only; Python 3.9+."""

import json
import os

_PATH = os.environ.get("CHECK_PROGRESS")
_ROOT = os.getpid()


def _write(**item):
    if not _PATH or os.getpid() != _ROOT:  # a forked child running pytest's hooks is not the session
        return
    try:
        fd = os.open(_PATH, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, (json.dumps(item) + "\n").encode())
        finally:
            os.close(fd)
    except OSError:
        pass


def pytest_collection_finish(session):
    _write(event="collected", count=len(session.items))


def pytest_runtest_logstart(nodeid, location):
    _write(event="start", nodeid=nodeid)


def pytest_runtest_logfinish(nodeid, location):
    _write(event="finish", nodeid=nodeid)


def pytest_sessionfinish(session, exitstatus):
    _write(event="exit", status=int(exitstatus))
