"""JupyterHub for a class (scripts/hub), in its own image (images/hub/).

- :mod:`.command`: ``scripts/hub`` up and down, and the files rendered from matrix.toml for
  the hub (profiles.json, deploy/z2jh.yaml);
- :mod:`.client`: an attendee through the JupyterHub REST API (the hub tests, bench-hub);
- :mod:`.bench`: ``scripts/bench-hub``, N attendees at once.
"""
