"""Check your own script across the matrix: every image, every start method, each difference explained.

    scripts/check path/to/script.py [ARGS...] [--image NAME ...] [--method fork|spawn|forkserver|default ...]
                  [--timeout S] [--fail-on differ|error|never] [--out DIR]
    scripts/check --project DIR [PYTEST ARGS...]   a whole project's test suite (--project --help)

Each cell (image × start method, × GIL on/off on a free-threaded image) runs the script in
that image's locked-down container (labmatrix.container: no network, non-root, pids and
memory limits): a copy of the script's folder at /home/lab/src, owned by root so the
script cannot write there (a copy, not a mount: a folder in a 0700 home folder works as
it is, labmatrix/project/copyin.py), a fresh writable working
folder on a tmpfs, stdin at EOF, a bound per cell. The method is forced at interpreter
start by a hook, never by editing the script (box/hook/sitecustomize.py). Cells are
classified as the driver does, grouped by outcome and normalised output, and each cell
that fails or differs from the reference group is explained from signatures.toml.

Writes results/check.json, check.md and check.html (or into --out). Exit status: 0, or 1
when --fail-on says so (differ, the default: a cell fails or the cells disagree; error: a
cell fails; never), 2 on bad input, 130 on Ctrl-C.
"""

from __future__ import annotations

import json
import os
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

from .. import matrix, registry, templates
from ..container import ContainerPool, DriverError, LabContainer, client, missing_images
from ..errors import BadInput, MissingEnvironment
from ..project import copyin
from ..session import RESULTS_DIR, Selection
from ..table import text_table
from . import signatures

USAGE = ("usage: scripts/check path/to/script.py [ARGS...] [--image NAME ...] "
         "[--method fork|spawn|forkserver|default ...] [--timeout S] [--fail-on differ|error|never] [--out DIR]")
SRC = "/home/lab/src"  # a copy of the script's folder, read-only for the script
BOX = "/opt/check"  # labmatrix/check/box: the in-container runner and the start-method hook
SCRATCH = "/home/lab/scratch"  # a tmpfs: each cell's working folder; gone with the container
BOX_DIR = Path(__file__).resolve().parent / "box"
DEFAULT_TIMEOUT = 30.0
OUTPUT_CAP = 64 * 1024  # bytes kept of each stream (its tail); the rest is counted and marked cut
FAIL_ON = ("differ", "error", "never")
LAB_UID = 1000  # the images' user (images/Dockerfile)


class CheckError(BadInput):
    """Bad input: one line that names the fix."""


class HelpRequested(Exception):
    """-h or --help: the usage goes to stdout."""


@dataclass
class Options:
    """What one ``scripts/check`` run checks, as parsed from its command line."""

    script: Path
    args: list[str] = field(default_factory=list)
    images: tuple[str, ...] = ()
    methods: tuple[str, ...] = ()
    timeout: float = DEFAULT_TIMEOUT
    fail_on: str = "differ"
    out: Path = RESULTS_DIR


def parse(argv: list[str]) -> Options:
    """Options anywhere; the first other word is the script, the rest are its arguments
    (after ``--`` everything is the script's, so it may take --image itself)."""
    values: dict[str, list[str]] = defaultdict(list)
    script, args, passthrough = None, [], False
    takes = {"--image", "--method", "--timeout", "--fail-on", "--out"}
    i = 0
    while i < len(argv):
        word = argv[i]
        i += 1
        if passthrough or (script is not None and word not in takes and word.split("=", 1)[0] not in takes
                           and word != "--"):
            if script is None:
                script = word
            else:
                args.append(word)
            continue
        if word == "--":
            passthrough = True
            continue
        if word in ("-h", "--help"):
            raise HelpRequested
        name, eq, value = word.partition("=")
        if name in takes:
            if not eq:
                if i >= len(argv):
                    raise CheckError(f"{name} needs a value; {USAGE}")
                value = argv[i]
                i += 1
            values[name].append(value)
        elif word.startswith("-"):
            raise CheckError(f"unknown option {word!r}; {USAGE}")
        else:
            script = word
    if script is None:
        raise CheckError(f"no script given; {USAGE}")
    sel, fail_on, timeout = common_options(values, DEFAULT_TIMEOUT)
    out = Path(values["--out"][-1]).resolve() if values["--out"] else RESULTS_DIR
    return Options(_script(Path(script)), args, sel.images, sel.methods, timeout, fail_on, out)


