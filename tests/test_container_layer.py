"""The host side's shared pieces that need no Docker: the one poll loop, the one error
type and its exit codes through the one command tail."""

import subprocess
import sys

import pytest

from labmatrix import errors, matrix, wait


def test_until_returns_the_first_true_value_and_fails_in_one_line():
    values = iter([0, "", None, "ready"])
    assert wait.until(lambda: next(values), 5, every=0.001) == "ready"
    with pytest.raises(wait.TimedOut, match=r"^the server's answer not reached within 0\.05 s$"):
        wait.until(lambda: False, 0.05, every=0.01, what="the server's answer")


def test_until_stops_at_once_when_the_predicate_raises():
    def gone():
        raise errors.RunFailed("the hub stopped at start")
    with pytest.raises(errors.RunFailed, match="stopped at start"):
        wait.until(gone, 60)


@pytest.mark.parametrize(("error", "code"), [(errors.RunFailed, 1), (errors.BadInput, 2),
                                             (errors.MissingEnvironment, 3)])
def test_every_command_ends_an_error_with_one_line_and_its_code(error, code):
    script = ("from labmatrix import cli, errors\n"
              "def main(argv):\n"
              f"    raise errors.{error.__name__}('what is wrong; how to fix it')\n"
              "cli.run(main, 'demo')\n")
    proc = subprocess.run([sys.executable, "-c", script], cwd=matrix.ROOT, capture_output=True, text=True, timeout=60)
    assert (proc.returncode, proc.stderr) == (code, "demo: what is wrong; how to fix it\n")


def test_an_error_may_name_its_own_code():
    assert errors.UserError("x").status == 1 and errors.UserError("x", exit_code=2).status == 2
