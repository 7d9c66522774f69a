# runtime-state: a global set at run time; a fork child sees it, spawn/forkserver do not.
import multiprocessing as mp

SETTING = "import-time"


def work():
    print("child sees", SETTING)


if __name__ == "__main__":
    SETTING = "set-in-main"
    p = mp.Process(target=work)
    p.start()
    p.join()
