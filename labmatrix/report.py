"""The comparison report: matrix.json, matrix.md, matrix.html and start-cost.png.

    python -m labmatrix.report [results/matrix.json]   regenerate from the JSON, no re-run
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

from . import expect, matrix, registry, templates
from .cli import run
from .errors import BadInput

METHOD_ORDER = {m: i for i, m in enumerate(matrix.METHODS)}


def _col(c: dict) -> str:
    """A cell's column: its image, or its image's GIL variant (``py3.13t gil=off``)."""
    return matrix.variant(c["target"], c.get("gil", ""))


def _columns(cells: list[dict]) -> list[str]:
    names = [matrix.variant(i.name, gil) for i in matrix.images() for gil in i.gil_modes]
    seen = {_col(c) for c in cells}
    return [n for n in ["host", *names] if n in seen]


def _rows(cells: list[dict]) -> list[tuple[str, str]]:
    return sorted({(c["lab"], c["method"]) for c in cells}, key=lambda r: (r[0], METHOD_ORDER.get(r[1], 9)))


def _differs(cells: list[dict]) -> set[tuple[str, str, str]]:
    """Cells where the lab behaves otherwise than its usual: a version- or method-specific
    expectation applied (it carries a reason), or the observed outcome differs."""
    return {(c["lab"], _col(c), c["method"]) for c in cells
            if c["why"] or (c["expected"].get("outcome") and c["outcome"] != c["expected"]["outcome"])}


def _reasons(cells: list[dict]) -> dict[str, list[str]]:
    reasons: dict[str, dict[str, None]] = defaultdict(dict)
    for c in cells:
        for why in c["why"].values():
            reasons[c["lab"]][why] = None
    return {lab: list(whys) for lab, whys in sorted(reasons.items())}


def _summary(cells: list[dict]) -> dict:
    failed = sum(bool(c["problems"]) for c in cells)
    return {"cells": len(cells), "passed": len(cells) - failed, "failed": failed}


#: The report's tables, by the axes a lab declares (expect.toml's ``axes``): its key, its
#: heading, and which labs it holds.
GROUPS = (
    ("threads", "Threads: no start-method axis, one row per lab (the image's default method)",
     lambda axes: "method" not in axes),
    ("processes", "Processes: a row per start method", lambda axes: set(axes) == {"method"}),
    ("both", "Both: a row per start method, and a GIL-off and a GIL-on column on a free-threaded image",
     lambda axes: set(axes) == {"method", "gil"}),
)


def _axes(data: dict, lab: str) -> list[str]:
    """A lab's axes as the run recorded them (a report from before axes: as labs/ declares them)."""
    recorded = data.get("run", {}).get("axes", {})
    if lab in recorded:
        return recorded[lab]
    try:
        return list(expect.axes(lab))
    except expect.ExpectationError:
        return list(expect.AXES)


def _groups(data: dict, cells: list[dict]) -> list[dict]:
    axes = {lab: _axes(data, lab) for lab in {c["lab"] for c in cells}}
    groups = []
    for key, title, holds in GROUPS:
        mine = [c for c in cells if holds(axes[c["lab"]])]
        if mine:
            groups.append({"key": key, "title": title, "columns": _columns(mine), "rows": _rows(mine)})
    return groups


def build(data: dict) -> dict:
    cells = data["cells"]
    for c in cells:
        c["column"] = _col(c)
    index = {(c["lab"], c["column"], c["method"]): c for c in cells}
    headers = data.get("run", {}).get("headers", {})
    images = {c["column"]: {"python": c["python"], "default_method": c["default_method"],
                            "gil": _gil_facts(headers.get(c["column"], {}))} for c in cells}
    return {"cells": cells, "index": index, "columns": _columns(cells), "rows": _rows(cells),
            "groups": _groups(data, cells), "differs": _differs(cells), "reasons": _reasons(cells),
            "images": images, "summary": _summary(cells), "run": data.get("run", {}),
            "digests": {name: info.get("digest") for name, info in data.get("images", {}).items() if info.get("digest")}}


