# %% [markdown]
# # What multiprocessing needs from a container
#
# The course notebook ran on a laptop. The labs also run in containers, where some things a
# laptop always has may be missing or different: `/dev/shm`, the number of CPUs, and
# process 1. This lab looks, and reports what it finds.

# %%
"""Facts about the machine or container that multiprocessing depends on.

* ``/dev/shm``: on Linux every multiprocessing Lock, Semaphore, Event, Queue, Pool -- and
  even a ThreadPool -- is a POSIX named semaphore, i.e. a file in ``/dev/shm``. Missing:
  ``FileNotFoundError``; read-only: ``OSError: [Errno 30]``. Docker gives 64 MiB unless
  ``--shm-size`` says otherwise. We check that it exists and is writable (on Linux; macOS
  and Windows keep their semaphores elsewhere), and use one semaphore across processes
  (the child releases it, the parent acquires it).
* CPUs: ``os.cpu_count()`` counts the *machine's* CPUs; it ignores the affinity mask
  (``--cpuset-cpus``, ``taskset``) and CPU quotas (``--cpus``). 3.13 added
  ``os.process_cpu_count()``, which honours the affinity mask (not quotas); Pool and
  ProcessPoolExecutor size themselves with it from 3.13. ``multiprocessing.cpu_count()``
  stays ``os.cpu_count()``.
* PID 1: in a container, process 1 is whatever the image runs, often not an init. Orphaned
  grandchildren are then never reaped, and SIGTERM is ignored by a Python PID 1 without a
  handler; ``docker run --init`` fixes both. What process 1 is differs between the host,
  ``docker run`` and ``docker run --init``, so it is reported, never expected.
"""
import multiprocessing
import os
import sys
import tempfile

import labkit as lab

KNOWN_INITS = {"init", "systemd", "tini", "docker-init", "dumb-init", "catatonit", "s6-svscan"}


def release(semaphore):
    """Runs in the child."""
    semaphore.release()


def shm_facts():
    exists = os.path.isdir("/dev/shm")
    try:
        with tempfile.NamedTemporaryFile(dir="/dev/shm", prefix="lab-") as f:
            f.write(b"x")
            f.flush()
        writable = True
    except OSError:
        writable = False
    size_mb = None
    if exists:
        st = os.statvfs("/dev/shm")
        size_mb = st.f_blocks * st.f_frsize // (1024 * 1024)
    fs_type = None
    try:
        with open("/proc/mounts") as f:
            for line in f:
                parts = line.split()
                if len(parts) > 2 and parts[1] == "/dev/shm":
                    fs_type = parts[2]
    except OSError:
        pass
    return exists, writable, size_mb, fs_type


def pid1():
    try:
        with open("/proc/1/comm") as f:
            return f.read().strip()
    except OSError:
        return None


def main(ctx):
    exists, writable, size_mb, fs_type = shm_facts()
    needed = sys.platform.startswith("linux")  # macOS and Windows name their semaphores elsewhere
    lab.say(f"/dev/shm: exists = {exists}, writable = {writable}, size = {size_mb} MiB, type = {fs_type}"
            + ("" if needed else " (multiprocessing does not use it on this platform)"))
    lab.observe("dev_shm_exists", exists)
    lab.observe("dev_shm_writable", writable)
    lab.observe("dev_shm_usable_where_needed", (exists and writable) if needed else True)
    lab.observe("dev_shm_size_mb", size_mb)
    lab.observe("dev_shm_fs_type", fs_type)

    semaphore = ctx.Semaphore(0)
    child = ctx.Process(target=release, args=(semaphore,))
    child.start()
    acquired = semaphore.acquire(timeout=lab.BOUND)
    lab.join(child)
    lab.say(f"A {lab.method()} child released a multiprocessing Semaphore; the parent acquired it: {acquired}")
    lab.observe("mp_semaphore_across_processes", acquired)

    cpus = os.cpu_count()
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    has_pcc = hasattr(os, "process_cpu_count")
    lab.say(f"{os.cpu_count() = }, CPUs in the affinity mask = {affinity}, "
            f"{multiprocessing.cpu_count() = }")
    lab.observe("cpu_count", cpus)
    lab.observe("affinity_cpus", affinity)
    # No affinity API (macOS, Windows): the process may use the whole machine.
    usable = affinity if affinity is not None else cpus
    lab.observe("has_process_cpu_count", has_pcc)
    if has_pcc:
        lab.say(f"{os.process_cpu_count() = } (3.13+: the affinity mask)")
        lab.observe("process_cpu_count", os.process_cpu_count())
        lab.observe("process_cpu_count_is_affinity", os.process_cpu_count() == usable)

    comm = pid1()
    lab.say(f"PID 1 is {comm!r}" + (" (an init)" if comm in KNOWN_INITS else "")
            + f"; this lab's pid is {os.getpid()}")
    lab.observe("pid1_comm", comm)
    lab.observe("pid1_is_known_init", comm in KNOWN_INITS)


# %%
if __name__ == "__main__":
    lab.run(main)
