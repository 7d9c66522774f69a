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
"""

from dataclasses import dataclass, field

import tomllib
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from .matrix import LABS_DIR

SELECTORS = {"python", "method", "requested", "platform", "gil"}
GIL_VALUES = {"off", "on", "always"}

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


def load_rules(lab: str) -> list[dict]:
    path = LABS_DIR / f"{lab}.expect.toml"
    return tomllib.loads(path.read_text()).get("rule", [])


def _matches(when: dict, python: str, requested: str, platform: str, gil: str) -> bool:
    effective = platform_default(python, platform) if requested == "default" else requested
    if "python" in when and Version(python) not in SpecifierSet(when["python"]):
        return False
    checks = {"method": effective, "requested": requested, "platform": platform, "gil": gil or "always"}
    return all(checks[k] in when[k] for k in checks if k in when)


def expected(lab: str, python: str, requested: str, platform: str = "linux", gil: str = "") -> Expected:
    """What ``lab`` should do; ``gil`` is the cell's GIL mode ("" on a GIL build)."""
    if requested in UNAVAILABLE.get(platform, ()):
        return Expected("unavailable", {}, {"outcome": f"{platform} has no {requested} start method"})
    result = Expected()
    for rule in load_rules(lab):
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
    if exp.outcome is not None and outcome != exp.outcome:
        problems.append(f"outcome: expected {exp.outcome!r}, observed {outcome!r}")
    for key, value in exp.obs.items():
        if key not in obs:
            problems.append(f"{key}: expected {value!r}, not observed")
        elif obs[key] != value:
            problems.append(f"{key}: expected {value!r}, observed {obs[key]!r}")
    return problems
