"""The one definition of how a lab container is locked down.

Used word for word by the driver's containers (``labmatrix.container``, as Docker SDK
arguments) and by every workshop service (rendered into ``compose.yaml``): the keys are
the same in both, see https://docs.docker.com/reference/compose-file/services/ and
https://docker-py.readthedocs.io/en/stable/containers.html. Stdlib only.
"""

HARDENING = {
    "init": True,  # a real PID 1 reaps the labs' orphaned children
    "cap_drop": ["ALL"],
    "security_opt": ["no-new-privileges:true"],
    "pids_limit": 512,
    "mem_limit": "2g",
    "shm_size": "256m",  # multiprocessing's semaphores and shared memory live in /dev/shm
}
