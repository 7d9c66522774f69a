# defined-under-guard: the child imports this file as __mp_main__, where work() is missing.
import multiprocessing as mp
import sys

if __name__ == "__main__":
    def work():
        print("child ran")

    # Pass the function by reference, as a module attribute (pickle looks it up by name).
    work.__qualname__ = "work"
    sys.modules["__main__"].work = work
    p = mp.Process(target=work)
    p.start()
    p.join()
    sys.exit(p.exitcode)