def common_options(values: dict[str, list[str]], default_timeout: float) -> tuple[Selection, str, float]:
    """The options a script's check and a project's (labmatrix/project) share: the
    selection (--image, --method, --gil), --fail-on and --timeout, each checked in one line."""
    sel = Selection.pick(values.get("--image", ()), (), values.get("--method", ()), values.get("--gil", ()))
    fail_on = (values.get("--fail-on") or ["differ"])[-1]
    if fail_on not in FAIL_ON:
        raise CheckError(f"unknown --fail-on {fail_on!r}; valid: {', '.join(FAIL_ON)}")
    timeout_text = (values.get("--timeout") or [str(default_timeout)])[-1]
    try:
        timeout = float(timeout_text)
    except ValueError:
        timeout = -1
    if not 0 < timeout <= 3600:
        raise CheckError(f"--timeout {timeout_text!r} is not a number of seconds in (0, 3600]")
    return sel, fail_on, timeout


def _script(path: Path) -> Path:
    """The script, resolved, or one line saying why it cannot be run."""
    if not path.exists():
        raise CheckError(f"no such file: {path}; give the path of a Python script")
    if not path.is_file():
        raise CheckError(f"{path} is not a file; give the path of a Python script")
    path = path.resolve()
    if not os.access(path, os.R_OK):
        raise CheckError(f"cannot read {path}; give the path of a Python script you can read")
    return path


# --------------------------------------------------------------------------- running


def container_options() -> dict:
    """The box runner, read-only, and a private scratch tmpfs for the lab user."""
    return {"volumes": {str(BOX_DIR): {"bind": BOX, "mode": "ro"}},
            "tmpfs": {SCRATCH: f"size=256m,uid={LAB_UID},gid={LAB_UID},mode=0700"}}


def gil_axis(image: matrix.Image) -> list[tuple[str, dict]]:
    """The image's GIL modes and the environment of each (matrix.Image.gil_modes: on a
    free-threaded image the GIL off and forced on; one mode "" otherwise), by matrix.container_env."""
    return [(mode, matrix.container_env(mode)) for mode in image.gil_modes]


@dataclass(frozen=True, eq=False)
class CheckCell:
    """One cell of a check (image × start method [× GIL mode]): what the in-container
    runner (box/runner.py) reported, and, once :func:`explain_all` has returned it, its
    group and explanation. The counterpart of the matrix's ``cells.Result``."""

    image: str
    python: str
    method: str
    gil: str
    effective_method: str  # the image's default where method is "default"
    outcome: str
    returncode: int | None
    duration_s: float
    stdout: str
    stderr: str
    stdout_bytes: int
    stderr_bytes: int
    cut: list[str]
    events: list[dict]
    waits: list[str]
    pids_refused: int
    ended_by_pids_limit: bool
    group: str = ""  # A is the reference group
    differs: bool = False  # not in the reference group
    signatures: list[str] = field(default_factory=list)
    recognised: bool = False
    explanation: str = ""

    @property
    def target(self) -> str:
        """The image and GIL mode, as the matrix report spells them (matrix.variant)."""
        return matrix.variant(self.image, self.gil)

    @property
    def where(self) -> str:
        return f"{self.target}/{self.method}"

    def pids(self) -> set[int]:
        return {e["pid"] for e in self.events if isinstance(e.get("pid"), int)}

    def to_json(self) -> dict:
        return asdict(self)


