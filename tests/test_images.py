"""Each image is what the matrix says: Python, default start method, user, read-only labs."""

import json

from labmatrix.container import LABS_MOUNT
from labmatrix.matrix import PYTHON_VERSION_LABEL

PROBE = ("import json, os, sys, sysconfig, multiprocessing as mp; "
         "print(json.dumps({'version': list(sys.version_info[:2]), 'method': mp.get_start_method(), "
         "'free_threaded': bool(sysconfig.get_config_var('Py_GIL_DISABLED')), "
         "'uid': os.getuid(), 'version_full': sys.version}))")


def run_py(container, code, *args):
    code_, out, err = container.exec(["python", "-c", code, *args], timeout=30)
    assert code_ == 0, err
    return out


def test_python_method_user(image, lab_containers):
    c = lab_containers[image.name]
    info = json.loads(run_py(c, PROBE))
    assert ".".join(map(str, info["version"])) == image.debian_python
    assert info["free_threaded"] == image.free_threaded  # "3.13t" is 3.13 built with --disable-gil
    assert info["method"] == image.default_method
    assert info["uid"] != 0
    label = c.container.image.labels.get(PYTHON_VERSION_LABEL)
    assert label == info["version_full"].split()[0], "image label must record the exact sys.version"


def test_labs_mount_is_read_only(image, lab_containers):
    code, _, err = lab_containers[image.name].exec(["sh", "-c", f"touch {LABS_MOUNT}/x"], timeout=10)
    assert code != 0 and "Read-only file system" in err


def test_tmp_writable_and_unbuffered_unset(image, lab_containers):
    out = run_py(lab_containers[image.name],
                 "import os, tempfile; tempfile.NamedTemporaryFile(dir='/tmp'); print(os.environ.get('PYTHONUNBUFFERED'))")
    assert out.strip() == "None"


def test_every_interpreter_has_the_labs_c_extension(image, lab_containers):
    """labs/lab_singlephase.c is built for each interpreter of the image (Debian's, and the
    compiled free-threaded one), where it imports; on a free-threaded build the import turns
    the GIL on (it declares no Py_mod_gil, PEP 703)."""
    code = ("import sys, warnings; warnings.simplefilter('ignore'); import lab_singlephase; "
            "print(lab_singlephase.count(), getattr(sys, '_is_gil_enabled', lambda: 'n/a')())")
    found = {}
    for py in [f"/usr/bin/python{image.debian_python}", *(["python"] if image.free_threaded else [])]:
        rc, out, err = lab_containers[image.name].exec([py, "-c", code], timeout=30)
        assert rc == 0, f"{py}: {err}"
        found[py] = out.split()
    assert all(seen[0] == "1" for seen in found.values()), found
    if image.free_threaded:
        assert found["python"][1] == "True", "importing a single-phase module turns the GIL on"


SPAWN_CHILDREN = """
import multiprocessing as mp
def child(q):
    q.put((mp.get_start_method(), mp.current_process().name))
if __name__ == '__main__':
    q = mp.Queue()
    p = mp.Process(target=child, args=(q,))
    p.start(); print(mp.get_start_method(), *q.get(timeout=20)); p.join(20)
"""


def test_spawn_default_everywhere(spawn_image, lab_containers):
    c = lab_containers[spawn_image.name]
    code, out, err = c.exec(["sh", "-c", f"cat > /tmp/s.py <<'X'\n{SPAWN_CHILDREN}\nX\npython /tmp/s.py"], timeout=30)
    assert code == 0, err
    assert out.split() == ["spawn", "spawn", "Process-1"]
    # The system interpreter, not only the venv's `python`, has the same default.
    system = f"/usr/bin/python{spawn_image.python}"
    out = run_py(c, f"import subprocess; print(subprocess.check_output(['{system}', '-c', "
                    "'import multiprocessing as m; print(m.get_start_method(allow_none=True), m.get_start_method())'], text=True))")
    assert out.split() == ["None", "spawn"]


def test_set_start_method_fork_works_without_force(spawn_image, lab_containers):
    out = run_py(lab_containers[spawn_image.name],
                 "import multiprocessing as mp; mp.set_start_method('fork'); print(mp.get_start_method(), mp.get_all_start_methods())")
    assert out.strip() == "fork ['spawn', 'fork', 'forkserver']"


def test_a_server_start_builds_no_grammar_and_no_build_tool_stays(image, lab_containers):
    """images/venv-finish drops rfc3987-syntax, whose import builds ~35 Earley parsers in
    every Jupyter server (jupyter-server/jupyter_server#1559); jsonschema, which would use
    it, still imports. The build-only scripts were mounted, never copied."""
    code = ("import sys, os, jupyter_events.validators; "
            "print('rfc3987_syntax' in sys.modules, 'lark' in sys.modules, "
            "os.path.exists('/usr/local/sbin/apt-install'), os.path.exists('/usr/local/sbin/venv-finish'))")
    rc, out, err = lab_containers[image.name].exec(["/opt/venv/bin/python", "-c", code], timeout=30)  # the server's
    assert rc == 0, err
    assert out.split() == ["False"] * 4
