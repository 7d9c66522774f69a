# context-already-set: creating a Queue fixes the start method; set_start_method then fails.
import multiprocessing as mp

if __name__ == "__main__":
    q = mp.Queue()
    mp.set_start_method("spawn")