def _gil_facts(header: dict) -> str:
    """What the runner's header says of the GIL: ``Py_GIL_DISABLED=1, GIL off`` (3.13+)."""
    if "py_gil_disabled" not in header:
        return ""
    enabled = header.get("gil_enabled")
    state = "" if enabled is None else ", GIL " + ("on" if enabled else "off")
    return f"Py_GIL_DISABLED={header['py_gil_disabled']}{state}"


def markdown(ctx: dict) -> str:
    def title(c):
        info = ctx["images"][c]
        return f"{c} ({info['python']}, default {info['default_method']}" + (
            f", {info['gil']}" if info["gil"] else "") + ")"
    lines = [f"### Lab matrix: {ctx['summary']['passed']}/{ctx['summary']['cells']} cells as expected", "",
             "A cell shows the outcome; ✗ marks a mismatch with the expectation, Δ a cell where the lab "
             "behaves otherwise than usual for this method or version (reasons below). A lab runs only "
             "along the axes it declares (docs/axes.md), so the tables group the labs by them."]
    for group in ctx["groups"]:
        cols = group["columns"]
        lines += ["", f"#### {group['title']}", "",
                  "| lab | method | " + " | ".join(title(c) for c in cols) + " |", "|---|---|" + "---|" * len(cols)]
        for lab, method in group["rows"]:
            row = []
            for col in cols:
                c = ctx["index"].get((lab, col, method))
                if c is None:
                    row.append("")
                    continue
                mark = (" ✗" if c["problems"] else "") + (" Δ" if (lab, col, method) in ctx["differs"] else "")
                row.append(f"`{c['outcome']}`{mark}")
            lines.append(f"| {lab} | {method} | " + " | ".join(row) + " |")
    if ctx["reasons"]:
        lines += ["", "#### Why cells differ (Δ)", ""]
        lines += [f"- **{lab}**: " + "; ".join(whys) for lab, whys in ctx["reasons"].items()]
    return "\n".join(lines) + "\n"


def html(ctx: dict) -> str:
    return templates.render("matrix.html.j2", **ctx)


#: What the start-cost picture shows, in its order: (label, lab, method of the cell, obs key prefix).
#: A thread and an interpreter are timed by interpreters_parallel's default run; a process
#: start per method by start_cost. These runs are in the solo phase (session.SOLO).
START_COSTS = (
    ("thread", "interpreters_parallel", "default", "thread_start_ms"),
    ("interpreter", "interpreters_parallel", "default", "interpreter_start_ms"),
    ("fork", "start_cost", "fork", "start_ms"),
    ("forkserver", "start_cost", "forkserver", "start_ms"),
    ("spawn", "start_cost", "spawn", "start_ms"),
)

#: What a reader should know about the storage driver the figures were measured on.
STORAGE_NOTES = {
    "fuse-overlayfs": "every file an interpreter opens or stats goes through a FUSE daemon in user space, "
                      "so each interpreter start (a spawn child, the fork server, a new subinterpreter's "
                      "imports) pays extra file-system cost that native overlay2 does not; fork, which "
                      "opens no files, does not pay it",
}


def start_costs(cells: list[dict]) -> dict[str, dict[str, tuple[float, float]]]:
    """image -> label -> (median ms, min ms or None), for the START_COSTS each image measured."""
    index = {(c["lab"], c["target"], c["method"]): c["obs"] for c in cells}
    found: dict[str, dict] = defaultdict(dict)
    for image in sorted({c["target"] for c in cells}, key=lambda i: (["host", *matrix.image_names()] + [i]).index(i)):
        for label, lab, method, key in START_COSTS:
            obs = index.get((lab, image, method), {})
            median, low = obs.get(f"{key}_median"), obs.get(f"{key}_min")
            if isinstance(median, (int, float)):
                found[image][label] = (median, low if isinstance(low, (int, float)) else None)
    return dict(found)


