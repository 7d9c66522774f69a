"""The free-threaded image's plumbing that needs no Docker: its source tarball (fetched and
verified, a failure is one line naming the file and the mirror), and the GIL axis
(ids, the --gil filter, the ``gil`` selector of the expectations)."""

from __future__ import annotations

import hashlib
import http.server
import lzma
import os
import re
import subprocess
import sys
import threading

import pytest

from labmatrix import expect, matrix
from labmatrix.session import Selection, SelectionError

FT = [i for i in matrix.images() if i.free_threaded]
GIL_BUILD = next(i for i in matrix.images() if not i.free_threaded)


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def fake_mirror(tmp_path):
    """A mirror whose suite ``fake`` lists tool_1.orig.tar.xz under the SHA-256 of other
    bytes, and gone_2.orig.tar.xz, which its pool does not hold."""
    root = tmp_path / "mirror"
    pool = root / "pool" / "main" / "t" / "tool"
    pool.mkdir(parents=True)
    (pool / "tool_1.orig.tar.xz").write_bytes(b"not the listed tarball")
    listed = hashlib.sha256(b"the listed tarball").hexdigest()
    index = root / "dists" / "fake" / "main" / "source"
    index.mkdir(parents=True)
    stanzas = [f"Package: {name}\nVersion: {version}-1\nDirectory: pool/main/t/tool\nChecksums-Sha256:\n"
               f" {listed} 18 {name}_{version}.orig.tar.xz\n" for name, version in (("tool", "1"), ("gone", "2"))]
    (index / "Sources.xz").write_bytes(lzma.compress("\n".join(stanzas).encode()))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), lambda *a, **k: _Quiet(*a, directory=str(root), **k))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def fetch_source(spec, mirror, dest):
    return subprocess.run([sys.executable, "-m", "labmatrix.debian", "source", spec, "--suite", "fake",
                           "--dest", str(dest)], cwd=matrix.ROOT, env={"DEBIAN_MIRROR": mirror, "PATH": os.environ["PATH"]},
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(("spec", "message"), [
    ("tool=1", r"debian: tool_1\.orig\.tar\.xz from http://127\.0\.0\.1:\d+: SHA-256 [0-9a-f]{64} is not the index's [0-9a-f]{64}"),
    ("gone=2", r"debian: http://127\.0\.0\.1:\d+/pool/main/t/tool/gone_2\.orig\.tar\.xz: HTTP 404; check .*"),
    ("tool=9", r"debian: tool_9\.orig\.tar\.xz: not in fake's Sources index at http://127\.0\.0\.1:\d+; fix the image's source in matrix.toml"),
    ("tool", r"debian: bad source 'tool'; write it as <source package>=<upstream version>, e\.g\. python3\.13=3\.13\.5"),
])
def test_bad_source_is_one_line_and_leaves_nothing(fake_mirror, tmp_path, spec, message):
    proc = fetch_source(spec, fake_mirror, tmp_path / "sources")
    assert proc.returncode == 1, proc.stdout
    assert re.fullmatch(message, proc.stderr.strip()), proc.stderr
    assert not (tmp_path / "sources").exists() or not any((tmp_path / "sources").iterdir()), "a bad tarball was kept"


def test_a_cached_tarball_that_changed_is_refused(fake_mirror, tmp_path):
    dest = tmp_path / "sources"
    dest.mkdir()
    (dest / "tool_1.orig.tar.xz").write_bytes(b"tampered")
    (dest / "tool_1.orig.tar.xz.sha256").write_text(f"{hashlib.sha256(b'original').hexdigest()}  tool_1.orig.tar.xz\n")
    proc = fetch_source("tool=1", fake_mirror, dest)
    assert proc.returncode == 1
    assert re.fullmatch(r"debian: \S+/tool_1\.orig\.tar\.xz: SHA-256 [0-9a-f]{64} is not the [0-9a-f]{64} that fake's "
                        r"Sources index at http://127\.0\.0\.1:\d+ lists; delete it to fetch it again", proc.stderr.strip())


def test_matrix_names_the_source_debian_ships():
    for image in FT:
        package, _, version = image.source.partition("=")
        assert image.python == image.debian_python + "t"
        assert package == f"python{image.debian_python}" and version.startswith(image.debian_python + ".")
        assert matrix.source_file(image.source) == f"{package}_{version}.orig.tar.xz"


@pytest.mark.skipif(not FT, reason="no free-threaded image in matrix.toml")
def test_gil_axis_ids_and_variants():
    sel = Selection.pick([FT[0].name, GIL_BUILD.name], ["gil_switch"], ["fork"])
    assert [c.id for c in sel.cells()] == [f"gil_switch-{FT[0].name}-fork-gil_off",
                                           f"gil_switch-{FT[0].name}-fork-gil_on",
                                           f"gil_switch-{GIL_BUILD.name}-fork"]
    assert sel.variants() == [(FT[0].name, "off"), (FT[0].name, "on"), (GIL_BUILD.name, "")]
    off = Selection.pick(gils=["off"])
    assert off.images == tuple(i.name for i in FT) and {c.gil for c in off.cells()} == {"off"}
    on = Selection.pick([FT[0].name, GIL_BUILD.name], gils=["on"])
    assert set(on.variants()) == {(FT[0].name, "on"), (GIL_BUILD.name, "")}
    assert off.slug() == "+".join(sorted(i.name for i in FT)) + ".gil_off"


def test_gil_off_on_gil_builds_is_one_line():
    with pytest.raises(SelectionError, match=r"^--gil off: py3\.9 has the GIL always on; the GIL axis exists only "
                                             r"on free-threaded images: .*$"):
        Selection.pick(["py3.9"], gils=["off"])
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_matrix.py",
                           "--image", "py3.14", "--gil", "off"], cwd=matrix.ROOT, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 4, proc.stdout + proc.stderr
    assert "--gil off: py3.14 has the GIL always on" in proc.stderr and "Traceback" not in proc.stderr
    lab = subprocess.run([str(matrix.ROOT / "scripts" / "lab"), "gil_switch", "--image", "py3.14", "--gil", "off"],
                         cwd=matrix.ROOT, capture_output=True, text=True, timeout=120)
    assert lab.returncode == 2 and lab.stderr.strip().splitlines() == [
        f"lab: --gil off: py3.14 has the GIL always on; the GIL axis exists only on free-threaded images: "
        f"{', '.join(i.name for i in FT)}"], lab.stderr


def test_gil_selector_reads_the_cell_s_mode():
    """The same lab, version and method: the rule for ``gil = ["off"]`` applies to the GIL-off
    cell only; a GIL build counts as ``always``."""
    def exp(gil):
        return expect.expected("races_without_gil", "3.13.5", "fork", "linux", gil).obs["counter_lost_updates"]
    assert (exp("off"), exp("on"), exp("")) == (True, False, False)
    assert expect._matches({"gil": ["always"]}, "3.13.5", "fork", "linux", "")
    assert not expect._matches({"gil": ["always"]}, "3.13.5", "fork", "linux", "on")
