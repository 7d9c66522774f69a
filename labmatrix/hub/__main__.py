"""``python -m labmatrix.hub``: scripts/hub."""

from ..cli import run
from .command import main

run(main, "hub", "hub: interrupted; what this run started is removed")
