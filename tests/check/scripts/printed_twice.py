# printed-twice: an unflushed line is in the buffer the fork child copies; both flush it.
import os
import sys

print("hello before fork")
pid = os.fork()
if pid == 0:
    sys.exit(0)
os.waitpid(pid, 0)