RUNNER_FIELDS = [f.name for f in fields(CheckCell)][5:17]  # outcome .. ended_by_pids_limit


def run_image(box: LabContainer, opts: Options, gils: list[tuple[str, dict]]) -> tuple[dict, list[dict]]:
    """Cells of one image (its GIL modes ``gils``), one after another in one ``docker exec``,
    so a fork bomb in one cell never competes with another cell of the same container."""
    copy_folder(box, opts.script.parent)
    spec = {"script": f"{SRC}/{opts.script.name}", "args": opts.args, "timeout": opts.timeout,
            "cap": OUTPUT_CAP, "scratch": SCRATCH, "methods": list(opts.methods), "gils": gils}
    bound = len(opts.methods) * len(gils) * (opts.timeout + 15) + 60
    code, out, err = box.exec(["python", f"{BOX}/runner.py", json.dumps(spec)], timeout=bound)
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    if code != 0 or not lines:
        box.failed = True
        raise DriverError(f"the check runner failed in {box.image.name} (exit {code}): {err.strip()[-300:]}")
    return lines[0], lines[1:]


_ARCHIVES: dict[Path, bytes] = {}  # the script folder's copy, made once per run (run())
_COPIED: dict[str, Path] = {}  # LabContainer.key -> the folder copied into it


def copy_folder(box: LabContainer, folder: Path) -> None:
    """Copy the script's folder to SRC in the container (once per container and folder)."""
    if _COPIED.get(box.key) == folder:
        return
    if box.key in _COPIED:
        box.container.exec_run(["rm", "-rf", SRC], user="0:0")
    copyin.put(box.container, str(Path(SRC).parent), _ARCHIVES.get(folder) or copyin.archive(folder, Path(SRC).name))
    _COPIED[box.key] = folder


def jobs(boxes: dict[str, list[LabContainer]], opts: Options) -> list[tuple[str, LabContainer, list]]:
    """(image, container, GIL modes) to run side by side: each GIL mode of a free-threaded
    image in a container of its own when the image has one per mode (its own pids limit too)."""
    found = []
    for name in opts.images:
        mine, gils = boxes[name], gil_axis(boxes[name][0].image)
        if len(mine) >= len(gils) > 1:
            found += [(name, box, [gil]) for box, gil in zip(mine, gils)]
        else:
            found.append((name, mine[0], gils))
    return found


def run_cells(boxes: dict[str, list[LabContainer]], opts: Options) -> list[CheckCell]:
    """Run the script in the containers of opts.images, all side by side; on Ctrl-C or a
    failure the containers go at once, which ends their execs."""
    todo = jobs(boxes, opts)
    pool = ThreadPoolExecutor(len(todo))
    try:
        futures = [(name, pool.submit(run_image, box, opts, gils)) for name, box, gils in todo]
        found = [(name, *future.result()) for name, future in futures]
    except BaseException:
        for box in (b for mine in boxes.values() for b in mine):
            box.remove()
        raise
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    cells = []
    for name, header, rows in found:
        image = matrix.get_image(name)
        python = ".".join(map(str, header["version_info"]))
        for row in rows:
            method = row["method"]
            cells.append(CheckCell(
                image=name, python=python, method=method, gil=row.get("gil") or "",
                effective_method=image.default_method if method == "default" else method,
                **{k: row[k] for k in RUNNER_FIELDS}))
    order = {m: i for i, m in enumerate(opts.methods)}
    return sorted(cells, key=lambda c: (opts.images.index(c.image), order[c.method], c.gil))


