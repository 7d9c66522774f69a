"""print() without flush, then make a child; count the lines on stdout (fork_buffer lab).

    python fork_buffer_main.py sys_exit os_exit fork|spawn|forkserver|default

Run it with stdout a pipe (block-buffered) and without PYTHONUNBUFFERED. For each case
named on the command line, in order, the parent prints one line naming the case -- no
flush, so it sits in the parent's buffer -- and then makes a child:
* sys_exit: os.fork(); the child leaves with sys.exit(), whose normal finalization flushes
  the buffer it inherited -- so that line comes out twice;
* os_exit: os.fork(); the child leaves with os._exit(), which flushes nothing -- once;
* a start method: multiprocessing flushes stdout before it forks, and its children end
  with os._exit -- once.
Count each case's line on stdout.
"""
import multiprocessing
import os
import sys


def noop():
    pass


if __name__ == "__main__":
    for how in sys.argv[1:]:
        print("hello before the child is made:", how)  # no flush, on purpose
        if how in ("sys_exit", "os_exit"):
            pid = os.fork()
            if pid == 0:
                if how == "sys_exit":
                    sys.exit(0)
                os._exit(0)
            os.waitpid(pid, 0)
        else:
            ctx = multiprocessing if how == "default" else multiprocessing.get_context(how)
            child = ctx.Process(target=noop)
            child.start()
            child.join(10)
