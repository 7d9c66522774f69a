"""Every lab, in every image, under every start method, against its expectation."""

import pytest


def test_lab(matrix_cell, matrix_results):
    result = matrix_results[matrix_cell]
    if not result.ok:
        pytest.fail(result.explain(), pytrace=False)
