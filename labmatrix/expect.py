"""Expectations: hand-written rules next to each lab, matched against a real run.

``labs/<lab>.expect.toml`` holds a list of ``[[rule]]`` tables. A rule without ``when``
applies everywhere. Rules are applied in order and a later matching rule overrides the
keys it names, so a file reads as "the usual result, then what differs and why".

    [[rule]]
    outcome = "ok"
    obs = { child_saw_global = 42 }

    [[rule]]
    when = { method = ["spawn", "forkserver"] }
    why = "spawn and forkserver children re-import the module, so they see its import-time value"
    obs = { child_saw_global = 0 }

Selectors in ``when`` (all given ones must match):

* ``python``: a PEP 440 specifier on the interpreter's full version, e.g. ``">=3.13.8"``.
* ``method``: the *effective* start method; a ``default`` run counts as the platform default.
* ``requested``: the method named on the command line (``default`` included).
* ``platform``: ``linux``, ``macos`` or ``windows`` (the spawn image emulates ``macos``).
* ``gil``: ``off`` or ``on`` on a free-threaded build (PEP 703: GIL off by default, on with
  ``PYTHON_GIL=1``), ``always`` on a GIL build. ``["on", "always"]`` means "a GIL runs",
  ``["off", "on"]`` means "a free-threaded build".

Every rule with ``when`` must carry a one-line ``why``; the report shows it.

Before its rules, a file declares the lab's **axes**: the dimensions of the matrix that
can change its result (no default; docs/axes.md)::

    axes = ["method", "gil"]   # or ["method"], ["gil"], []

* ``method``: the lab starts processes, so the start method can change what it shows. A
  lab without it runs once per image, under the image's default (its cells are
  ``<lab>-<image>-default``), and must start no process: every such cell expects
  ``process_starts`` (labkit counts them) to be 0.
* ``gil``: threads of the lab run Python at once, so a free-threaded build's GIL mode can
  change what it shows. A lab without it runs on a free-threaded image in that image's
  default mode only (GIL off).

``varies`` lists the observations that are measurements (timings, counts of a race):
``--all-axes`` compares every other observation of a dropped cell with the kept one.
"""

import fnmatch
from dataclasses import dataclass, field
from pathlib import Path

import tomllib
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from .matrix import LABS_DIR

SELECTORS = {"python", "method", "requested", "platform", "gil"}
GIL_VALUES = {"off", "on", "always"}
#: The axes a lab may declare, and the top-level keys of an expect.toml.
AXES = ("method", "gil")
KEYS = {"axes", "varies", "rule"}
#: The observation labkit adds to every run: how many processes the lab's process started.
STARTS = "process_starts"
#: Observations that are the axis itself, never compared across it (labkit's own).
AXIS_OBS = {"requested_method"}


class ExpectationError(ValueError):
    """A lab's expect.toml is missing or malformed: one line that names the file and the fix."""

# Not the lab's business: a method the platform lacks is reported as such (Windows has
# only spawn: "Contexts and start methods" in the multiprocessing docs).
UNAVAILABLE = {"windows": {"fork", "forkserver"}}


def platform_default(python: str, platform: str) -> str:
    """The start method CPython picks when none is chosen ("Contexts and start methods" in
    the multiprocessing docs; forkserver on POSIX from 3.14, gh-84559)."""
    if platform != "linux":  # macOS since 3.8 (bpo-33725), and Windows always
        return "spawn"
    return "forkserver" if Version(python) >= Version("3.14") else "fork"


@dataclass
class Expected:
    outcome: str | None = None
    obs: dict = field(default_factory=dict)
    why: dict = field(default_factory=dict)  # key ("outcome" or an obs key) -> reason
    starts: int | None = None  # the process starts expected (0 without the method axis), None: not checked
    axes: tuple = AXES


_loaded: dict[Path, tuple[tuple, dict]] = {}


def load(lab: str, labs_dir: Path | None = None) -> dict:
    """The lab's expect.toml, parsed (again only when the file changed: scripts/lab --watch)."""
    path = (labs_dir or LABS_DIR) / f"{lab}.expect.toml"
    try:
        stat = path.stat()
        key = (stat.st_mtime_ns, stat.st_size)
        if path in _loaded and _loaded[path][0] == key:
            return _loaded[path][1]
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ExpectationError(f"{path.name} is missing: every lab has hand-written expectations") from None
    except tomllib.TOMLDecodeError as exc:
        raise ExpectationError(f"{path.name}: {exc}") from None
    _loaded[path] = (key, data)
    return data


