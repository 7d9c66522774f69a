# JupyterLab for the workshop (copied into the image's Jupyter config directory).
#
# Token auth is always on. start-lab exports JUPYTER_TOKEN (from .env, or generated); if
# this server is started some other way with no token, jupyter_server generates a random
# one and prints it. An empty token, which would turn auth off, is never set here.
import os

from jupyter_server.services.contents.largefilemanager import AsyncLargeFileManager
from tornado.web import HTTPError

c = get_config()  # noqa: F821

token = os.environ.get("JUPYTER_TOKEN", "").strip()
if token:
    c.IdentityProvider.token = token
# The login page must not turn a token into a password stored in the container.
c.PasswordIdentityProvider.allow_password_change = False

c.ServerApp.open_browser = False
c.ServerApp.root_dir = "/home/lab"
# The container listens on all its interfaces so that Docker can publish the port, and
# compose publishes it on 127.0.0.1 only. Requests must still name a loopback host
# (127.0.0.1, localhost): that refuses DNS-rebinding tricks from other web pages.
c.ServerApp.allow_remote_access = False
c.ServerApp.local_hostnames = ["localhost"]
if os.environ.get("JUPYTERHUB_API_TOKEN"):
    # Started by JupyterHub (scripts/hub): the hub's OAuth log-in guards every request,
    # and its proxy passes on the Host the attendee typed (a room's name with --public).
    # https://jupyterhub.readthedocs.io/en/stable/reference/config-proxy.html
    c.ServerApp.allow_remote_access = True
# Print the URL the attendee opens on the host, not the container's port.
host_port = os.environ.get("LAB_HOST_PORT", "")
if host_port.isdigit():
    c.ServerApp.custom_display_url = f"http://127.0.0.1:{host_port}"
c.ServerApp.terminals_enabled = True  # attendees run `python labs/<lab>.py --start-method spawn`
# Two server extensions JupyterLab installs that this workshop never uses: jupyter_lsp (no
# language server is installed) and notebook_shim (for classic Notebook extensions; none
# is installed). Not loading them saves CPU on every server start (docs/performance.md), which is
# what a class of attendees starting at once waits for (scripts/bench-hub).
c.ServerApp.jpserver_extensions.update({"jupyter_lsp": False, "notebook_shim": False})
c.ContentsManager.allow_hidden = False


class WorkshopContentsManager(AsyncLargeFileManager):
    """labs/ is mounted read-only: a write there is a clear 403, not a 500 (EROFS).

    jupyter_server's default contents manager with one check in front of every write
    (https://jupyter-server.readthedocs.io/en/latest/developers/contents.html); Jupytext
    wraps whatever class is configured here.
    """

    @staticmethod
    def _writable(*paths):
        for path in paths:
            if path.strip("/").split("/")[0] == "labs":
                raise HTTPError(403, "labs/ is read-only: copy the lab into work/ and change the copy")

    async def save(self, model, path=""):
        self._writable(path)
        return await super().save(model, path)

    async def delete_file(self, path):
        self._writable(path)
        return await super().delete_file(path)

    async def rename_file(self, old_path, new_path):
        self._writable(old_path, new_path)
        return await super().rename_file(old_path, new_path)


c.ServerApp.contents_manager_class = WorkshopContentsManager

if os.path.exists("/opt/kernel/bin/python"):
    # A free-threaded image: the kernel runs /opt/kernel's interpreter, not this server's.
    # Jupytext gives a text notebook only the Python kernel whose argv[0] is the server's
    # own executable (jupytext/kernels.py kernelspec_from_language; jupytext/jupytext#672
    # made a miss an error, #1137 is the open issue), so a lab opened with no kernel and
    # JupyterLab asked for one. Here the image's one Python kernel (python3, written when
    # the image is built by images/kernelspec) is the match.
    import jupytext.kernels

    _match = jupytext.kernels.kernelspec_from_language

    def _image_kernel(language):
        try:
            return _match(language)
        except ValueError:
            if language != "python":
                raise
            spec = jupytext.kernels.get_kernel_spec("python3")
            return {"name": "python3", "language": "python", "display_name": spec.display_name}

    jupytext.kernels.kernelspec_from_language = _image_kernel
# Jupytext: labs/*.py (percent format) open as notebooks; Markdown stays Markdown.
c.ContentsManager.notebook_extensions = ["ipynb", "py"]
# No network calls or installs from the UI: the room may be offline.
c.LabApp.extension_manager = "readonly"
c.LabApp.news_url = None
# The server itself must not ask PyPI for a newer JupyterLab on GET /lab/api/update: the
# UI's checkForUpdates setting is only a default an attendee can switch on. See
# https://jupyterlab.readthedocs.io/en/stable/user/announcements.html#check-for-updates
c.LabApp.check_for_updates_class = "jupyterlab.handlers.announcements.NeverCheckForUpdate"
