# pids-limit: a fork bomb. It only bombs inside scripts/check's container (the start-method
# hook sets CHECK_EVENTS there), so running it by mistake on a host does nothing.
import os

if os.environ.get("CHECK_EVENTS"):
    while True:
        os.fork()
print("not in scripts/check: no bomb")
