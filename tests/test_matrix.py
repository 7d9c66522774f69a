"""Every lab, in every image, under every start method, against its expectation; with
--all-axes, every cell that a lab's axes drop against the cell kept in its place."""

import pytest

from labmatrix.session import agreement


def test_lab(matrix_cell, matrix_results):
    result = matrix_results[matrix_cell]
    if not result.ok:
        pytest.fail(result.explain(), pytrace=False)


def test_axis_agrees(dropped_cell, matrix_results, lab_session):
    """Only with --all-axes: the axis the lab does not declare changes neither its outcome
    nor its observations (its measurements aside)."""
    kept = dropped_cell.kept()
    found = {c: matrix_results[c] if c in matrix_results else lab_session.run([c])[c] for c in (kept, dropped_cell)}
    compared, differ = agreement(found)
    assert compared == 1
    if differ:
        pytest.fail("\n".join(differ[dropped_cell]), pytrace=False)