def start_cost_plot(cells: list[dict], path: Path, storage_driver: str = "") -> bool:
    """One panel per image: the median start cost of a thread, an interpreter (3.14+) and a
    process per start method (bars, log scale), with the minimum as a mark."""
    costs = start_costs(cells)
    if not costs:
        return False
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [label for label, *_ in START_COSTS]
    images = list(costs)
    fig, axes = plt.subplots(1, len(images), figsize=(max(6, 2.3 * len(images)), 3.8), sharey=True, squeeze=False)
    for ax, image in zip(axes[0], images):
        xs = range(len(labels))
        medians = [costs[image].get(label, (0, 0))[0] for label in labels]
        mins = [costs[image].get(label, (None, None))[1] for label in labels]
        ax.bar(xs, medians, color=[f"C{k}" for k in xs])
        ax.plot([x for x, m in zip(xs, mins) if m], [m for m in mins if m], "k_", markersize=12, label="min")
        for x, label in zip(xs, labels):
            if label not in costs[image]:
                ax.text(x, 0.02, "n/a", ha="center", va="bottom", fontsize=7, rotation=90,
                        transform=ax.get_xaxis_transform())
        ax.set_xticks(list(xs), labels, rotation=60, fontsize=8)
        ax.set_title(image, fontsize=9)
        ax.set_yscale("log")
    axes[0][0].set_ylabel("start + join, ms (bar: median, mark: min)")
    fig.suptitle("What a start costs, measured alone (solo phase)"
                 + (f"; Docker storage driver: {storage_driver}" if storage_driver else ""), fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def _ms(median: float, low: float | None) -> str:
    return f"{median:.2f}" + (f" ({low:.2f})" if low is not None else "")


def start_cost_markdown(cells: list[dict], run: dict) -> str:
    costs = start_costs(cells)
    if not costs:
        return ""
    labels = [label for label, *_ in START_COSTS]
    solo = ", ".join(f"{lab} ({'every method' if len(methods) == len(matrix.METHODS) else ', '.join(methods)})"
                     for lab, methods in run.get("solo", {}).items())
    lines = ["", "#### What a start costs (solo phase)", "",
             "Median (min) ms of start + join, measured one cell at a time after the other cells"
             + (f" ({solo})" if solo else "") + "; `start-cost.png` draws them.", "",
             "| image | " + " | ".join(labels) + " |", "|---|" + "---|" * len(labels)]
    for image, row in costs.items():
        lines.append(f"| {image} | " + " | ".join(_ms(*row[label]) if label in row else "n/a" for label in labels) + " |")
    driver = run.get("storage_driver")
    if driver:
        note = STORAGE_NOTES.get(driver)
        lines += ["", f"Docker storage driver: `{driver}`" + (f": {note}." if note else ".")]
    return "\n".join(lines) + "\n"


def render(data: dict, out: Path) -> None:
    ctx = build(data)
    (out / "matrix.md").write_text(markdown(ctx) + registry.markdown(data.get("images", {}))
                                   + start_cost_markdown(data["cells"], data.get("run", {})))
    (out / "matrix.html").write_text(html(ctx))
    start_cost_plot(data["cells"], out / "start-cost.png", data.get("run", {}).get("storage_driver", ""))


def write(results: list, out_dir: str, run: dict) -> Path:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    images = {i.name: {"suite": i.suite, "python": i.python, "default_method": i.default_method,
                       "platform": i.platform} for i in matrix.images()}
    for name, digest in registry.digests({r.target for r in results if r.target in images}).items():
        images[name].update(digest)  # the image each result came from (labmatrix/registry.py)
    data = {"run": run, "images": images, "cells": [r.to_json() for r in results]}
    (out / "matrix.json").write_text(json.dumps(data, indent=1, sort_keys=True))
    render(data, out)
    return out


def main(argv: list[str]) -> int:
    path = Path(argv[0] if argv else matrix.ROOT / "results" / "matrix.json")
    if not path.exists():
        raise BadInput(f"{path} not found; run the tests first (scripts/test)")
    render(json.loads(path.read_text()), path.parent)
    print(f"report: wrote {path.parent}/matrix.md, matrix.html" +
          (", start-cost.png" if (path.parent / "start-cost.png").exists() else ""))
    return 0


if __name__ == "__main__":
    run(main, "report")
