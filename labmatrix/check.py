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
start by a hook, never by editing the script (check_box/hook/sitecustomize.py). Cells are
classified as the driver does, grouped by outcome and normalised output, and each cell
that fails or differs from the reference group is explained from check_signatures.toml.

Writes results/check.json, check.md and check.html (or into --out). Exit status: 0, or 1
when --fail-on says so (differ, the default: a cell fails or the cells disagree; error: a
cell fails; never), 2 on bad input, 130 on Ctrl-C.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import docker.errors
import jinja2

from . import cli, matrix, signatures
from .container import DriverError, LabContainer, client
from .project import copyin
from .session import RESULTS_DIR, MatrixSession, Selection, SelectionError

USAGE = ("usage: scripts/check path/to/script.py [ARGS...] [--image NAME ...] "
         "[--method fork|spawn|forkserver|default ...] [--timeout S] [--fail-on differ|error|never] [--out DIR]")
SRC = "/home/lab/src"  # a copy of the script's folder, read-only for the script
BOX = "/opt/check"  # labmatrix/check_box: the in-container runner and the start-method hook
SCRATCH = "/home/lab/scratch"  # a tmpfs: each cell's working folder; gone with the container
BOX_DIR = Path(__file__).resolve().parent / "check_box"
DEFAULT_TIMEOUT = 30.0
OUTPUT_CAP = 64 * 1024  # bytes kept of each stream (its tail); the rest is counted and marked cut
FAIL_ON = ("differ", "error", "never")
LAB_UID = 1000  # the images' user (images/Dockerfile)
TEMPLATES = Path(__file__).resolve().parent / "templates"


class CheckError(Exception):
    """Bad input: one line that names the fix."""


class HelpRequested(Exception):
    """-h or --help: the usage goes to stdout."""


@dataclass
class Options:
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
    try:
        sel = Selection.pick(values["--image"], (), values["--method"])
    except SelectionError as exc:
        raise CheckError(str(exc)) from None
    fail_on = (values["--fail-on"] or ["differ"])[-1]
    if fail_on not in FAIL_ON:
        raise CheckError(f"unknown --fail-on {fail_on!r}; valid: {', '.join(FAIL_ON)}")
    timeout_text = (values["--timeout"] or [str(DEFAULT_TIMEOUT)])[-1]
    try:
        timeout = float(timeout_text)
    except ValueError:
        timeout = -1
    if not 0 < timeout <= 3600:
        raise CheckError(f"--timeout {timeout_text!r} is not a number of seconds in (0, 3600]")
    out = Path(values["--out"][-1]).resolve() if values["--out"] else RESULTS_DIR
    return Options(_script(Path(script)), args, sel.images, sel.methods, timeout, fail_on, out)


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


def container_options(script: Path) -> dict:
    return {"volumes": {str(BOX_DIR): {"bind": BOX, "mode": "ro"}},
            "tmpfs": {SCRATCH: f"size=256m,uid={LAB_UID},gid={LAB_UID},mode=0700"}}


def gil_axis(image: matrix.Image) -> list[tuple[str, dict]]:
    """The image's GIL modes and the environment of each (matrix.Image.gil_modes: on a
    free-threaded image the GIL off and forced on; one mode "" otherwise)."""
    return [(mode, matrix.GIL_ENV.get(mode, {})) for mode in image.gil_modes]


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
        raise DriverError(f"the check runner failed in {box.image.name} (exit {code}): {err.strip()[-300:]}")
    return lines[0], lines[1:]


_ARCHIVES: dict[Path, bytes] = {}  # the script folder's copy, made once per run (run())


def copy_folder(box: LabContainer, folder: Path) -> None:
    """Copy the script's folder to SRC in the container (once per container and folder)."""
    if getattr(box, "check_src", None) == folder:
        return
    if getattr(box, "check_src", None) is not None:
        box.container.exec_run(["rm", "-rf", SRC], user="0:0")
    copyin.put(box.container, str(Path(SRC).parent), _ARCHIVES.get(folder) or copyin.archive(folder, Path(SRC).name))
    box.check_src = folder


def jobs(boxes: dict[str, LabContainer], extra: dict[str, list[LabContainer]], opts: Options) -> list[tuple]:
    """(image, container, GIL modes) to run side by side: each GIL mode of a free-threaded
    image in a container of its own when ``extra`` has one (its own pids limit too)."""
    found = []
    for name in opts.images:
        gils, spare = gil_axis(boxes[name].image), extra.get(name, [])
        if len(spare) + 1 >= len(gils) > 1:
            found += [(name, box, [gil]) for box, gil in zip([boxes[name], *spare], gils)]
        else:
            found.append((name, boxes[name], gils))
    return found


