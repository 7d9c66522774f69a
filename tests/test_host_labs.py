"""Host-only layer: every lab on the host interpreter under every method, no Docker."""

from conftest import assert_cell


def test_host_lab(host_cell, host_results):
    assert_cell(host_results[host_cell])
