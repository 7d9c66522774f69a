"""scripts/verify-arm64: the arm64 images, built and run here under QEMU user emulation.

Not part of CI (emulation is far too slow for it): a verification with a figure line.
Every image that needs no compile (all but the free-threaded ones) is built for arm64
from arm64 mmdebstrap bases and an arm64 wheelhouse, in a second, empty Docker daemon
(labmatrix/loopback.py: the arm64 bases and images never meet this host's amd64 ones),
from a fresh copy of the project. The matrix then runs in them, every cell but the timing
cells (session.SOLO: their figures mean nothing under emulation), against the same
expectations as on amd64. Everything is removed afterwards; the report is kept in
results/arm64/.

Needs root: binfmt_misc is mounted if it is not, and Debian's qemu-user-static (with
binfmt-support) registers qemu-aarch64 with the F flag, so containers find it; mmdebstrap
needs arch-test for a foreign architecture.

    scripts/verify-arm64 [--keep] [--clean]
    arch arch=arm64 images=<n> cells=<n> ok=<n> wall_s=<s>
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from . import matrix
from .cli import run
from .container import client
from .loopback import FreshDaemon, fresh_clone

ARCH = "arm64"
BINFMT = Path("/proc/sys/fs/binfmt_misc")
OUT = matrix.ROOT / "results" / "arm64"
#: ``--keep``: the arm64 daemon's data root (bases, images, build cache), so that the next
#: run builds nothing again; ``--clean`` removes it first. Building takes about an hour
#: under emulation.
KEPT = matrix.ROOT / ".cache" / "verify-arm64"
#: QEMU's CPU model for the lab processes: every feature but pointer authentication.
#: Debian builds arm64 with PAC and BTI since dpkg 1.22.0 (-mbranch-protection=standard,
#: https://wiki.debian.org/ToolChain/PACBTI): the trixie, sid and experimental Pythons
#: (3.13, 3.14, 3.15) sign and check the return address of every non-leaf function, and
#: QEMU computes each signature with the architected QARMA5 cipher (QEMU
#: documentation, "Arm CPU Features", pauth-impdef). Measured here, a 600,000-step
#: Python loop: 2.7 s on 3.13 and 4.6 s on 3.15, against 0.14 s on bookworm's 3.11 (built
#: before dpkg 1.22); with pauth=off the PAC instructions, all in the HINT space, run as
#: NOPs, as on an Armv8.0 core, and 3.13 and 3.15 take 0.19 and 0.21 s.
QEMU_CPU = "max,pauth=off"
#: Every bound (labkit's and the driver's) multiplied under emulation (matrix.TIME_SCALE_ENV).
TIME_SCALE = "8"


class VerifyError(Exception):
    """One line: what is missing and how to get it."""


def binfmt() -> None:
    """QEMU's aarch64 interpreter registered for every process (containers too)."""
    if not shutil.which("arch-test"):
        raise VerifyError("mmdebstrap needs arch-test for a foreign architecture; install it: apt-get install arch-test")
    if not (BINFMT / "register").exists():
        done = subprocess.run(["mount", "-t", "binfmt_misc", "binfmt_misc", str(BINFMT)], capture_output=True, text=True)
        if done.returncode:
            raise VerifyError(f"cannot mount binfmt_misc ({done.stderr.strip()}); run as root")
    if not (BINFMT / "qemu-aarch64").exists():
        if not shutil.which("update-binfmts") or not Path("/usr/share/binfmts/qemu-aarch64").exists():
            raise VerifyError("qemu-aarch64 is not registered; install it: apt-get install qemu-user-static binfmt-support")
        subprocess.run(["update-binfmts", "--enable", "qemu-aarch64"], capture_output=True)
    entry = (BINFMT / "qemu-aarch64").read_text() if (BINFMT / "qemu-aarch64").exists() else ""
    if "enabled" not in entry or "flags: " not in entry or "F" not in entry.split("flags: ")[1].split()[0]:
        raise VerifyError("qemu-aarch64 is not registered with the F flag; reinstall qemu-user-static")


