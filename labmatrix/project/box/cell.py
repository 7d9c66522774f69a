"""Become pytest in a writable copy of the project (run by project_runner.py as the cell's
"script", so the cell's bound, process group and start-method hook apply to pytest).

    python cell.py INPUT JUNIT [PYTEST ARGS...]

The copy is made in the cell's fresh working folder; the input (a read-only copy of the
user's folder) is never written. Stdlib only; Python 3.9+.
"""

import os
import shutil
import sys

src, junit, args = sys.argv[1], sys.argv[2], sys.argv[3:]
shutil.copytree(src, "project", symlinks=True)
os.chdir("project")
os.environ["CHECK_ROOT"] = "1"  # the hook's "root" event belongs to pytest's process
# -p no:cacheprovider: nothing of a run is kept; the JUnit XML is the outcome per test
# (https://docs.pytest.org/en/stable/how-to/output.html#creating-junitxml-format-files),
# with each failing test's captured output (junit_logging=all), where a child's traceback lands.
os.execv(sys.executable, [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "check_progress",
                          f"--junitxml={junit}", "-o", "junit_family=xunit1", "-o", "junit_logging=all",
                          "-o", "junit_log_passing_tests=false", *args])
