"""The workshop's ``.env``: checked line by line before Docker Compose reads it.

Stdlib only: ``scripts/workshop`` runs it with the host's ``python3``

    python3 -m labmatrix.envfile ENV_FILE IMAGE ...

and reads ``token <token>`` and then ``port <image> <port> <variable>`` (one per image)
from its output. A line that Compose would refuse, or a port that is not a port, ends it
with one line that names the line of the file (exit 1). A missing or blank
``JUPYTER_TOKEN`` is replaced by a random one, written to the file (mode 600).

The rules follow Compose's own ``.env`` syntax
(https://docs.docker.com/compose/how-tos/environment-variables/variable-interpolation/#env-file-syntax):
``KEY=VALUE`` (or ``export KEY=VALUE``, ``KEY: VALUE``, a bare ``KEY``), ``#`` comments,
single quotes literal, double quotes and unquoted values interpolated with ``${VAR}``,
``${VAR:-default}``, ``${VAR:?error}`` and the like.
"""

from __future__ import annotations

import os
import re
import secrets
import sys
from pathlib import Path

from . import matrix
from .cli import run
from .errors import BadInput

PORTS = (1024, 65535)
TOKEN_VAR = "JUPYTER_TOKEN"
_LINE = re.compile(r"\s*(?:export\s+)?(?P<key>[A-Za-z0-9_.\-]+)\s*(?:(?P<sep>[=:])\s?(?P<rest>.*))?\Z", re.S)
_EXPR = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^${}]*))?\}")


class EnvError(BadInput):
    """One line for the user: what is wrong, where, and how to fix it."""


def port_var(image: matrix.Image) -> str:
    return "PORT_" + re.sub(r"[^A-Z0-9]", "_", image.name.upper())


def _interpolate(value: str, known: dict[str, str]) -> str:
    """Compose's interpolation of ``$VAR`` and ``${...}`` (innermost first), or EnvError."""
    while "${" in value:
        match = _EXPR.search(value)
        if not match:
            raise EnvError(f"'{value}' has an unfinished or invalid ${{...}}")
        name, op, arg = match["name"], match["op"] or "", match["arg"] or ""
        current = known.get(name)
        unset = current is None or (op.startswith(":") and current == "")
        if op.endswith("?") and unset:
            raise EnvError(f"${{{name}{op}{arg}}} fails because {name} is not set")
        if op.endswith("-"):
            current = arg if unset else current
        elif op.endswith("+"):
            current = "" if unset else arg
        value = value[:match.start()] + (current or "") + value[match.end():]
    return re.sub(r"\$([A-Za-z_][A-Za-z0-9_]*)", lambda m: known.get(m[1], ""), value)


def parse(text: str, environ: dict[str, str]) -> dict[str, tuple[int, str]]:
    """Each key's (line number, value), as Compose reads the file; EnvError on a bad line."""
    found: dict[str, tuple[int, str]] = {}
    lines = text.splitlines()
    number = 0
    while number < len(lines):
        start, line = number + 1, lines[number]
        number += 1
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _LINE.match(line)
        try:
            if not match:
                raise EnvError("is not a VARIABLE=value line")
            rest = (match["rest"] or "").lstrip()
            if rest[:1] in ("'", '"'):
                quote = rest[0]
                body = rest[1:]
                # A quoted value may span lines; it must end with its quote.
                while not re.search(rf"(?<!\\){quote}", body):
                    if number >= len(lines):
                        raise EnvError(f"has an unterminated {quote} quote")
                    body += "\n" + lines[number]
                    number += 1
                closing = re.search(rf"(?<!\\){quote}", body)
                assert closing is not None  # the loop above read up to the closing quote
                end = closing.start()
                value = body[:end]
                if quote == '"':
                    value = _interpolate(value.replace('\\"', '"'), {**environ, **_values(found)})
            else:
                value = _interpolate(re.sub(r"\s+#.*", "", rest).strip(), {**environ, **_values(found)})
        except EnvError as exc:
            raise EnvError(f"line {start} ({line.strip()[:40]}) {exc}") from None
        found[match["key"]] = (start, value)
    return found


def _values(found: dict[str, tuple[int, str]]) -> dict[str, str]:
    return {key: value for key, (_, value) in found.items()}


def _port(text: str, where: str, var: str, default: int) -> int:
    if not re.fullmatch(r"\d+", text) or not PORTS[0] <= int(text) <= PORTS[1]:
        raise EnvError(f"{where}: {var}={text} is not a port; use a number {PORTS[0]}-{PORTS[1]}, "
                       f"e.g. {var}={default + 10000 if default + 10000 <= PORTS[1] else default}")
    return int(text)


def prepare(path: Path, images: list[matrix.Image], environ: dict[str, str]) -> tuple[str, bool, dict[str, int]]:
    """The token (made and written if missing or blank), whether it is new, and each image's port."""
    name = str(path)
    try:
        text = path.read_text() if path.exists() else ""
    except (OSError, UnicodeDecodeError) as exc:
        raise EnvError(f"cannot read {path}: {exc}") from None
    try:
        found = parse(text, environ)
    except EnvError as exc:
        raise EnvError(f"{name} {exc}; fix or delete that line") from None
    ports = {}
    for image in images:
        var = port_var(image)
        if var in environ:  # Compose lets the shell's environment win over the file
            ports[image.name] = _port(environ[var], "the environment", var, image.port)
        elif var in found:
            line, value = found[var]
            ports[image.name] = _port(value, f"{name} line {line}", var, image.port)
        else:
            ports[image.name] = image.port
    token = environ.get(TOKEN_VAR, "").strip() or found.get(TOKEN_VAR, (0, ""))[1].strip()
    if token:
        return token, False, ports
    token = secrets.token_hex(24)
    kept = [ln for ln in text.splitlines() if not re.match(rf"\s*(export\s+)?{TOKEN_VAR}\b", ln)]
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write("".join(f"{ln}\n" for ln in [*kept, f"{TOKEN_VAR}={token}"]))
    os.chmod(path, 0o600)  # it holds the token: readable only by its owner
    return token, True, ports


def main(argv: list[str]) -> int:
    if not argv:
        raise BadInput("usage: python3 -m labmatrix.envfile ENV_FILE IMAGE ...")
    path = Path(argv[0])
    try:
        images = [matrix.get_image(name) for name in argv[1:]]
    except KeyError as exc:
        raise BadInput(f"unknown image {exc}") from None
    token, new, ports = prepare(path, images, dict(os.environ))
    if new:
        print(f"workshop: wrote a random {TOKEN_VAR} to {path} (keep it; delete the line for a new one)",
              file=sys.stderr)
    print(f"token {token}")
    for image in images:
        print(f"port {image.name} {ports[image.name]} {port_var(image)}")
    return 0


if __name__ == "__main__":
    run(main, "workshop")