def run(opts: Options, all_images: bool = False) -> tuple[list[CheckCell], dict]:
    """Run every cell. With no --image, the images that are not built are left out (and
    named); an image named with --image must be built."""
    start = time.monotonic()
    docker_client = client()
    skipped: list[str] = []
    if all_images:
        skipped = missing_images(docker_client, map(matrix.get_image, opts.images))
        opts.images = tuple(name for name in opts.images if name not in skipped)
        if not opts.images:
            raise MissingEnvironment("no image is built; build them with: scripts/build-images")
    images = [matrix.get_image(name) for name in opts.images]
    try:
        _ARCHIVES[opts.script.parent] = copyin.archive(opts.script.parent, Path(SRC).name)
    except copyin.CopyError as exc:
        raise CheckError(str(exc)) from None
    with ContainerPool(docker_client) as pool:
        # A container per GIL mode of each image (a free-threaded image's modes side by side).
        for count in sorted({len(image.gil_modes) for image in images}):
            pool.start([i for i in images if len(i.gil_modes) == count], per_image=count,
                       **container_options())
        started = time.monotonic()
        cells = run_cells(pool.boxes, opts)
        ran = time.monotonic()
        for boxes in pool.boxes.values():  # LABMATRIX_KEEP_CONTAINERS=1 keeps a failing cell's
            for box, gil in zip(boxes, boxes[0].image.gil_modes):
                box.failed = any(c.outcome != "ok" for c in cells if c.image == box.image.name
                                 and (len(boxes) == 1 or c.gil == gil))
        pool.remove_all()
    end = time.monotonic()
    return cells, {"wall_s": round(end - start, 2), "start_s": round(started - start, 2),
                   "cells_s": round(ran - started, 2), "remove_s": round(end - ran, 2), "skipped_images": skipped}


# --------------------------------------------------------------------------- grouping and explaining


Lines = tuple[list[str], list[str]]


def normalised(cell: CheckCell) -> Lines:
    """The cell's stdout and stderr lines, normalised (signatures.normalise): pids,
    addresses, paths, timings and the name of the method in force (the script may print it)."""
    pids, method = cell.pids(), cell.effective_method
    return signatures.normalise(cell.stdout, pids, method), signatures.normalise(cell.stderr, pids, method)


def group(cells: list[CheckCell], lines: dict[int, Lines] | None = None) -> list[list[CheckCell]]:
    """Cells that agree (outcome, normalised stdout and stderr, as multisets of lines so
    that the order in which processes interleave does not split them), largest first; the
    first is the reference (ties: a group that ran to the end, then the earlier cell)."""
    lines = {id(c): normalised(c) for c in cells} if lines is None else lines
    keyed: dict[tuple, list[CheckCell]] = defaultdict(list)
    for cell in cells:
        out, err = lines[id(cell)]
        keyed[(cell.outcome, tuple(sorted(out)), tuple(sorted(err)))].append(cell)
    groups = list(keyed.values())
    order = {id(c): i for i, c in enumerate(cells)}
    groups.sort(key=lambda g: (-len(g), g[0].outcome != "ok", order[id(g[0])]))
    return groups


def _last_line(cell: CheckCell, bound: float) -> str:
    if cell.outcome in ("timeout", "deadlock"):
        waits = ", ".join(w for w in cell.waits if w and w != "0")
        return f"still running at the {bound:g} s bound" + (f" (threads waiting in: {waits})" if waits else "")
    found = [ln.strip() for ln in cell.stderr.splitlines() if ln.strip()]
    return found[-1] if found else f"exit code {cell.returncode}"


@dataclass(frozen=True)
class Group:
    """Cells whose outcome and normalised output agree; A is the reference."""

    group: str
    outcome: str
    cells: list[str]  # "<target>/<method>"
    signatures: list[str]
    explanation: str
    brief: list[str]


