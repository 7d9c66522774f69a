"""os.fork() from __main__ while a second thread runs (fork_with_threads lab).

The fork-with-threads DeprecationWarning (3.12+) is attributed to the frame that called
os.fork(): here that is __main__, and the default warning filters show DeprecationWarning
raised in __main__. The child exits at once with os._exit.
"""
import os
import threading

if __name__ == "__main__":
    stop = threading.Event()
    waiter = threading.Thread(target=stop.wait, args=(10,), name="waiter")
    waiter.start()
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    stop.set()
    waiter.join(10)
    print("forked with a second thread running")
