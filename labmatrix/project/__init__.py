"""scripts/check --project: a project's test suite in every image, under every start method
and GIL mode, each differing test explained (see labmatrix/project/command.py)."""
