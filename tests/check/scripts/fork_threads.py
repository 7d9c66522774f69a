# fork-deprecation-warning: 3.12+ warns when os.fork() runs while another thread exists.
import os
import threading

if __name__ == "__main__":
    stop = threading.Event()
    t = threading.Thread(target=stop.wait)
    t.start()
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    stop.set()
    t.join()
    print("forked with a thread running")
