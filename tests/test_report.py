"""The report renders from a fixture JSON, with no run and no Docker."""

import shutil
import subprocess
import sys

from labmatrix import matrix

FIXTURE = matrix.ROOT / "tests" / "fixtures" / "matrix.json"


def render(tmp_path):
    shutil.copy(FIXTURE, tmp_path / "matrix.json")
    proc = subprocess.run([sys.executable, "-m", "labmatrix.report", str(tmp_path / "matrix.json")],
                          cwd=matrix.ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return tmp_path


def test_markdown_marks_mismatches_and_differences(tmp_path):
    md = (render(tmp_path) / "matrix.md").read_text()
    assert "### Lab matrix: 11/12 cells as expected" in md
    assert "| main_guard | default | `ok` | `error:ConnectionResetError` Δ |" in md
    assert "| lock_basics | fork | `ok` | `deadlock` ✗ |" in md
    assert "| start_cost | fork | `ok` | `ok` |" in md  # same everywhere: no mark
    assert "- **main_guard**: 3.14 forkserver preloads __main__" in md


def test_html_is_self_contained_and_escapes_output(tmp_path):
    html = (render(tmp_path) / "matrix.html").read_text()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert(1)" not in html
    assert 'id="t-main_guard-py3.14-default"' in html
    assert "3.14 forkserver preloads __main__" in html
    assert 'src="http' not in html and 'href="http' not in html  # no external assets


def test_start_cost_plot(tmp_path):
    png = render(tmp_path) / "start-cost.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_missing_json_is_one_line(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "labmatrix.report", str(tmp_path / "none.json")],
                          cwd=matrix.ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1  # bad input (labmatrix/errors.py)


def test_start_costs_are_five_per_image(tmp_path):
    """thread and interpreter from interpreters_parallel's default run, a process per
    method from start_cost; what an image lacks (an interpreter before 3.14) is left out."""
    from labmatrix import report

    def cell(lab, image, method, **obs):
        return {"lab": lab, "target": image, "method": method, "obs": obs}
    cells = [cell("interpreters_parallel", "py3.14", "default", thread_start_ms_median=0.1, thread_start_ms_min=0.05,
                  interpreter_start_ms_median=12.0, interpreter_start_ms_min=11.0),
             cell("interpreters_parallel", "py3.13", "default", thread_start_ms_median=0.1, thread_start_ms_min=0.05),
             *[cell("start_cost", image, method, start_ms_median=ms, start_ms_min=ms / 2)
               for image in ("py3.13", "py3.14") for method, ms in (("fork", 2.0), ("forkserver", 4.0), ("spawn", 80.0))]]
    costs = report.start_costs(cells)
    assert list(costs["py3.14"]) == ["thread", "interpreter", "fork", "forkserver", "spawn"]
    assert list(costs["py3.13"]) == ["thread", "fork", "forkserver", "spawn"]
    assert costs["py3.14"]["spawn"] == (80.0, 40.0)
    md = report.start_cost_markdown(cells, {"storage_driver": "fuse-overlayfs"})
    assert "| py3.13 | 0.10 (0.05) | n/a | 2.00 (1.00) | 4.00 (2.00) | 80.00 (40.00) |" in md
    assert "Docker storage driver: `fuse-overlayfs`: every file" in md
    assert report.start_cost_plot(cells, tmp_path / "start-cost.png", "fuse-overlayfs")


def test_tables_are_grouped_by_axes_and_a_lab_without_the_method_axis_is_one_row(tmp_path):
    """threads (no method axis: one default row), processes, both; the axes come from the
    run (matrix.json's run.axes), and a lab's GIL-on column exists only with the gil axis."""
    from labmatrix import report

    def cell(lab, image, method, gil=""):
        return {"lab": lab, "target": image, "method": method, "gil": gil, "outcome": "ok", "obs": {}, "why": {},
                "expected": {"outcome": "ok"}, "problems": [], "python": "3.13.5", "default_method": "fork",
                "platform": "linux", "returncode": 0, "duration_s": 0.1, "stdout": "", "stderr": ""}
    cells = [cell("lock_basics", "py3.13", "default"), cell("lock_basics", "py3.13t", "default", "off"),
             cell("races", "py3.13t", "default", "off"), cell("races", "py3.13t", "default", "on"),
             *[cell("main_guard", image, m, gil) for image, gil in (("py3.13", ""), ("py3.13t", "off"))
               for m in matrix.METHODS],
             *[cell("gil_switch", "py3.13t", m, gil) for m in matrix.METHODS for gil in ("off", "on")]]
    axes = {"lock_basics": [], "races": ["gil"], "main_guard": ["method"], "gil_switch": ["method", "gil"]}
    data = {"run": {"axes": axes}, "cells": cells}
    md = report.markdown(report.build(data))
    threads, processes, both = (md.split(f"#### {title}")[1].split("####")[0] for title in
                                ("Threads", "Processes", "Both"))
    assert "| lock_basics | default | `ok` | `ok` |  |" in threads  # py3.13, py3.13t gil=off, (gil=on)
    assert "| races | default |  | `ok` | `ok` |" in threads
    assert threads.count("| lock_basics |") == 1 and "main_guard" not in threads
    assert processes.count("| main_guard |") == 4 and "gil=on" not in processes
    assert both.count("| gil_switch |") == 4 and "py3.13t gil=on" in both
    html = report.html(report.build(data))
    assert [html.count(f'<h2 id="{key}">') for key in ("threads", "processes", "both")] == [1, 1, 1]
