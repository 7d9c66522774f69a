# killed: more memory than the container's limit; the OOM killer sends SIGKILL.
import os

if os.environ.get("CHECK_EVENTS"):  # only inside scripts/check's container
    blocks = []
    while True:
        blocks.append(b"x" * (64 << 20))
