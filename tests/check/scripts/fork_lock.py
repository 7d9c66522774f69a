# fork-lock-held: a thread holds LOCK while the child is forked; the fork child's copy of
# LOCK is locked forever (spawn and forkserver children get a fresh one).
import multiprocessing as mp
import threading

LOCK = threading.Lock()


def child():
    with LOCK:
        print("child got the lock")


if __name__ == "__main__":
    held, release = threading.Event(), threading.Event()

    def holder():
        with LOCK:
            held.set()
            release.wait()

    t = threading.Thread(target=holder)
    t.start()
    held.wait()
    p = mp.Process(target=child)
    p.start()
    release.set()
    t.join()
    p.join()
    print("child exit code", p.exitcode)
