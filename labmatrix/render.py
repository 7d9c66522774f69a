"""Render the files that follow matrix.toml: compose.yaml, the image and lab tables of
docs/driver.md, the kernel and lab tables of the workshop's landing page (labs/README.md),
and the hub's profiles and Zero to JupyterHub config (labmatrix/hub/command.py).

    python -m labmatrix.render          write them
    python -m labmatrix.render --check  exit 1 if a rendered file is out of date
"""

import ast
import re

from . import matrix, templates
from .cli import run
from .envfile import port_var
from .errors import BadInput
from .hardening import HARDENING
from .hub import command as hub


def _mark(name: str) -> re.Pattern:
    return re.compile(rf"(<!-- {name}:begin -->\n).*?(<!-- {name}:end -->)", re.S)
BEHAVES_LIKE = {"linux": "Linux", "macos": "macOS (spawn is the platform default)",
                "windows": "Windows (spawn only)"}


def compose_yaml() -> str:
    images = [dict(vars(i), tag=i.tag, port_var=port_var(i), debian_python=i.debian_python,
                   source_file=i.source and matrix.source_file(i.source)) for i in matrix.images()]
    return templates.render(
        "compose.yaml.j2",
        images=images, mirror=matrix.mirror(override=False), label=matrix.LABEL, hardening=HARDENING,
        image_label=matrix.IMAGE_LABEL, method_label=matrix.METHOD_LABEL, run_label_env=matrix.RUN_LABEL_ENV,
        repo=matrix.IMAGE_REPO, registry_env=matrix.REGISTRY_ENV, registry=matrix.registry_setting())


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join([*lines, *("| " + " | ".join(row) + " |" for row in rows)]) + "\n"


def images_table() -> str:
    """docs/driver.md's table: every image with its suite, Python, default method, port and why."""
    return _table(["image", "Debian suite", "Python", "default start method", "JupyterLab port", "why"],
                  [[f"`{i.name}`", i.suite, i.python, i.default_method,
                    f"[127.0.0.1:{i.port}](http://127.0.0.1:{i.port}/lab)", i.why] for i in matrix.images()])


def kernels_table() -> str:
    """The landing page's table: which JupyterLab serves which Python and default method."""
    return _table(["JupyterLab", "Python", "default start method", "behaves like", "port (`.env` variable)"],
                  [[f"`{i.name}`", f"{i.python} (**no GIL**)" if i.free_threaded else i.python,
                    f"**{i.default_method}**", BEHAVES_LIKE[i.platform],
                    f"[{i.port}](http://127.0.0.1:{i.port}/lab) (`{port_var(i)}`)"] for i in matrix.images()])


def labs_table() -> str:
    """Every lab with the first line of its docstring (the lesson), from the lab files."""
    rows = []
    for name in matrix.lab_names():
        doc = (ast.get_docstring(ast.parse((matrix.LABS_DIR / f"{name}.py").read_text())) or "").strip()
        rows.append([f"[`{name}`]({name}.py)", doc.splitlines()[0] if doc else ""])
    return _table(["lab", "the lesson"], rows)


# Rendered blocks: (file, marker, text). Each file must hold its <!-- marker:begin/end -->
# pair: a block that lost its markers is an error, never silently left stale.
BLOCKS = [
    (matrix.ROOT / "docs" / "driver.md", "matrix", images_table),
    (matrix.ROOT / "docs" / "driver.md", "labs", lambda: labs_table().replace("](", "](../labs/")),
    (matrix.LABS_DIR / "README.md", "kernels", kernels_table),
    (matrix.LABS_DIR / "README.md", "labs", labs_table),
]


def outputs() -> dict:
    files = {matrix.ROOT / "compose.yaml": compose_yaml()}
    files.update(hub.outputs())  # the hub's profiles and the Zero to JupyterHub config
    for path, name, text in BLOCKS:
        current = files.get(path, path.read_text())
        found = _mark(name).search(current)
        if not found:
            raise BadInput(f"{path.relative_to(matrix.ROOT)} has no <!-- {name}:begin --> ... "
                               f"<!-- {name}:end --> block to render into")
        files[path] = current[:found.end(1)] + text() + current[found.start(2):]
    return files


def main(argv: list[str]) -> int:
    rendered = outputs()
    stale = [p for p, text in rendered.items() if not p.exists() or p.read_text() != text]
    if "--check" in argv:
        for path in stale:
            print(f"{path.name} is out of date with matrix.toml; run scripts/render")
        return 1 if stale else 0
    for path, text in rendered.items():
        path.write_text(text)
    return 0


if __name__ == "__main__":
    run(main, "render")