def run_cells(boxes: dict[str, LabContainer], opts: Options,
              extra: dict[str, list[LabContainer]] | None = None) -> list[dict]:
    """Run the script in the containers of opts.images, all side by side; on Ctrl-C or a
    failure the containers go at once, which ends their execs."""
    todo = jobs(boxes, extra or {}, opts)
    pool = ThreadPoolExecutor(len(todo))
    try:
        futures = [(name, pool.submit(run_image, box, opts, gils)) for name, box, gils in todo]
        found = [(name, *future.result()) for name, future in futures]
    except BaseException:
        for box in [*boxes.values(), *(b for spare in (extra or {}).values() for b in spare)]:
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
            cells.append({
                "image": name, "python": python, "method": method, "gil": row.get("gil"),
                "target": name + (f" gil-{row['gil']}" if row.get("gil") else ""),
                "effective_method": image.default_method if method == "default" else method,
                **{k: row[k] for k in ("outcome", "returncode", "duration_s", "stdout", "stderr", "stdout_bytes",
                                       "stderr_bytes", "cut", "events", "waits", "pids_refused",
                                       "ended_by_pids_limit")}})
    order = {m: i for i, m in enumerate(opts.methods)}
    return sorted(cells, key=lambda c: (opts.images.index(c["image"]), order[c["method"]], c["gil"] or ""))


