"""``python -m labmatrix.check``: scripts/check."""

from ..cli import run
from .command import main

run(main, "check", "check: interrupted; its containers and scratch folders are removed")
