"""tests/check/projects/ holds small projects with test suites of their own: data for
scripts/check --project, never collected by this suite."""

collect_ignore = ["projects"]
