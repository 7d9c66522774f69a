# resource-tracker-leak: shared memory created and never unlink()ed.
from multiprocessing import shared_memory

if __name__ == "__main__":
    shm = shared_memory.SharedMemory(create=True, size=1024)
    shm.close()
    print("closed, not unlinked")
