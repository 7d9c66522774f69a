"""Threads bump a shared counter without a lock: with the GIL (3.10+) no update is lost
here, with the GIL off many are (PEP 703)."""
import threading


class Counter:
    n = 0


def bump(c):
    for _ in range(200_000):
        c.n += 1


if __name__ == "__main__":
    c = Counter()
    threads = [threading.Thread(target=bump, args=(c,)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert c.n == 800_000, f"lost updates: {c.n} of 800000"
    print("all 800000 counted")
