"""Why a checked cell failed or differs: the known signatures of signatures.toml.

The table is data (labmatrix/check/signatures.toml); this module loads it, works out the
facts a signature may ask for, and matches. It also normalises output so that cells which
agree up to pids, addresses, temporary paths and timings compare equal. Stdlib only.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import tomllib

if TYPE_CHECKING:
    from .command import CheckCell

TABLE = Path(__file__).resolve().parent / "signatures.toml"
FACTS = {"fork_with_threads", "direct_fork", "repeated_lines", "pids_limit", "split_by_method", "reimport",
         "split_by_gil"}


class Observed(Protocol):
    """What a signature reads of a failing run: a check cell (command.CheckCell), or one
    test's failure in a project's suite (Evidence)."""

    @property
    def stdout(self) -> str: ...
    @property
    def stderr(self) -> str: ...
    @property
    def outcome(self) -> str: ...
    @property
    def effective_method(self) -> str: ...
    @property
    def events(self) -> list[dict]: ...
    @property
    def pids_refused(self) -> int: ...


@dataclass(frozen=True)
class Evidence:
    """One test's failure in one cell of a project's suite (labmatrix/project/explain.py)."""

    stdout: str
    stderr: str
    outcome: str
    effective_method: str
    events: list[dict] = field(default_factory=list)
    pids_refused: int = 0


KEYS = {"id", "title", "explain", "docs", "stderr", "stdout", "outcome", "method", "fact", "unless"}
FORK_LIKE = {"fork"}


@dataclass(frozen=True)
class Signature:
    id: str
    title: str
    explain: str
    docs: str
    stderr: re.Pattern | None = None
    stdout: re.Pattern | None = None
    outcome: re.Pattern | None = None
    method: tuple[str, ...] = ()
    fact: tuple[str, ...] = ()
    unless: tuple[str, ...] = ()

    def matches(self, cell: Observed, facts: set[str], matched: list[str]) -> bool:
        return ((self.stderr is None or bool(self.stderr.search(cell.stderr)))
                and (self.stdout is None or bool(self.stdout.search(cell.stdout)))
                and (self.outcome is None or bool(self.outcome.match(cell.outcome)))
                and (not self.method or cell.effective_method in self.method)
                and set(self.fact) <= facts
                and not (set(self.unless) & set(matched) or ("*" in self.unless and matched)))


@cache
def load(src: str, path: Path = TABLE) -> tuple[Signature, ...]:
    """The table, in order, with ``{src}`` (the script folder in the container) filled in."""
    found = []
    for entry in tomllib.loads(path.read_text())["signature"]:
        unknown = set(entry) - KEYS
        missing = {"id", "title", "explain", "docs"} - set(entry)
        if unknown or missing or set(entry.get("fact", ())) - FACTS:
            raise ValueError(f"{path.name}: signature {entry.get('id')!r}: unknown {sorted(unknown)}, "
                             f"missing {sorted(missing)}, facts {entry.get('fact')}")
        found.append(Signature(
            id=entry["id"], title=entry["title"], explain=entry["explain"], docs=entry["docs"],
            stderr=_regex(entry.get("stderr"), src), stdout=_regex(entry.get("stdout"), src),
            outcome=_regex(entry.get("outcome"), src), method=tuple(entry.get("method", ())),
            fact=tuple(entry.get("fact", ())), unless=tuple(entry.get("unless", ()))))
    return tuple(found)


def _regex(text: str | None, src: str) -> re.Pattern | None:
    return None if text is None else re.compile(text.replace("{src}", re.escape(src)), re.MULTILINE)


# --------------------------------------------------------------------------- normalising

_TIME_UNIT = r"(?:ns|us|µs|ms|s|sec|secs|seconds?|minutes?)"
_RULES = [
    (re.compile(r"0x[0-9a-fA-F]+"), "0x…"),
    (re.compile(r"\b(pid[= :]+)\d+", re.IGNORECASE), r"\1…"),
    (re.compile(r"/home/lab/scratch/run-\w+/\d+-[^/\s'\"]+"), "<cwd>"),
    (re.compile(r"(?<![\w.])/tmp/[^\s'\",)]*"), "<tmp>"),
    (re.compile(r"/(?:pymp|mp|psm|wnsm)[-_][\w]+"), "/<mp-name>"),
    (re.compile(r"\b\d+(?:\.\d+)?\s?" + _TIME_UNIT + r"\b"), "<time>"),
    (re.compile(r"\b\d+\.\d{3,}\b"), "<float>"),
]
_STDLIB_FRAME = re.compile(r'^\s*File "([^"]*/lib/python3[^"]*|<frozen [^"]*)"')  # stdlib, site-packages
_NOISE = re.compile(r"^\s*([\^~]+|\.\.\.<\d+ lines>\.\.\.)\s*$")


def normalise(text: str, pids: set[int], method: str = "") -> list[str]:
    """The text's lines with pids, addresses, temp paths, timings and the start method in
    force replaced, and the interpreter's own traceback frames (their line numbers differ
    per version) left out."""
    lines, skip_source = [], False
    method_re = re.compile(rf"(?<![\w-]){method}(?![\w-])") if method else None
    # Container pids are small numbers: a known pid is replaced only where it reads as one
    # (a line of its own, or after "pid", "process", "child", ... on the same line).
    alts = "|".join(str(p) for p in sorted(pids, reverse=True))
    pid_re = re.compile(rf"(?i)(^\s*|(?:pid|process|worker|child|parent)\D{{0,20}}?)\b({alts})\b") if pids else None
    for line in text.splitlines():
        if _STDLIB_FRAME.match(line):
            skip_source = True
            continue
        if skip_source and line.startswith("    "):  # the source line(s) of a skipped frame
            continue
        skip_source = False
        if _NOISE.match(line) or not line.strip():
            continue
        if pid_re is not None:
            line = pid_re.sub(r"\1<pid>", line)
        for pattern, repl in _RULES:
            line = pattern.sub(repl, line)
        if method_re is not None:
            line = method_re.sub("<method>", line)
        lines.append(line.rstrip())
    return lines


# --------------------------------------------------------------------------- facts


def cell_facts(cell: Observed) -> set[str]:
    """What one cell's own events and output show."""
    facts = set()
    forks = [e for e in cell.events if e.get("event") == "fork"]
    if any(e.get("threads", 0) > 1 for e in forks):
        facts.add("fork_with_threads")
    if any("/multiprocessing/" not in e.get("caller", "") for e in forks):
        facts.add("direct_fork")
    if cell.pids_refused > 0:
        facts.add("pids_limit")
    counts = Counter(line for line in cell.stdout.splitlines() if line.strip())
    if any(n > 1 for n in counts.values()):
        facts.add("repeated_lines")
    return facts


