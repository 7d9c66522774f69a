"""Host-only layer: every lab on the host interpreter under every method, no Docker."""

import pytest


def test_host_lab(host_cell, host_results):
    result = host_results[host_cell]
    if not result.ok:
        pytest.fail(result.explain(), pytrace=False)
