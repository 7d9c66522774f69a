"""Waits a fixed time for a child that has not ended: its exitcode is still None."""
import multiprocessing as mp


def child(ready):
    ready.wait()  # nobody sets it within the parent's wait


if __name__ == "__main__":
    ready = mp.Event()
    p = mp.Process(target=child, args=(ready,))
    p.start()
    p.join(0.5)
    try:
        assert p.exitcode == 0, f"child exitcode {p.exitcode} != 0"
    finally:
        ready.set()
        p.join()
