"""scripts/hub: JupyterHub for a whole class, in its own image (images/hub/)."""

# The hub image's Debian suite and Python (its lock is requirements/hub.txt).
HUB_SUITE = "trixie"
HUB_PYTHON = "3.13"
