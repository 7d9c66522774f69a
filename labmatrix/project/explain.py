"""From the cells' JUnit XML to the answer: a status per cell, an outcome per test and cell,
the tests whose outcome differs between cells, and for each such test the most specific
explanation labmatrix/check/signatures.toml gives (labmatrix/check/signatures.py), or, for a failure no
signature knows, its first traceback line and where to read the rest; never a guess.

A test's outcome in a cell: passed, failed, error (a fixture or collection error), skipped,
hung (running when the cell reached its bound), or absent (not run: the cell could not
install, collect, or stopped before it).
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import replace

from ..check import signatures
from .run import INPUT, Cell

FAILING = ("failed", "error", "hung")
#: pytest's exit codes (https://docs.pytest.org/en/stable/reference/exit-codes.html)
EXIT = {0: "passed", 1: "tests failed", 2: "interrupted", 3: "internal error", 4: "usage error",
        5: "no tests collected"}
SHORT = {"passed": ".", "failed": "F", "error": "E", "skipped": "s", "hung": "H", "absent": "-"}
METHOD_SHORT = {"fork": "f", "spawn": "s", "forkserver": "fs"}


def tests(cell: Cell) -> dict[str, dict]:
    """The cell's tests from its JUnit XML: id -> {outcome, message, text, file, line}."""
    found: dict[str, dict] = {}
    text = cell.result.get("junit")
    if text:
        try:
            root = ET.fromstring(text)
        except ET.ParseError:
            root = None
        for case in root.iter("testcase") if root is not None else ():
            classname, name = case.get("classname", ""), case.get("name", "")
            file = case.get("file") or ""
            test_id = _test_id(classname, name, file)
            item = {"outcome": "passed", "message": "", "text": "", "file": file, "line": case.get("line")}
            for kind in ("failure", "error", "skipped"):
                node = case.find(kind)
                if node is not None:
                    item["outcome"] = {"failure": "failed", "error": "error", "skipped": "skipped"}[kind]
                    item["message"] = node.get("message", "") or ""
                    item["text"] = node.text or ""
                    break
            item["output"] = "\n".join((case.findtext(s) or "") for s in ("system-out", "system-err"))
            if item["outcome"] == "error" and found.get(test_id, {}).get("outcome") == "failed":
                continue  # a teardown error after a failure: the failure is the outcome
            found[test_id] = item
    hung = running(cell)
    if hung and hung not in found:
        found[hung] = {"outcome": "hung", "message": "", "text": "", "file": hung.split("::")[0], "line": None,
                       "output": ""}
    return found


def _test_id(classname: str, name: str, file: str) -> str:
    """pytest's node id from a JUnit testcase (xunit1 gives the file)."""
    if file:
        module = file[:-3].replace("/", ".") if file.endswith(".py") else file
        rest = classname[len(module):].lstrip(".") if classname.startswith(module) else ""
        return "::".join(p for p in (file, *(rest.split(".") if rest else ()), name) if p)
    return f"{classname}::{name}" if classname else name


def progress(cell: Cell) -> list[dict]:
    lines = (cell.result.get("progress") or "").splitlines()
    return [json.loads(line) for line in lines if line.startswith("{")]


def running(cell: Cell) -> str:
    """The test that was running when the cell was stopped at its bound ("" if none)."""
    if cell.result.get("outcome") not in ("timeout", "deadlock"):
        return ""
    started = [e["nodeid"] for e in progress(cell) if e["event"] == "start"]
    finished = {e["nodeid"] for e in progress(cell) if e["event"] == "finish"}
    left = [n for n in started if n not in finished]
    return left[-1] if left else ""


def cell_status(cell: Cell, bound: float) -> str:
    """One line about the cell."""
    if cell.problem:
        return cell.problem
    r = cell.result
    counts = Counter(t["outcome"] for t in tests(cell).values())
    summary = ", ".join(f"{counts[k]} {k}" for k in ("passed", "failed", "error", "skipped", "hung") if counts[k]) \
        or "no tests"
    if r["outcome"] in ("timeout", "deadlock"):
        where = running(cell)
        finished = [e["nodeid"] for e in progress(cell) if e["event"] == "finish"]
        at = (f" in {where}" if where else f" after its last test ({finished[-1]}) finished" if finished
              else " before any test ran")
        return f"stopped at the {bound:g} s bound ({r['outcome']}){at}; {summary}"
    code = r.get("returncode")
    if code in EXIT:
        if code == 5:
            return "no tests collected"
        if code in (2, 3, 4) and not counts.get("passed") and not counts.get("failed"):
            return f"{EXIT[code]}: {_pytest_error(cell)}"
        return f"{summary} in {r['duration_s']:.1f} s"
    return f"{r['outcome']} (exit {code}): {_pytest_error(cell)}; {summary}"


def _pytest_error(cell: Cell) -> str:
    """pytest's own first error (collection, usage), from its output when no test says it."""
    for t in tests(cell).values():
        if t["outcome"] == "error":
            return first_line(t)
    text = cell.result.get("stdout", "") + "\n" + cell.result.get("stderr", "")
    for pattern in (r"^E\s+(\S.*)$", r"^(ERROR: .*)$", r"^(\w+Error: .*)$"):
        m = re.search(pattern, text, re.MULTILINE)
        if m:
            return m.group(1).strip()[:200]
    lines = [ln for ln in text.splitlines() if ln.strip()]
    return lines[-1][:200] if lines else "no output"