def split_facts(group: list[CheckCell], reference: list[CheckCell], lines: list[str], ref_lines: list[str]) -> set[str]:
    """What the cell's group shows against the reference group: split_by_method when one
    group is all fork and the other all spawn/forkserver (both ran to the end),
    split_by_gil when one group is all GIL-off cells and the other has none, reimport
    when one group's output is the other's with some of its lines again."""
    facts = set()
    kinds = {frozenset(c.effective_method in FORK_LIKE for c in g) for g in (group, reference)}
    ran = all(c.outcome == "ok" for c in (*group, *reference))
    if ran and kinds == {frozenset({True}), frozenset({False})}:
        facts.add("split_by_method")
    if {frozenset(c.gil == "off" for c in g) for g in (group, reference)} == {frozenset({True}), frozenset({False})}:
        facts.add("split_by_gil")  # one group is exactly the free-threaded cells with the GIL off
    mine, theirs = Counter(lines), Counter(ref_lines)
    for big, small in ((mine, theirs), (theirs, mine)):
        extra = big - small
        if extra and not (small - big) and set(extra) <= set(small):
            facts.add("reimport")
    return facts


def explain(cell: Observed, facts: set[str], src: str) -> list[Signature]:
    matched: list[Signature] = []
    for sig in load(src):
        if sig.matches(cell, facts, [m.id for m in matched]):
            matched.append(sig)
    return matched
