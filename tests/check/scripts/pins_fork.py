# A script that pins its own start method: --method cannot override it, and the check says so.
import multiprocessing as mp


def work():
    print("child ran")


if __name__ == "__main__":
    mp.set_start_method("fork")
    p = mp.Process(target=work)
    p.start()
    p.join()