def main(argv: list[str]) -> int:
    start = time.monotonic()
    images = [i.name for i in matrix.images() if not i.free_threaded]
    unknown = sorted(set(argv) - {"--keep", "--clean"})
    if unknown:  # refused before any side effect (binfmt_misc's mount)
        print(f"verify-arm64: unknown argument '{unknown[0]}'; usage: scripts/verify-arm64 [--keep] [--clean]",
              file=sys.stderr)
        return 2
    try:
        binfmt()
    except VerifyError as exc:
        print(f"verify-arm64: {exc}", file=sys.stderr)
        return 3
    os.environ[matrix.TIME_SCALE_ENV] = TIME_SCALE  # the driver's bounds here, labkit's in the containers
    os.environ[matrix.EMULATOR_CPU_ENV] = QEMU_CPU  # every lab process's emulator (matrix.container_env)
    keep = "--keep" in argv
    if "--clean" in argv:
        shutil.rmtree(KEPT, ignore_errors=True)
    storage = client().info()["Driver"]
    with tempfile.TemporaryDirectory(prefix="verify-arm64-") as tmp, \
            FreshDaemon(storage, KEPT if keep else None) as fresh:
        clone = fresh_clone(Path(tmp) / "clone")
        (clone / ".venv").symlink_to(matrix.ROOT / ".venv")
        # The second daemon makes no NAT rules (it must not touch the shared daemon's
        # iptables chains), so its image builds reach the Debian mirror on the host's
        # network: a Compose override gives every build `network: host`.
        override = Path(tmp) / "compose.build-network.yaml"
        override.write_text("services:\n" + "".join(f"  {n}:\n    build:\n      network: host\n" for n in images))
        env = {**os.environ, "DOCKER_HOST": fresh.host, "BASE_ARCH": ARCH, "WHEEL_ARCH": ARCH,
               "DOCKER_DEFAULT_PLATFORM": f"linux/{ARCH}", matrix.REGISTRY_ENV: matrix.IMAGE_REPO,
               "COMPOSE_FILE": os.pathsep.join([str(clone / "compose.yaml"), str(override)])}
        build_start = time.monotonic()
        built = subprocess.run([clone / "scripts" / "build-images", *images], cwd=clone, env=env)
        if built.returncode:
            print("verify-arm64: building the arm64 images failed (see above)", file=sys.stderr)
            return 1
        build_s = time.monotonic() - build_start
        os.environ["DOCKER_HOST"] = fresh.host  # the driver's container.client()
        arches = {name: fresh.client().images.get(matrix.get_image(name).tag).attrs["Architecture"] for name in images}
        wrong = {n: a for n, a in arches.items() if a != ARCH}
        if wrong:
            print(f"verify-arm64: built for another architecture: {wrong}", file=sys.stderr)
            return 1
        from .session import MatrixSession, Selection, is_solo

        sel = Selection.pick(images)
        todo = [c for c in sel.cells(images) if not is_solo(c.lab, c.method)]
        with MatrixSession(images) as run:
            results = list(run.run(todo).values())
            run.write_report(sel, OUT)
    bad = [r for r in results if not r.ok]
    for r in bad:
        print(f"✗ {r.variant} {r.lab} {r.method}: {'; '.join(r.problems)}")
    print(f"verify-arm64: build_s={build_s:.0f}; report in {OUT.relative_to(matrix.ROOT)}/")
    print(f"arch arch={ARCH} images={len(images)} cells={len(results)} ok={len(results) - len(bad)} "
          f"wall_s={time.monotonic() - start:.0f}")
    return 1 if bad else 0


if __name__ == "__main__":
    run(main, "verify-arm64", "verify-arm64: interrupted; its daemon and images are removed")
