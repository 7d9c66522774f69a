# JupyterLab for the workshop. Token auth is on: start-lab sets JUPYTER_TOKEN (from .env
# or generated), and an empty token is refused rather than turning auth off.
c = get_config()  # noqa: F821
c.ServerApp.open_browser = False
c.IdentityProvider.token = __import__("os").environ["JUPYTER_TOKEN"]
c.ServerApp.allow_remote_access = True  # the container's port is published on 127.0.0.1 only
c.ServerApp.terminals_enabled = True
c.ContentsManager.allow_hidden = False
