"""Copy a user's folder into a container (the Docker SDK's ``put_archive``), never mounting it.

A project or script usually lives in a home folder of mode 0700 or 0750 that the images'
user (uid 1000) cannot read through a bind mount; a copy needs no change of permissions
and leaves the user's folder untouched. The copy is owned by root with modes 0755/0644, so
the checked code can read it but not write into it (as a read-only mount did). Folders
that are never part of a project's sources (version control, virtualenvs, caches) are left
out, and the copy has a size cap, so that a script kept in a large home folder is refused
with one line rather than copied for minutes.
"""

from __future__ import annotations

import io
import os
import stat
import tarfile
from pathlib import Path, PurePosixPath

#: Folder names that are never copied: version control, virtualenvs, build and tool caches.
SKIP = frozenset({".git", ".hg", ".svn", ".tox", ".nox", ".venv", "venv", ".env", "env", "node_modules",
                  "__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".cache", ".eggs",
                  ".ipynb_checkpoints", ".idea", ".vscode"})
CAP_BYTES = 200 * 1024 * 1024
CAP_FILES = 20_000


class CopyError(Exception):
    """The folder cannot be copied (too big, unreadable): one line that names the fix."""


def archive(folder: Path, name: str, extra: dict[str, bytes] | None = None) -> bytes:
    """A tar of ``folder`` as ``name/`` (plus ``extra`` files, by relative path), owned by
    root, directories 0755 and files 0644 (0755 where the owner could execute it)."""
    buf = io.BytesIO()
    total, files = 0, 0
    with tarfile.open(fileobj=buf, mode="w") as tar:
        _add_dir(tar, name)
        for root, dirs, names in os.walk(folder):
            dirs[:] = sorted(d for d in dirs if d not in SKIP and not d.endswith(".egg-info"))
            rel = PurePosixPath(name, Path(root).relative_to(folder).as_posix())
            for d in dirs:
                if not os.path.islink(os.path.join(root, d)):
                    _add_dir(tar, str(rel / d))
            for file in sorted(names):
                path = os.path.join(root, file)
                try:
                    st = os.stat(path)
                except OSError:
                    continue  # a dangling link
                if not stat.S_ISREG(st.st_mode):
                    continue
                total += st.st_size
                files += 1
                if total > CAP_BYTES or files > CAP_FILES:
                    raise CopyError(f"{folder} holds more than {CAP_BYTES >> 20} MB or {CAP_FILES} files to copy; "
                                    "move the code into a folder of its own")
                try:
                    data = Path(path).read_bytes()
                except OSError as exc:
                    raise CopyError(f"cannot read {path}: {exc.strerror}") from None
                _add_file(tar, str(rel / file), data, 0o755 if st.st_mode & stat.S_IXUSR else 0o644)
        for rel_name, data in (extra or {}).items():
            _add_file(tar, f"{name}/{rel_name}", data, 0o644)
    return buf.getvalue()


def _add_dir(tar: tarfile.TarFile, name: str) -> None:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.uid, info.gid = tarfile.DIRTYPE, 0o755, 0, 0
    tar.addfile(info)


def _add_file(tar: tarfile.TarFile, name: str, data: bytes, mode: int) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.uid, info.gid = len(data), mode, 0, 0
    tar.addfile(info, io.BytesIO(data))


def put(container, parent: str, data: bytes) -> None:
    """Unpack the tar ``data`` under ``parent`` in a running container (docker SDK
    ``Container.put_archive``; the daemon writes the files, so no user of the container
    needs to be able to write ``parent``)."""
    if not container.put_archive(parent, data):
        raise CopyError(f"the daemon refused to copy into {parent} of {container.name}")
