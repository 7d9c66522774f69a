# The notebook's "Daemon=True" script: a worker thread loops forever printing "Dummy".
# Here Events replace its time.sleep(): the worker does two rounds, then waits for `stop`,
# and the main code ends. Run it as a script: python snippets/daemon_threads.py daemon|non-daemon
import sys
import threading

daemon = sys.argv[1] == "daemon"
two_rounds = threading.Event()
stop = threading.Event()


def dummy():
    try:
        rounds = 0
        while True:
            rounds += 1
            print(f"{threading.current_thread().name}: Dummy {rounds}", flush=True)
            if rounds >= 2:
                two_rounds.set()
                # A daemon worker is cut here, mid-loop: nobody sets `stop` for it, and
                # the interpreter exits without waiting. (Bounded, so nothing can hang.)
                if stop.wait(5):
                    break
        print("worker: left its loop", flush=True)
    finally:
        print("worker: finally ran", flush=True)


if __name__ == "__main__":
    worker = threading.Thread(target=dummy, daemon=daemon, name="worker")
    worker.start()
    two_rounds.wait(5)
    print("enumerate:", [(t.name, t.daemon) for t in threading.enumerate()], flush=True)
    print("main: end of the script", flush=True)
    if not daemon:
        stop.set()  # the interpreter now waits for the non-daemon worker before exiting