def first_line(test: dict) -> str:
    """The first line of a failure that says what went wrong: pytest's ``E`` lines, else its message."""
    for line in test["text"].splitlines():
        if line.startswith("E   "):
            return line[1:].strip()[:200]
    return (test["message"] or test["outcome"]).splitlines()[0][:200] if (test["message"] or test["outcome"]) else ""


def where(test: dict) -> str:
    """file:line of the failure (pytest's last ``path:line: Type`` line), else the test's own."""
    found = re.findall(r"^(\S+\.py):(\d+): ", test["text"], re.MULTILINE)
    if found:
        return f"{found[-1][0]}:{found[-1][1]}"
    return f"{test['file']}:{int(test['line']) + 1}" if test.get("line") not in (None, "") else test["file"]


def table(cells: list[Cell]) -> tuple[dict[str, dict[str, dict]], list[str]]:
    """Outcome per (test, cell name), and the tests whose outcome differs between the cells that ran."""
    per_cell = {c.name: tests(c) for c in cells}
    names = list(dict.fromkeys(t for found in per_cell.values() for t in found))
    ran = [c for c in cells if not c.problem]
    grid = {t: {c.name: per_cell[c.name].get(t, {"outcome": "absent"}) for c in cells} for t in names}
    differ = [t for t in names if len({grid[t][c.name]["outcome"] for c in ran}) > 1]
    return grid, differ


def _facts(test: str, grid: dict, cells: list[Cell]) -> set[str]:
    """What the test's pattern over the cells shows: split_by_method (passes under every fork
    cell, fails under every spawn/forkserver one), split_by_gil (fails exactly in the
    free-threaded cells with the GIL off)."""
    facts = set()
    ran = [c for c in cells if not c.problem and grid[test][c.name]["outcome"] != "absent"]
    bad = {c.name for c in ran if grid[test][c.name]["outcome"] in FAILING}
    fork = {c.name for c in ran if c.method in signatures.FORK_LIKE}
    if bad and fork and bad == {c.name for c in ran} - fork:
        facts.add("split_by_method")
    off = {c.name for c in ran if c.gil == "off"}
    if bad and off and bad == off:
        facts.add("split_by_gil")
    return facts


def explain(cells: list[Cell], grid: dict, differ: list[str]) -> dict[str, dict]:
    """For each differing test: per failing cell its signatures and explanation; the test's
    summary (the most common explanation)."""
    out = {}
    for test in differ:
        facts = _facts(test, grid, cells)
        per_cell = {}
        for cell in cells:
            t = grid[test][cell.name]
            if t["outcome"] not in FAILING:
                continue
            seen = signatures.Evidence(
                stderr="\n".join((t["message"], t["text"], t["output"])), stdout=t["output"],
                outcome=_outcome(t, cell), effective_method=cell.method,
                events=cell.result.get("events", []), pids_refused=cell.result.get("pids_refused", 0))
            found = signatures.explain(seen, signatures.cell_facts(replace(seen, stdout="")) | facts, INPUT)
            if found:
                text = " ".join(f"{s.title}: {s.explain} ({s.docs})" for s in found)
                brief = "; ".join(f"{s.title} ({s.docs})" for s in found)
            else:
                brief = text = (f"not recognised: {first_line(t) or t['outcome']} (at {where(t)}; "
                                "the whole traceback is in check.html and check.json)")
                if t["outcome"] == "hung":
                    brief = text = ("not recognised: still running at the cell's bound "
                                    f"(threads waiting in: {', '.join(w for w in cell.result.get('waits', []) if w and w != '0') or 'unknown'})")
            per_cell[cell.name] = {"signatures": [s.id for s in found], "explanation": text, "brief": brief,
                                   "first_line": first_line(t), "where": where(t)}
        common = Counter(v["brief"] for v in per_cell.values()).most_common(1)
        out[test] = {"cells": per_cell, "brief": common[0][0] if common else _non_failure(test, grid, cells),
                     "facts": sorted(facts)}
    return out


def _non_failure(test: str, grid: dict, cells: list[Cell]) -> str:
    """A test that differs without failing anywhere (skipped in some cells, say)."""
    reasons = {grid[test][c.name]["message"] for c in cells if grid[test][c.name]["outcome"] == "skipped"}
    if reasons:
        return "skipped in some cells: " + "; ".join(sorted(r for r in reasons if r))[:200]
    return "not run in some cells (see each cell's line)"


def _outcome(t: dict, cell: Cell) -> str:
    if t["outcome"] == "hung":
        return cell.result.get("outcome", "timeout")
    crash = re.findall(r"^\S+\.py:\d+: (\w+(?:\.\w+)*)\s*$", t["text"], re.MULTILINE)  # pytest's "path:line: Type"
    m = re.match(r"(\w+(?:\.\w+)*)(?::|$)", t["message"] or "")
    kind = (crash[-1] if crash else m.group(1) if m else t["outcome"]).rsplit(".", 1)[-1]
    return f"error:{kind}"