def built(cli, names: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """The images of ``names`` that are built, and those that are not."""
    have, missing = [], []
    for name in names:
        try:
            cli.images.get(matrix.get_image(name).tag)
            have.append(name)
        except docker.errors.ImageNotFound:
            missing.append(name)
    return have, missing


def run(opts: Options, all_images: bool = False) -> tuple[list[dict], dict]:
    """Run every cell. With no --image, the images that are not built are left out (and
    named); an image named with --image must be built."""
    start = time.monotonic()
    try:
        cli = client()
    except DriverError:
        raise DriverError("no Docker daemon answers; start Docker (on Linux: 'sudo systemctl start docker') "
                          "and try again") from None
    skipped = []
    if all_images:
        images, skipped = built(cli, opts.images)
        if not images:
            raise DriverError("no image is built; build them with: scripts/build-images")
        opts.images = tuple(images)
    options = container_options(opts.script)
    try:
        _ARCHIVES[opts.script.parent] = copyin.archive(opts.script.parent, Path(SRC).name)
    except copyin.CopyError as exc:
        raise CheckError(str(exc)) from None
    with MatrixSession(opts.images, cli=cli, container_options=options) as session, ExitStack() as stack:
        # A free-threaded image's other GIL modes get containers of their own, started side by side.
        spare = [LabContainer(cli, matrix.get_image(name), **options)
                 for name in opts.images for _ in gil_axis(matrix.get_image(name))[1:]]
        for box in spare:
            stack.push(box.__exit__)  # removed even if its start is interrupted
        if spare:
            with ThreadPoolExecutor(len(spare)) as starting:
                list(starting.map(LabContainer.__enter__, spare))
        extra: dict[str, list[LabContainer]] = defaultdict(list)
        for box in spare:
            extra[box.image.name].append(box)
        started = time.monotonic()
        cells = run_cells(session.containers, opts, extra)
        ran = time.monotonic()
        every = [*session.containers.values(), *spare]
        with ThreadPoolExecutor(len(every)) as removal:  # side by side; the exits find none left
            list(removal.map(LabContainer.remove, every))
    end = time.monotonic()
    return cells, {"wall_s": round(end - start, 2), "start_s": round(started - start, 2),
                   "cells_s": round(ran - started, 2), "remove_s": round(end - ran, 2), "skipped_images": skipped}


# --------------------------------------------------------------------------- grouping and explaining


def _pids(cell: dict) -> set[int]:
    return {e["pid"] for e in cell["events"] if isinstance(e.get("pid"), int)}


def group(cells: list[dict]) -> list[list[dict]]:
    """Cells that agree (outcome, normalised stdout and stderr, as multisets of lines so
    that the order in which processes interleave does not split them; the name of the
    method in force is normalised too, as the script may print it), largest first; the
    first is the reference (ties: a group that ran to the end, then the earlier cell)."""
    keyed: dict[tuple, list[dict]] = defaultdict(list)
    for cell in cells:
        pids, method = _pids(cell), cell["effective_method"]
        cell["_out"] = signatures.normalise(cell["stdout"], pids, method)
        cell["_err"] = signatures.normalise(cell["stderr"], pids, method)
        keyed[(cell["outcome"], tuple(sorted(cell["_out"])), tuple(sorted(cell["_err"])))].append(cell)
    groups = list(keyed.values())
    order = {id(c): i for i, c in enumerate(cells)}
    groups.sort(key=lambda g: (-len(g), g[0]["outcome"] != "ok", order[id(g[0])]))
    return groups


def _last_line(cell: dict, bound: float) -> str:
    if cell["outcome"] in ("timeout", "deadlock"):
        waits = ", ".join(w for w in cell["waits"] if w and w != "0")
        return f"still running at the {bound:g} s bound" + (f" (threads waiting in: {waits})" if waits else "")
    lines = [ln.strip() for ln in cell["stderr"].splitlines() if ln.strip()]
    return lines[-1] if lines else f"exit code {cell['returncode']}"


def explain_all(cells: list[dict], bound: float) -> list[dict]:
    """Group the cells and give every cell that fails or differs its explanation."""
    groups = group(cells)
    reference = groups[0]
    known = {s.id: s for s in signatures.load(SRC)}
    info = []
    for n, members in enumerate(groups):
        letter = chr(ord("A") + n) if n < 26 else f"G{n}"
        split = set() if n == 0 else signatures.split_facts(members, reference, members[0]["_out"], reference[0]["_out"])
        for cell in members:
            cell["group"], cell["differs"] = letter, n > 0
            facts = signatures.cell_facts(cell) | split
            found = signatures.explain(cell, facts, SRC)
            cell["signatures"] = [s.id for s in found]
            cell["recognised"] = bool(found) or (cell["outcome"] == "ok" and n == 0)
            if found:
                cell["explanation"] = " ".join(f"{s.title}: {s.explain} ({s.docs})" for s in found)
            elif cell["outcome"] != "ok" or n > 0:
                cell["explanation"] = (f"not recognised: {cell['outcome']}, " + _last_line(cell, bound)
                                       if cell["outcome"] != "ok" else
                                       f"not recognised: differs from group A ({_first_difference(cell, reference[0])})")
            else:
                cell["explanation"] = ""
            chosen = [e["mp_method"] for e in cell["events"] if e.get("event") == "exit" and e.get("mp_method")]
            if cell["method"] != "default" and chosen and chosen[-1] != cell["method"]:
                cell["explanation"] += (" " if cell["explanation"] else "") + (
                    f"The script chose its own start method ({chosen[-1]}), which wins over the forced default "
                    f"({cell['method']}), as it would on a platform with that default.")
            if cell["cut"]:
                cell["explanation"] += (" " if cell["explanation"] else "") + "Output cut: " + ", ".join(
                    f"{s} kept its last {OUTPUT_CAP // 1024} KiB of {cell[s + '_bytes']} bytes" for s in cell["cut"]) + "."
        info.append({"group": letter, "outcome": members[0]["outcome"], "cells": [_where(c) for c in members],
                     "signatures": members[0]["signatures"], "explanation": members[0]["explanation"],
                     "brief": [f"{known[i].title} ({known[i].docs})" for i in members[0]["signatures"]] or
                              ([members[0]["explanation"]] if members[0]["explanation"] else [])})
    return info


def _first_difference(cell: dict, ref: dict) -> str:
    for mine, theirs in ((cell["_out"], ref["_out"]), (cell["_err"], ref["_err"])):
        extra = [line for line in mine if line not in theirs] or [f"missing: {line}" for line in theirs if line not in mine]
        if extra:
            return extra[0][:160]
    return "same lines, other counts"


def _where(cell: dict) -> str:
    return f"{cell['target']}/{cell['method']}"


# --------------------------------------------------------------------------- output


def columns(cells: list[dict]) -> list[str]:
    return list(dict.fromkeys(c["target"] for c in cells))


def table(cells: list[dict], methods: list[str]) -> list[str]:
    """A row per method, a column per image (and GIL mode): group letter and outcome."""
    index = {(c["target"], c["method"]): c for c in cells}
    cols = columns(cells)
    first = {t: next(c for c in cells if c["target"] == t) for t in cols}
    rows = [["method", *cols], ["", *(f"{first[t]['python']} {matrix.get_image(first[t]['image']).default_method}"
                                      for t in cols)]]
    for m in methods:
        rows.append([m, *(f"{c['group']} {c['outcome']}" if (c := index.get((t, m))) else "" for t in cols)])
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(text.ljust(w) for text, w in zip(row, widths)).rstrip() for row in rows]


