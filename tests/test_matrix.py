"""Every lab, in every image, under every start method, against its expectation."""

from conftest import assert_cell


def test_lab(matrix_cell, matrix_results):
    assert_cell(matrix_results[matrix_cell])
