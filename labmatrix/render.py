"""Render the files that follow matrix.toml: compose.yaml, the README's image table and the
kernel table of the workshop's landing page (labs/README.md).

    python -m labmatrix.render          write them
    python -m labmatrix.render --check  exit 1 if a rendered file is out of date
"""

import re
import sys

import jinja2

from . import matrix

TEMPLATES = matrix.ROOT / "labmatrix" / "templates"
README_MARK = re.compile(r"(<!-- matrix:begin -->\n).*?(<!-- matrix:end -->)", re.S)
KERNELS_MARK = re.compile(r"(<!-- kernels:begin -->\n).*?(<!-- kernels:end -->)", re.S)
BEHAVES_LIKE = {"linux": "Linux", "macos": "macOS (spawn is the platform default)",
                "windows": "Windows (spawn only)"}


def port_var(image: matrix.Image) -> str:
    return "PORT_" + re.sub(r"[^A-Z0-9]", "_", image.name.upper())


def compose_yaml() -> str:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), keep_trailing_newline=True,
                             undefined=jinja2.StrictUndefined)
    images = [dict(vars(i), tag=i.tag, port_var=port_var(i)) for i in matrix.images()]
    return env.get_template("compose.yaml.j2").render(
        images=images, mirror=matrix.mirror(), label=matrix.LABEL)


def readme_table() -> str:
    rows = ["| image | Debian suite | Python | default start method | JupyterLab port | why |",
            "|---|---|---|---|---|---|"]
    for i in matrix.images():
        rows.append(f"| `{i.name}` | {i.suite} | {i.python} | {i.default_method} | "
                    f"[127.0.0.1:{i.port}](http://127.0.0.1:{i.port}/lab) | {i.why} |")
    return "\n".join(rows) + "\n"


def kernels_table() -> str:
    """The landing page's table: which JupyterLab serves which Python and default method."""
    rows = ["| JupyterLab | Python | default start method | behaves like | port (`.env` variable) |",
            "|---|---|---|---|---|"]
    for i in matrix.images():
        rows.append(f"| `{i.name}` | {i.python} | **{i.default_method}** | {BEHAVES_LIKE[i.platform]} | "
                    f"[{i.port}](http://127.0.0.1:{i.port}/lab) (`{port_var(i)}`) |")
    return "\n".join(rows) + "\n"


def outputs() -> dict:
    readme = (matrix.ROOT / "README.md")
    landing = matrix.LABS_DIR / "README.md"
    files = {matrix.ROOT / "compose.yaml": compose_yaml()}
    if readme.exists():
        files[readme] = README_MARK.sub(lambda m: m.group(1) + readme_table() + m.group(2),
                                        readme.read_text())
    if landing.exists():
        files[landing] = KERNELS_MARK.sub(lambda m: m.group(1) + kernels_table() + m.group(2),
                                          landing.read_text())
    return files


def main(argv: list[str]) -> int:
    stale = [p for p, text in outputs().items() if not p.exists() or p.read_text() != text]
    if "--check" in argv:
        for path in stale:
            print(f"{path.name} is out of date with matrix.toml; run scripts/render")
        return 1 if stale else 0
    for path, text in outputs().items():
        path.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
