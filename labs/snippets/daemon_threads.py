# A worker thread that is still running when the main code ends.
# Run it as a script: python snippets/daemon_threads.py daemon|non-daemon
import sys
import threading

daemon = sys.argv[1] == "daemon"
started = threading.Event()
finish = threading.Event()


def dummy():
    try:
        print("Dummy", flush=True)
        started.set()
        # A daemon worker waits here forever: nothing ever sets `finish` for it.
        finish.wait(None if daemon else 5)
        print("worker: finished its work", flush=True)
    finally:
        print("worker: finally ran", flush=True)


if __name__ == "__main__":
    worker = threading.Thread(target=dummy, daemon=daemon, name="worker")
    worker.start()
    started.wait(5)
    print("enumerate:", [(t.name, t.daemon) for t in threading.enumerate()], flush=True)
    print("main: end of the script", flush=True)
    if not daemon:
        finish.set()  # the interpreter now waits for the non-daemon worker before exiting
