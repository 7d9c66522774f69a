"""``scripts/check``: a user's script across the matrix, each difference explained.

- :mod:`.command`: the command (parse, run in a ContainerPool, group, explain, report);
- :mod:`.signatures` and ``signatures.toml``: what a failing or differing cell's output means;
- ``box/``: what runs inside the containers (stdlib only): the runner and the start-method hook;
- :mod:`.bench`: ``scripts/bench-check``.
"""
