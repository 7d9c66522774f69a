"""Report the GIL as a fresh interpreter sees it; print one dict literal.

    python [-X gil=0|1] gil_probe.py [import]

``import`` also imports ``lab_singlephase`` (the labs' single-phase C extension) and reports
the GIL after it and the warnings the import raised.
"""
import sys
import warnings


def gil():
    enabled = getattr(sys, "_is_gil_enabled", None)  # new in 3.13 (PEP 703)
    return enabled() if enabled else "n/a"


report = {"gil": gil()}
if sys.argv[1:] == ["import"]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            import lab_singlephase  # noqa: F401
        except ImportError:
            report["ext"] = "not built"
        else:
            report["ext"] = "imported"
    report["gil_after"] = gil()
    report["warnings"] = [(w.category.__name__, str(w.message)) for w in caught]
print(repr(report))
