"""A hub restart finds the running servers again; the idle culler stops idle servers and
keeps their work; scripts/hub down stops everything and deletes no volume. (Runs last on
the session's hub: it restarts it with the culler on and takes it down.)"""


import requests

from labmatrix import matrix, wait


def status(hub, attendee) -> int:
    return requests.get(f"{hub.base}/user/{attendee.name}/api/status", timeout=30,
                        headers={"Authorization": f"token {attendee.token}"}).status_code


def test_restart_cull_and_down_keep_the_work(hub):
    alice = hub.attendee("alice", spawn="py3.13-spawn")
    before = hub.container("alice").id
    assert hub.container("alice").exec_run(["sh", "-c", "echo kept > /home/lab/work/note.txt"]).exit_code == 0

    # Restart: the new hub finds Alice's server (same container), her token still works.
    proc = hub.up("--no-build")
    assert proc.returncode == 0, proc.stderr
    assert alice.server()["ready"] and hub.container("alice").id == before
    assert status(hub, alice) == 200

    # Restart with a 15 s idle timeout: the culler stops her server; her volume stays.
    with hub.env_file.open("a") as f:
        f.write("HUB_IDLE_TIMEOUT=15\n")
    assert hub.up("--no-build").returncode == 0
    wait.until(lambda: alice.server() is None, 180, every=2, what="the idle culler's stop of the server")
    assert not hub.docker_client.containers.list(all=True, filters={"name": f"{hub.name}-user-alice"})
    hub.docker_client.volumes.get(f"{hub.name}-work-alice")

    # Her work is there when she comes back, in another image.
    alice.spawn("py3.14")
    out = hub.container("alice").exec_run(["cat", "/home/lab/work/note.txt"]).output.decode()
    assert out.strip() == "kept"

    # Down: every container and the network go, every volume stays.
    volumes = {v.name for v in hub.docker_client.volumes.list(filters={"label": f"{matrix.LABEL}={hub.name}"})}
    from tests.utils.tracked_hub import hub_command
    proc = hub_command("down", "--name", hub.name)
    assert proc.returncode == 0 and "volume(s) kept" in proc.stdout, proc.stderr
    assert not hub.docker_client.containers.list(all=True, filters={"label": f"{matrix.LABEL}={hub.name}"})
    left = {v.name for v in hub.docker_client.volumes.list(filters={"label": f"{matrix.LABEL}={hub.name}"})}
    assert left == volumes and f"{hub.name}-work-alice" in left and f"{hub.name}-data" in left
