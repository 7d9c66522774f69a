"""Check a whole project: its test suite in every image, under every start method and GIL
mode, each difference explained.

    scripts/check --project DIR [--image NAME ...] [--method fork|spawn|forkserver|default ...]
                  [--gil on|off] [--timeout S] [--fail-on differ|error|never] [--out DIR]
                  [--extra NAME] [--group NAME] [--requirements FILE ...] [-k EXPR] [PYTEST ARGS...]

The project is built into a wheel on the host, its dependencies (with its test extra or
dependency group, or --requirements files) resolved and downloaded on the host for each
image's Python and ABI, and installed offline into a dependency layer per image, built
once (labmatrix/project/deps.py, layers.py). Each cell (image × start method, × GIL off/on
on a free-threaded image) runs pytest on a copy of the project, with no network, under a
bound (--timeout, per cell), the method forced at interpreter start by scripts/check's
hook; the outcome of every test comes from pytest's JUnit XML. An image's default method
is one of fork, spawn and forkserver, so it is not run twice: the table marks it with *.

The answer: the tests whose outcome differs between cells (a table of tests × cells), the
tests that fail in every cell, one line per cell, and for each failing test the
explanation labmatrix/check/signatures.toml gives, or its first traceback line and where it is.
Anything else on the command line goes to pytest (after ``--``, everything does).
--requirements, not -r: pytest has its own -r.

Writes check.json, check.md and check.html into results/check/ (or --out). Exit status:
0, or 1 when --fail-on says so (differ, the default: a test differs between cells or a
cell fails; error: a cell fails; never), 2 on bad input, 130 on Ctrl-C. The user's
folder is only read.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from .. import matrix, templates
from ..check.command import common_options
from ..container import client, missing_images, require_images
from ..errors import BadInput, MissingEnvironment
from ..session import RESULTS_DIR
from . import copyin, deps, explain, layers, run
from .run import Cell

USAGE = ("usage: scripts/check --project DIR [--image NAME ...] [--method M ...] [--gil on|off] [--timeout S] "
         "[--fail-on differ|error|never] [--out DIR] [--extra NAME] [--group NAME] [--requirements FILE ...] "
         "[-k EXPR] [PYTEST ARGS...]")
DEFAULT_TIMEOUT = 300.0
OUT = RESULTS_DIR / "check"
METHODS = ("fork", "spawn", "forkserver")
TAKES = {"--project", "--image", "--method", "--gil", "--timeout", "--fail-on", "--out", "--extra", "--group",
         "--requirements"}


class ProjectError(BadInput):
    """Bad input: one line that names the fix (exit 2)."""


class HelpRequested(Exception):
    pass


@dataclass
class Options:
    folder: Path
    pytest_args: list[str] = field(default_factory=list)
    images: tuple[str, ...] = ()
    methods: tuple[str, ...] = METHODS
    gils: tuple[str, ...] = matrix.GIL_MODES
    timeout: float = DEFAULT_TIMEOUT
    fail_on: str = "differ"
    out: Path = OUT
    extras: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    requirements: tuple[Path, ...] = ()
    images_named: bool = False


def parse(argv: list[str]) -> Options:
    values: dict[str, list[str]] = defaultdict(list)
    rest: list[str] = []
    i = 0
    while i < len(argv):
        word = argv[i]
        i += 1
        if word == "--":
            rest += argv[i:]
            break
        if word in ("-h", "--help"):
            raise HelpRequested
        name, eq, value = word.partition("=")
        if name in TAKES or word == "-k":
            if not eq or word == "-k":
                if i >= len(argv):
                    raise ProjectError(f"{name} needs a value; {USAGE}")
                value = argv[i]
                i += 1
            if word == "-k":
                rest += ["-k", value]
            else:
                values[name].append(value)
        else:
            rest.append(word)
    if not values["--project"]:
        raise ProjectError(f"no project folder given; {USAGE}")
    folder = Path(values["--project"][-1]).expanduser()
    if not folder.exists():
        raise ProjectError(f"no such folder: {folder}; give the folder of a project with tests")
    if not folder.is_dir():
        raise ProjectError(f"{folder} is not a folder; give the folder of a project (for one script: scripts/check FILE)")
    sel, fail_on, timeout = common_options(values, DEFAULT_TIMEOUT)
    methods = tuple(m for m in sel.methods) if values["--method"] else METHODS
    out = Path(values["--out"][-1]).resolve() if values["--out"] else OUT
    return Options(folder.resolve(), rest, sel.images, methods, sel.gils, timeout, fail_on, out,
                   tuple(values["--extra"]), tuple(values["--group"]),
                   tuple(Path(f).expanduser() for f in values["--requirements"]), bool(values["--image"]))


def plan(opts: Options) -> list[Cell]:
    """The cells: image × GIL mode × method (``default`` is the image's own method, run once)."""
    cells = []
    for name in opts.images:
        image = matrix.get_image(name)
        methods = list(dict.fromkeys(image.default_method if m == "default" else m for m in opts.methods))
        for gil in image.gil_modes:
            if gil and gil not in opts.gils:
                continue
            cells += [Cell(name, gil, m, m == image.default_method) for m in methods]
    return cells


def has_tests(folder: Path) -> bool:
    """Whether pytest's default discovery could find anything (test_*.py or *_test.py), or
    a config file changes what it looks for."""
    for _, dirs, names in os.walk(folder):
        dirs[:] = [d for d in dirs if d not in copyin.SKIP]
        if any(re.fullmatch(r"test_.*\.py|.*_test\.py", n) for n in names):
            return True
    for config in ("pytest.ini", "pyproject.toml", "tox.ini", "setup.cfg"):
        path = folder / config
        if path.is_file() and re.search(r"^\s*(python_files|testpaths)\s*=", path.read_text(errors="replace"), re.M):
            return True
    return False


# --------------------------------------------------------------------------- preparing


def targets(cli, names: tuple[str, ...]) -> dict[str, deps.Target]:
    """What each image's interpreter accepts, probed once per image id."""
    found = {}

    def probe(name: str) -> None:
        image = matrix.get_image(name)
        image_id = cli.images.get(image.tag).id
        data = deps.cached_probe(image_id)
        if data is None:
            out = cli.containers.run(image.tag, ["python", "-c", deps.PROBE], remove=True, network_mode="none",
                                     labels={matrix.LABEL: "concurrency-lab"}, healthcheck={"test": ["NONE"]})
            data = json.loads(out.decode().strip().splitlines()[-1])
            deps.save_probe(image_id, data)
        found[name] = deps.Target(name, data["python"], data["abi"], data["machine"], tuple(data["glibc"]))

    with ThreadPoolExecutor(len(names)) as pool:
        list(pool.map(probe, names))
    return found


def prepare(cli, opts: Options, cells: list[Cell]) -> tuple[deps.Project, dict[str, str], dict]:
    """The project's wheel, each image's resolved dependencies and layer; sets ``problem``
    on the cells of an image that cannot install them."""
    t0 = time.monotonic()
    try:
        project = deps.project(opts.folder, opts.extras, opts.groups, opts.requirements)
    except deps.DepsError as exc:
        raise ProjectError(str(exc)) from None
    t1 = time.monotonic()
    found = targets(cli, opts.images)
    with ThreadPoolExecutor(min(4, len(found))) as pool:
        resolved = dict(zip(found, pool.map(lambda t: deps.resolve(project, t), found.values())))
    unresolvable = [r.problem for r in resolved.values() if r.problem.startswith("cannot install: cannot resolve")]
    if len(unresolvable) == len(resolved):
        raise ProjectError(unresolvable[0].removeprefix("cannot install: "))
    t2 = time.monotonic()
    layer_of, built = {}, []

    def layer(name: str) -> None:
        r = resolved[name]
        if r.problem:
            return
        tag, new, problem = layers.ensure(cli, matrix.get_image(name), r)
        if problem:
            r.problem = problem
        else:
            layer_of[name] = tag
            if new:
                built.append(name)

    with ThreadPoolExecutor(2) as pool:  # each install is CPU-bound (pip, byte-compiling)
        list(pool.map(layer, [n for n in found if not resolved[n].problem]))
    for cell in cells:
        if resolved[cell.image].problem:
            cell.problem = resolved[cell.image].problem
    timing = {"build_s": round(t1 - t0, 2), "resolve_s": round(t2 - t1, 2), "layers_s": round(time.monotonic() - t2, 2),
              "layers_built": sorted(built), "layers": layer_of}
    return project, layer_of, timing


# --------------------------------------------------------------------------- answering


def column(cell: Cell) -> str:
    return f"{cell.variant}/{cell.method}{'*' if cell.default else ''}"


def terminal_table(cells: list[Cell], grid: dict, shown: list[str]) -> list[str]:
    """Tests × cells: a column per image (and GIL mode), a letter per method in it."""
    variants = list(dict.fromkeys(c.variant for c in cells))
    by_variant = {v: [c for c in cells if c.variant == v] for v in variants}
    width = {v: max(len(v), len(" ".join(explain.METHOD_SHORT[c.method] + ("*" if c.default else "")
                                         for c in by_variant[v]))) for v in variants}
    name_w = min(60, max([len("test")] + [len(t) for t in shown]))
    head = ["test".ljust(name_w) + "  " + "  ".join(v.ljust(width[v]) for v in variants),
            "".ljust(name_w) + "  " + "  ".join(" ".join(explain.METHOD_SHORT[c.method] + ("*" if c.default else "")
                                                         for c in by_variant[v]).ljust(width[v]) for v in variants)]
    rows = []
    for test in shown:
        label = test if len(test) <= name_w else "…" + test[-(name_w - 1):]
        marks = []
        for v in variants:
            cols = [(explain.SHORT[grid[test][c.name]["outcome"]] + (" " if c.default else "")).ljust(
                len(explain.METHOD_SHORT[c.method]) + c.default) for c in by_variant[v]]
            marks.append(" ".join(cols).ljust(width[v]))
        rows.append(label.ljust(name_w) + "  " + "  ".join(marks))
    return [line.rstrip() for line in head + rows]


def exit_code(cells: list[Cell], differ: list[str], fail_on: str) -> int:
    failed = any(c.problem or c.result.get("returncode") != 0 for c in cells)
    return int({"differ": failed or bool(differ), "error": failed, "never": False}[fail_on])


def one_line(cells: list[Cell], opts: Options, grid: dict, explained: dict) -> tuple[str, int] | None:
    """Bad input that every cell shows the same way: one line and its exit status."""
    ran = [c for c in cells if not c.problem]
    if not ran:
        return None
    if all(c.result.get("returncode") == 5 for c in ran):
        return f"pytest collected no tests in {opts.folder} (in any cell); add tests, or name them (PYTEST ARGS)", 2
    if all(c.result.get("outcome") in ("timeout", "deadlock") for c in ran):
        where = "; ".join(f"{c.name} in {explain.running(c) or 'collection'}" for c in ran)
        return f"the suite hung: every cell was stopped at its {opts.timeout:g} s bound ({where})", 1
    syntax = [c for c in ran if c.result.get("returncode") in (1, 2) and re.search(
        r"^E\s+(SyntaxError|IndentationError|TabError)", "\n".join(t["text"] for t in explain.tests(c).values()), re.M)]
    if len(syntax) == len(ran):
        text = "\n".join(t["text"] for t in explain.tests(ran[0]).values())
        m = re.search(r'File "([^"]+)", line (\d+)', text)
        found = re.search(r"^E\s+((?:SyntaxError|IndentationError|TabError).*)$", text, re.M)
        kind = found.group(1) if found else "SyntaxError"
        at = f"{m.group(1).replace(run.SCRATCH, '').split('/project/', 1)[-1]}:{m.group(2)}: " if m else ""
        return f"the project does not compile in any cell: {at}{kind}", 2
    failing = {t for t in grid for c in ran if grid[t][c.name]["outcome"] in explain.FAILING}
    if failing and all("needs-network" in v["signatures"] for t in failing for v in explained.get(t, {}).get("cells", {}).values()) \
            and all(t in explained for t in failing):
        return (f"the suite needs a network at test time: {len(failing)} test(s) fail in every cell that has none "
                f"(first: {sorted(failing)[0]}); the cells run offline, deselect them (-m/-k)"), 1
    return None


def context(opts: Options, project: deps.Project | None, cells: list[Cell], grid: dict, differ: list[str],
            everywhere: list[str], explained: dict, timing: dict) -> dict:
    return {"project": str(opts.folder), "name": project.name if project else opts.folder.name,
            "pytest_args": opts.pytest_args, "timeout_s": opts.timeout, "cells": cells, "grid": grid,
            "differ": differ, "everywhere": everywhere, "explained": explained, "run": timing,
            "status": {c.name: explain.cell_status(c, opts.timeout) for c in cells},
            "columns": {c.name: column(c) for c in cells}}


def markdown(ctx: dict) -> str:
    cells, grid = ctx["cells"], ctx["grid"]
    col = {name: text.replace("*", "\\*") for name, text in ctx["columns"].items()}  # * is markdown's emphasis
    lines = [f"### Check of project `{ctx['name']}`: {len(ctx['differ'])} test(s) differ between {len(cells)} cells, "
             f"{len(ctx['everywhere'])} fail in every cell", ""]
    if ctx["differ"]:
        lines += ["Outcome per cell: `.` passed, `F` failed, `E` error, `s` skipped, `H` hung at the bound, "
                  "`-` not run; `*` the image's default method.", "",
                  "| test | " + " | ".join(col[c.name] for c in cells) + " | why |",
                  "|---|" + "---|" * (len(cells) + 1)]
        for t in ctx["differ"]:
            marks = " | ".join(explain.SHORT[grid[t][c.name]["outcome"]] for c in cells)
            lines.append(f"| `{t}` | {marks} | {ctx['explained'][t]['brief']} |")
        lines.append("")
    if ctx["everywhere"]:
        lines += ["#### Failing in every cell", ""]
        lines += [f"- `{t}`: {ctx['explained'][t]['brief']}" for t in ctx["everywhere"]] + [""]
    lines += ["#### Cells", ""] + [f"- **{col[c.name]}** (Python {c.python or '?'}): {ctx['status'][c.name]}"
                                   for c in cells]
    return "\n".join(lines) + "\n"


def write(ctx: dict, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    cells = [{"image": c.image, "gil": c.gil, "method": c.method, "default": c.default, "python": c.python,
              "status": ctx["status"][c.name], "problem": c.problem,
              **{k: c.result.get(k) for k in ("outcome", "returncode", "duration_s", "stdout", "stderr", "waits",
                                              "pids_refused", "ended_by_pids_limit")}} for c in ctx["cells"]]
    tests = {t: {ctx["columns"][c]: {k: v for k, v in o.items() if k != "output" or o["outcome"] in explain.FAILING}
                 for c, o in ctx["grid"][t].items()} for t in [*ctx["differ"], *ctx["everywhere"]]}
    data = {"project": ctx["project"], "name": ctx["name"], "pytest_args": ctx["pytest_args"], "run": ctx["run"],
            "cells": cells, "differ": ctx["differ"], "everywhere": ctx["everywhere"], "tests": tests,
            "explained": {t: {**v, "cells": {ctx["columns"][c]: e for c, e in v["cells"].items()}}
                          for t, v in ctx["explained"].items()}}
    (out / "check.json").write_text(json.dumps(data, indent=1, sort_keys=True))
    (out / "check.md").write_text(markdown(ctx))
    (out / "check.html").write_text(templates.render("project.html.j2", short=explain.SHORT, **ctx))


def main(argv: list[str]) -> int:
    start = time.monotonic()
    try:
        opts = parse(argv)
    except HelpRequested:
        print(__doc__.strip())
        return 0
    if not opts.pytest_args and not has_tests(opts.folder):
        raise ProjectError(f"{opts.folder} has no tests (no test_*.py or *_test.py, no python_files or testpaths "
                           "in its pytest configuration); name them after --project DIR")
    cli = client()
    skipped = []
    if not opts.images_named:  # the images not built are left out (and named)
        skipped = missing_images(cli, map(matrix.get_image, opts.images))
        opts.images = tuple(name for name in opts.images if name not in skipped)
        if not opts.images:
            raise MissingEnvironment("no image is built; build them with: scripts/build-images")
    else:
        require_images(cli, map(matrix.get_image, opts.images))
    try:
        cells = plan(opts)
        project, layer_of, timing = prepare(cli, opts, cells)
        timing.update(run.run_cells(cli, [c for c in cells if not c.problem], layer_of, opts.folder, project.wheel,
                                    opts.pytest_args, opts.timeout))
    except (copyin.CopyError, deps.DepsError) as exc:
        raise ProjectError(str(exc)) from None
    grid, differ = explain.table(cells)
    ran = [c for c in cells if not c.problem]
    everywhere = [t for t in grid if t not in differ and ran
                  and all(grid[t][c.name]["outcome"] in explain.FAILING for c in ran)]
    explained = explain.explain(cells, grid, differ + everywhere)
    timing.update(wall_s=round(time.monotonic() - start, 2), skipped_images=skipped,
                  pytest_s=round(sum(c.result.get("duration_s", 0) for c in ran), 2),
                  exec_s=round(sum(c.result.get("exec_s", 0) for c in ran), 2), cells=len(cells))
    code = exit_code(cells, differ, opts.fail_on)
    bad = one_line(cells, opts, grid, explained)
    if bad:
        code = bad[1] if opts.fail_on != "never" or bad[1] == 2 else 0
    timing.update(timeout_s=opts.timeout, fail_on=opts.fail_on, exit_code=code)
    ctx = context(opts, project, cells, grid, differ, everywhere, explained, timing)
    write(ctx, opts.out)
    if bad:
        print(f"check: {bad[0]}", file=sys.stderr)
        return code
    if differ:
        print("\n".join(terminal_table(cells, grid, differ)))
        print("  (. passed  F failed  E error  s skipped  H hung  - not run;  f fork  s spawn  fs forkserver  "
              "* the image's default)\n")
        for t in differ:
            print(f"{t}\n   → {explained[t]['brief']}")
        print()
    for t in everywhere:
        print(f"fails in every cell: {t}\n   → {explained[t]['brief']}")
    for c in cells:
        print(f"{column(c):<28} {ctx['status'][c.name]}")
    shown = os.path.relpath(opts.out) if opts.out.is_relative_to(Path.cwd()) else str(opts.out)
    if skipped:
        print(f"\nnot built, left out: {', '.join(skipped)} (scripts/build-images {' '.join(skipped)})")
    print(f"\ncheck: project {ctx['name']}: {len(cells)} cells in {timing['wall_s']:.1f} s, {len(differ)} test(s) differ, "
          f"{len(everywhere)} fail everywhere; exit {code} (--fail-on {opts.fail_on}); results in {shown}/check.{{json,md,html}}")
    return code

