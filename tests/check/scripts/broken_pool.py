# broken-process-pool: a worker dies abruptly, the pool is broken.
import os
from concurrent.futures import ProcessPoolExecutor


def die():
    os._exit(3)


if __name__ == "__main__":
    with ProcessPoolExecutor(1) as pool:
        pool.submit(die).result()