def load_rules(lab: str, labs_dir: Path | None = None) -> list[dict]:
    return load(lab, labs_dir).get("rule", [])


def axes(lab: str, labs_dir: Path | None = None) -> tuple[str, ...]:
    """The axes the lab declares (``axes = [...]`` in its expect.toml; there is no default)."""
    data = load(lab, labs_dir)
    if "axes" not in data:
        raise ExpectationError(f"{lab}.expect.toml declares no axes: add e.g. axes = [\"method\", \"gil\"], "
                               f"[\"method\"], [\"gil\"] or [] before its rules (docs/axes.md)")
    declared = data["axes"]
    if not isinstance(declared, list) or not set(declared) <= set(AXES) or len(set(declared)) != len(declared):
        raise ExpectationError(f"{lab}.expect.toml: axes = {declared!r}; each of {', '.join(AXES)} at most once")
    return tuple(a for a in AXES if a in declared)


def varies(lab: str, labs_dir: Path | None = None) -> tuple[str, ...]:
    """The observations that are measurements (patterns, e.g. ``*_ms``): no axis compares them."""
    return tuple(load(lab, labs_dir).get("varies", ()))


def _matches(when: dict, python: str, requested: str, platform: str, gil: str) -> bool:
    effective = platform_default(python, platform) if requested == "default" else requested
    if "python" in when and Version(python) not in SpecifierSet(when["python"]):
        return False
    checks = {"method": effective, "requested": requested, "platform": platform, "gil": gil or "always"}
    return all(checks[k] in when[k] for k in checks if k in when)


def expected(lab: str, python: str, requested: str, platform: str = "linux", gil: str = "",
             labs_dir: Path | None = None) -> Expected:
    """What ``lab`` should do; ``gil`` is the cell's GIL mode ("" on a GIL build)."""
    declared = axes(lab, labs_dir)
    starts = None if "method" in declared else 0
    if requested in UNAVAILABLE.get(platform, ()):
        return Expected("unavailable", {}, {"outcome": f"{platform} has no {requested} start method"}, None, declared)
    result = Expected(starts=starts, axes=declared)
    for rule in load_rules(lab, labs_dir):
        when = rule.get("when", {})
        if not _matches(when, python, requested, platform, gil):
            continue
        why = rule.get("why")
        if "outcome" in rule:
            result.outcome = rule["outcome"]
            if why:
                result.why["outcome"] = why
        for key, value in rule.get("obs", {}).items():
            result.obs[key] = value
            if why:
                result.why[key] = why
    return result


def compare(exp: Expected, outcome: str, obs: dict) -> list[str]:
    """Every difference between what was expected and what was observed, one line each."""
    problems = []
    if exp.starts is not None and obs.get(STARTS) != exp.starts:
        seen = "not observed" if STARTS not in obs else f"observed {obs[STARTS]!r}"
        problems.append(f"{STARTS}: expected {exp.starts!r}, {seen}: a lab without the method axis "
                        f"(axes = {list(exp.axes)!r}) starts no process; declare \"method\" if it must")
    if exp.outcome is not None and outcome != exp.outcome:
        problems.append(f"outcome: expected {exp.outcome!r}, observed {outcome!r}")
    for key, value in exp.obs.items():
        if key not in obs:
            problems.append(f"{key}: expected {value!r}, not observed")
        elif obs[key] != value:
            problems.append(f"{key}: expected {value!r}, observed {obs[key]!r}")
    return problems


def disagreement(lab: str, kept: tuple[str, dict], dropped: tuple[str, dict], labs_dir: Path | None = None) -> list[str]:
    """What a cell that an axis drops shows otherwise than the cell kept in its place: the
    outcome, and every observation but the axis's own and the lab's ``varies``."""
    (kept_outcome, kept_obs), (outcome, obs) = kept, dropped
    skip = [*AXIS_OBS, *varies(lab, labs_dir)]
    lines = [f"outcome: kept {kept_outcome!r}, dropped {outcome!r}"] if outcome != kept_outcome else []
    for key in sorted(set(kept_obs) | set(obs)):
        if any(fnmatch.fnmatchcase(key, pattern) for pattern in skip):
            continue
        if kept_obs.get(key, "<none>") != obs.get(key, "<none>"):
            lines.append(f"{key}: kept {kept_obs.get(key, '<none>')!r}, dropped {obs.get(key, '<none>')!r}")
    return lines
