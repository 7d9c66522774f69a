"""scripts/bench-pull: from no local image to every workshop healthy, pulling from a
loopback registry (docs/publishing.md).

The images built here are published to a registry on 127.0.0.1 (not timed); a second,
empty Docker daemon is the fresh host, and a copy of the project's tracked files is its
fresh clone. Timed there: pulling every image (``pull_s``, what scripts/workshop does
first) and ``scripts/workshop`` bringing every JupyterLab up healthy (``up_s``).
``compressed_mb`` is what a host downloads: the registry's compressed layers and configs
of every image, each shared layer once. Everything it starts is removed, on failure too.

    pull images=<n> compressed_mb=<MB> pull_s=<s> up_s=<s>
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from . import matrix, publish, registry
from .cli import run
from .compose import project_env
from .container import client, free_port
from .loopback import FreshDaemon, LoopbackRegistry, fresh_clone


def compressed_bytes(repo: str, records: dict) -> int:
    """The registry's blobs of the pushed manifests, each digest once."""
    host = registry.host(repo)
    path = repo.removeprefix(host + "/")
    sizes = {}
    for entry in records.values():
        req = urllib.request.Request(f"http://{host}/v2/{path}/manifests/{entry['digest']}",
                                     headers={"Accept": ", ".join(publish.MANIFEST_TYPES)})
        with urllib.request.urlopen(req, timeout=30) as resp:
            manifest = json.load(resp)
        for blob in [manifest["config"], *manifest["layers"]]:
            sizes[blob["digest"]] = blob["size"]
    return sum(sizes.values())


def main(argv: list[str]) -> int:
    names = matrix.image_names()

    storage = client().info()["Driver"]
    with tempfile.TemporaryDirectory(prefix="bench-pull-") as folder:
        tmp = Path(folder)
        with LoopbackRegistry(tmp / "registry") as reg, FreshDaemon(storage) as fresh:
            os.environ[matrix.REGISTRY_ENV] = reg.repo
            out = tmp / "publish"
            records = publish.push(names, None, out, say=lambda line: None)
            publish.merge(out, say=lambda line: None)
            mb = compressed_bytes(reg.repo, records) / 1e6
            clone = fresh_clone(tmp / "clone")
            env = project_env(f"concurrency-lab-bench-pull-{os.getpid()}", tmp / "bench.env", {n: free_port() for n in names})
            env.update({matrix.REGISTRY_ENV: reg.repo, "DOCKER_HOST": fresh.host})
            start = time.monotonic()
            pulled = subprocess.run([sys.executable, "-m", "labmatrix.registry", "pull", "bench", "--always", *names],
                                    cwd=clone, env=env, capture_output=True, text=True)
            pull_s = time.monotonic() - start
            if pulled.returncode or pulled.stdout.strip():
                print(f"bench-pull: pulling failed: {pulled.stderr.strip()}", file=sys.stderr)
                return 1
            try:
                start = time.monotonic()
                up = subprocess.run([clone / "scripts" / "workshop", "--no-build"], cwd=clone, env=env,
                                    capture_output=True, text=True)
                up_s = time.monotonic() - start
                if up.returncode:
                    print(f"bench-pull: the workshop did not start: {up.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
                    return 1
            finally:
                subprocess.run(["docker", "compose", "--env-file", env["WORKSHOP_ENV_FILE"], "down", "-v"],
                               cwd=clone, env=env, capture_output=True)
    print(f"pull images={len(names)} compressed_mb={mb:.0f} pull_s={pull_s:.1f} up_s={up_s:.1f}")
    return 0


if __name__ == "__main__":
    run(main, "bench-pull", "bench-pull: interrupted; its registry, daemon and workshop are removed")
