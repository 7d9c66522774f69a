"""The comparison report: matrix.json, matrix.md, matrix.html and start-cost.png.

    python -m labmatrix.report [results/matrix.json]   regenerate from the JSON, no re-run
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path

import jinja2

from . import matrix

TEMPLATES = Path(__file__).resolve().parent / "templates"
METHOD_ORDER = {m: i for i, m in enumerate(matrix.METHODS)}


def _columns(cells: list[dict]) -> list[str]:
    names = matrix.image_names()
    seen = {c["image"] for c in cells}
    return [n for n in ["host", *names] if n in seen]


def _rows(cells: list[dict]) -> list[tuple[str, str]]:
    return sorted({(c["lab"], c["method"]) for c in cells}, key=lambda r: (r[0], METHOD_ORDER.get(r[1], 9)))


def _differs(cells: list[dict]) -> set[tuple[str, str, str]]:
    """Cells where the lab behaves otherwise than its usual: a version- or method-specific
    expectation applied (it carries a reason), or the observed outcome differs."""
    return {(c["lab"], c["image"], c["method"]) for c in cells
            if c["why"] or (c["expected"].get("outcome") and c["outcome"] != c["expected"]["outcome"])}


def _reasons(cells: list[dict]) -> dict[str, list[str]]:
    reasons = defaultdict(dict)
    for c in cells:
        for why in c["why"].values():
            reasons[c["lab"]][why] = None
    return {lab: list(whys) for lab, whys in sorted(reasons.items())}


def _summary(cells: list[dict]) -> dict:
    failed = sum(bool(c["problems"]) for c in cells)
    return {"cells": len(cells), "passed": len(cells) - failed, "failed": failed}


def build(data: dict) -> dict:
    cells = data["cells"]
    index = {(c["lab"], c["image"], c["method"]): c for c in cells}
    images = {c["image"]: {"python": c["python"], "default_method": c["default_method"]} for c in cells}
    return {"cells": cells, "index": index, "columns": _columns(cells), "rows": _rows(cells),
            "differs": _differs(cells), "reasons": _reasons(cells), "images": images, "summary": _summary(cells), "run": data.get("run", {})}


def markdown(ctx: dict) -> str:
    cols = ctx["columns"]
    head = "| lab | method | " + " | ".join(
        f"{c} ({ctx['images'][c]['python']}, default {ctx['images'][c]['default_method']})" for c in cols) + " |"
    lines = [f"### Lab matrix: {ctx['summary']['passed']}/{ctx['summary']['cells']} cells as expected", "",
             "A cell shows the outcome; ✗ marks a mismatch with the expectation, Δ a cell where the lab "
             "behaves otherwise than usual for this method or version (reasons below).", "",
             head, "|---|---|" + "---|" * len(cols)]
    for lab, method in ctx["rows"]:
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
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True)
    return env.get_template("matrix.html.j2").render(**ctx)


def start_cost_plot(cells: list[dict], path: Path) -> bool:
    points = defaultdict(dict)
    for c in cells:
        value = c["obs"].get("start_ms_median")
        if c["lab"] == "start_cost" and isinstance(value, (int, float)) and c["method"] != "default":
            points[c["image"]][c["method"]] = value
    if not points:
        return False
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    methods = ["fork", "forkserver", "spawn"]
    images = [i for i in ["host", *matrix.image_names()] if i in points]
    fig, ax = plt.subplots(figsize=(max(6, 1.3 * len(images)), 4))
    width = 0.8 / len(methods)
    for k, method in enumerate(methods):
        xs = [i + (k - 1) * width for i in range(len(images))]
        ax.bar(xs, [points[img].get(method, 0) for img in images], width, label=method)
    ax.set_xticks(range(len(images)), images)
    ax.set_ylabel("start + join, median ms (log)")
    ax.set_yscale("log")
    ax.set_title("Process start cost per start method")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def render(data: dict, out: Path) -> None:
    ctx = build(data)
    (out / "matrix.md").write_text(markdown(ctx))
    (out / "matrix.html").write_text(html(ctx))
    start_cost_plot(data["cells"], out / "start-cost.png")


def write(results: list, out_dir: str, run: dict) -> Path:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    images = {i.name: {"suite": i.suite, "python": i.python, "default_method": i.default_method,
                       "platform": i.platform} for i in matrix.images()}
    data = {"run": run, "images": images, "cells": [r.to_json() for r in results]}
    (out / "matrix.json").write_text(json.dumps(data, indent=1, sort_keys=True))
    render(data, out)
    return out


def main(argv: list[str]) -> int:
    path = Path(argv[0] if argv else matrix.ROOT / "results" / "matrix.json")
    if not path.exists():
        print(f"report: {path} not found; run the tests first (scripts/test)", file=sys.stderr)
        return 1
    render(json.loads(path.read_text()), path.parent)
    print(f"report: wrote {path.parent}/matrix.md, matrix.html" +
          (", start-cost.png" if (path.parent / "start-cost.png").exists() else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