def _explanation(cell: CheckCell, found: list[signatures.Signature], differs: bool, reference: CheckCell,
                 lines: dict[int, Lines], bound: float) -> str:
    if found:
        text = " ".join(f"{s.title}: {s.explain} ({s.docs})" for s in found)
    elif cell.outcome != "ok":
        text = f"not recognised: {cell.outcome}, " + _last_line(cell, bound)
    elif differs:
        text = f"not recognised: differs from group A ({_first_difference(lines[id(cell)], lines[id(reference)])})"
    else:
        text = ""
    notes = []
    chosen = [e["mp_method"] for e in cell.events if e.get("event") == "exit" and e.get("mp_method")]
    if cell.method != "default" and chosen and chosen[-1] != cell.method:
        notes.append(f"The script chose its own start method ({chosen[-1]}), which wins over the forced default "
                     f"({cell.method}), as it would on a platform with that default.")
    if cell.cut:
        notes.append("Output cut: " + ", ".join(
            f"{s} kept its last {OUTPUT_CAP // 1024} KiB of {getattr(cell, s + '_bytes')} bytes" for s in cell.cut) + ".")
    return " ".join([text, *notes] if text else notes)


def explain_all(cells: list[CheckCell], bound: float) -> tuple[list[CheckCell], list[Group]]:
    """The cells, each with its group and the explanation of a cell that fails or differs
    (new values, in the same order), and the groups."""
    lines = {id(c): normalised(c) for c in cells}
    groups = group(cells, lines)
    reference = groups[0]
    known = {s.id: s for s in signatures.load(SRC)}
    explained: dict[int, CheckCell] = {}
    info = []
    for n, members in enumerate(groups):
        letter = chr(ord("A") + n) if n < 26 else f"G{n}"
        split = set() if n == 0 else signatures.split_facts(
            members, reference, lines[id(members[0])][0], lines[id(reference[0])][0])
        for cell in members:
            found = signatures.explain(cell, signatures.cell_facts(cell) | split, SRC)
            explained[id(cell)] = replace(
                cell, group=letter, differs=n > 0, signatures=[s.id for s in found],
                recognised=bool(found) or (cell.outcome == "ok" and n == 0),
                explanation=_explanation(cell, found, n > 0, reference[0], lines, bound))
        first = explained[id(members[0])]
        info.append(Group(letter, first.outcome, [c.where for c in members], first.signatures, first.explanation,
                          [f"{known[i].title} ({known[i].docs})" for i in first.signatures] or
                          ([first.explanation] if first.explanation else [])))
    return [explained[id(c)] for c in cells], info


def _first_difference(mine_lines: Lines, ref_lines: Lines) -> str:
    for mine, theirs in zip(mine_lines, ref_lines):
        extra = [line for line in mine if line not in theirs] or [f"missing: {line}" for line in theirs if line not in mine]
        if extra:
            return extra[0][:160]
    return "same lines, other counts"


# --------------------------------------------------------------------------- output


def columns(cells: list[CheckCell]) -> list[str]:
    return list(dict.fromkeys(c.target for c in cells))


def table(cells: list[CheckCell], methods: list[str]) -> list[str]:
    """A row per method, a column per image (and GIL mode): group letter and outcome."""
    index = {(c.target, c.method): c for c in cells}
    cols = columns(cells)
    first = {t: next(c for c in cells if c.target == t) for t in cols}
    rows = [["method", *cols], ["", *(f"{first[t].python} {matrix.get_image(first[t].image).default_method}"
                                      for t in cols)]]
    for m in methods:
        rows.append([m, *(f"{c.group} {c.outcome}" if (c := index.get((t, m))) else "" for t in cols)])
    return text_table(rows)


def legend(groups: list[Group]) -> list[str]:
    lines = []
    for g in groups:
        where = g.cells
        cells = ", ".join(where[:8]) + (f" … ({len(where)} cells)" if len(where) > 8 else "")
        head = f"{g.group}  {g.outcome}  [{cells}]" + ("  (reference)" if g.group == "A" else "")
        lines.append(head)
        lines += [f"   → {line}" for line in g.brief]  # the whole explanation is in check.md/html/json
    return lines


def exit_code(cells: list[CheckCell], groups: list[Group], fail_on: str) -> int:
    failed = any(c.outcome != "ok" for c in cells)
    return int({"differ": failed or len(groups) > 1, "error": failed, "never": False}[fail_on])


