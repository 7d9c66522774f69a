# main-guard (spawn: the child's bootstrapping RuntimeError) and forkserver-unguarded
# (3.14: the fork server dies preloading this module; the parent's start() fails).
import multiprocessing as mp


def work():
    print("child ran")


p = mp.Process(target=work)
p.start()
p.join()
print("parent done, child exit code", p.exitcode)
