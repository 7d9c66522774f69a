"""Threads bump a shared counter without a lock: with the GIL (3.10+) no update is lost
here, with the GIL off many are (PEP 703)."""
import threading


class Counter:
    n = 0


def bump(c, start):
    start.wait()  # every thread counts at the same time
    for _ in range(1_000_000):
        c.n += 1


if __name__ == "__main__":
    c = Counter()
    start = threading.Barrier(4)
    threads = [threading.Thread(target=bump, args=(c, start)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert c.n == 4_000_000, f"lost updates: {c.n} of 4000000"
    print("all 4000000 counted")