def legend(groups: list[dict]) -> list[str]:
    lines = []
    for g in groups:
        where = g["cells"]
        cells = ", ".join(where[:8]) + (f" … ({len(where)} cells)" if len(where) > 8 else "")
        head = f"{g['group']}  {g['outcome']}  [{cells}]" + ("  (reference)" if g["group"] == "A" else "")
        lines.append(head)
        lines += [f"   → {line}" for line in g["brief"]]  # the whole explanation is in check.md/html/json
    return lines


def exit_code(cells: list[dict], groups: list[dict], fail_on: str) -> int:
    failed = any(c["outcome"] != "ok" for c in cells)
    return int({"differ": failed or len(groups) > 1, "error": failed, "never": False}[fail_on])


def context(cells: list[dict], groups: list[dict], opts: Options, run: dict) -> dict:
    return {"script": opts.script.name, "args": opts.args, "cells": cells, "groups": groups,
            "columns": columns(cells), "methods": list(opts.methods), "run": run,
            "index": {(c["target"], c["method"]): c for c in cells},
            "pythons": {c["target"]: (c["python"], matrix.get_image(c["image"]).default_method) for c in cells},
            "failed": sum(c["outcome"] != "ok" for c in cells)}


def markdown(ctx: dict) -> str:
    cols = ctx["columns"]
    head = "| method | " + " | ".join(f"{t} ({ctx['pythons'][t][0]}, default {ctx['pythons'][t][1]})" for t in cols) + " |"
    lines = [f"### Check of `{ctx['script']}`: {len(ctx['groups'])} group(s), {ctx['failed']}/{len(ctx['cells'])} "
             "cells fail", "",
             "A cell shows its group (cells whose outcome and normalised output agree) and its outcome; "
             "group A is the reference.", "", head, "|---|" + "---|" * len(cols)]
    for m in ctx["methods"]:
        row = [f"{c['group']} `{c['outcome']}`" if (c := ctx["index"].get((t, m))) else "" for t in cols]
        lines.append(f"| {m} | " + " | ".join(row) + " |")
    lines += ["", "#### Groups", ""]
    for g in ctx["groups"]:
        lines.append(f"- **{g['group']}** `{g['outcome']}`: {', '.join(g['cells'])}" +
                     (f"  \n  {g['explanation']}" if g["explanation"] else ""))
    return "\n".join(lines) + "\n"


def html(ctx: dict) -> str:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True)
    return env.get_template("check.html.j2").render(**ctx)


PUBLIC = ("image", "python", "method", "gil", "effective_method", "outcome", "returncode", "duration_s", "group",
          "differs", "explanation", "signatures", "recognised", "stdout", "stderr", "stdout_bytes", "stderr_bytes",
          "cut", "events", "pids_refused", "ended_by_pids_limit")


def write(ctx: dict, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    cells = [{k: c[k] for k in PUBLIC} for c in ctx["cells"]]
    data = {"script": ctx["script"], "args": ctx["args"], "run": ctx["run"], "groups": ctx["groups"], "cells": cells}
    (out / "check.json").write_text(json.dumps(data, indent=1, sort_keys=True))
    (out / "check.md").write_text(markdown(ctx))
    (out / "check.html").write_text(html(ctx))


def main(argv: list[str]) -> int:
    if any(a == "--project" or a.startswith("--project=") for a in argv[:argv.index("--") if "--" in argv else None]):
        from .project import command  # a whole project's suite: labmatrix/project/command.py
        return command.main(argv)
    try:
        opts = parse(argv)
        cells, run_info = run(opts, all_images=not any(a == "--image" or a.startswith("--image=") for a in argv))
    except HelpRequested:
        print(__doc__.strip())
        return 0
    except CheckError as exc:
        print(f"check: {exc}", file=sys.stderr)
        return 2
    except DriverError as exc:
        print(f"check: {exc}", file=sys.stderr)
        return 2
    groups = explain_all(cells, opts.timeout)
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


if __name__ == "__main__":
    cli.run(main, "check: interrupted; its containers and scratch folders are removed")
