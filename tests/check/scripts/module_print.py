# reimport: module-level code runs again in every spawn child (and forkserver's server).
import multiprocessing as mp

print("module loaded")


def work():
    pass


if __name__ == "__main__":
    p = mp.Process(target=work)
    p.start()
    p.join()