def context(cells: list[CheckCell], groups: list[Group], opts: Options, run: dict) -> dict:
    return {"script": opts.script.name, "args": opts.args, "cells": cells, "groups": groups,
            "columns": columns(cells), "methods": list(opts.methods), "run": run,
            "index": {(c.target, c.method): c for c in cells},
            "pythons": {c.target: (c.python, matrix.get_image(c.image).default_method) for c in cells},
            "failed": sum(c.outcome != "ok" for c in cells)}


def markdown(ctx: dict) -> str:
    cols = ctx["columns"]
    head = "| method | " + " | ".join(f"{t} ({ctx['pythons'][t][0]}, default {ctx['pythons'][t][1]})" for t in cols) + " |"
    lines = [f"### Check of `{ctx['script']}`: {len(ctx['groups'])} group(s), {ctx['failed']}/{len(ctx['cells'])} "
             "cells fail", "",
             "A cell shows its group (cells whose outcome and normalised output agree) and its outcome; "
             "group A is the reference.", "", head, "|---|" + "---|" * len(cols)]
    for m in ctx["methods"]:
        row = [f"{c.group} `{c.outcome}`" if (c := ctx["index"].get((t, m))) else "" for t in cols]
        lines.append(f"| {m} | " + " | ".join(row) + " |")
    lines += ["", "#### Groups", ""]
    for g in ctx["groups"]:
        lines.append(f"- **{g.group}** `{g.outcome}`: {', '.join(g.cells)}" +
                     (f"  \n  {g.explanation}" if g.explanation else ""))
    return "\n".join(lines) + "\n"


def html(ctx: dict) -> str:
    return templates.render("check.html.j2", **ctx)


def write(ctx: dict, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    data = {"script": ctx["script"], "args": ctx["args"], "run": ctx["run"],
            "groups": [asdict(g) for g in ctx["groups"]], "cells": [c.to_json() for c in ctx["cells"]],
            "images": registry.digests(sorted({c.image for c in ctx["cells"]} & set(matrix.image_names())))}
    (out / "check.json").write_text(json.dumps(data, indent=1, sort_keys=True))
    (out / "check.md").write_text(markdown(ctx) + registry.markdown(data["images"], "check.json"))
    (out / "check.html").write_text(html(ctx))


def main(argv: list[str]) -> int:
    if any(a == "--project" or a.startswith("--project=") for a in argv[:argv.index("--") if "--" in argv else None]):
        from ..project import command  # a whole project's suite: labmatrix/project/command.py
        return command.main(argv)
    try:
        opts = parse(argv)
    except HelpRequested:
        print(__doc__.strip())
        return 0
    cells, run_info = run(opts, all_images=not any(a == "--image" or a.startswith("--image=") for a in argv))
    cells, groups = explain_all(cells, opts.timeout)
    code = exit_code(cells, groups, opts.fail_on)
    run_info.update(timeout_s=opts.timeout, fail_on=opts.fail_on, exit_code=code)
    ctx = context(cells, groups, opts, run_info)
    write(ctx, opts.out)
    print("\n".join(table(cells, list(opts.methods))))
    print()
    print("\n".join(legend(groups)))
    shown = os.path.relpath(opts.out) if opts.out.is_relative_to(Path.cwd()) else str(opts.out)
    if run_info["skipped_images"]:
        print(f"\nnot built, left out: {', '.join(run_info['skipped_images'])} "
              f"(scripts/build-images {' '.join(run_info['skipped_images'])})")
    print(f"\ncheck: {opts.script.name}: {len(cells)} cells in {run_info['wall_s']:.1f} s, {len(groups)} group(s), "
          f"{ctx['failed']} failing; exit {code} (--fail-on {opts.fail_on}); results in {shown}/check.{{json,md,html}}")
    return code
