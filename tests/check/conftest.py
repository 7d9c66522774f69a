# The projects under projects/ are data for `scripts/check --project` (tests/check/test_project.py),
# whose own suites run inside the containers, never in this test session.
collect_ignore_glob = ["projects/*"]
