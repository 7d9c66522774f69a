"""The one plain-text table of the terminal: scripts/lab's and scripts/check's."""

from __future__ import annotations


def text_table(rows: list[list[str]]) -> list[str]:
    """Rows of cells as lines, each column as wide as its widest cell (the first row is the header)."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(text.ljust(w) for text, w in zip(row, widths)).rstrip() for row in rows]
