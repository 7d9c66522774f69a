# JupyterHub for the workshop (scripts/hub), after jupyterhub/jupyterhub-deploy-docker: a
# small config whose DockerSpawner settings come from the environment, which scripts/hub
# (labmatrix/hub/command.py) sets. The profiles and the container lockdown come from profiles.json,
# rendered from matrix.toml and labmatrix/hardening.py by scripts/render.
import html
import json
import os
import secrets
import sys

import bcrypt
import docker
from docker.types import Mount
from dockerspawner import DockerSpawner, SwarmSpawner
from tornado import web

c = get_config()  # noqa: F821
env = os.environ


def need(name, fix):
    value = env.get(name, "").strip()
    if not value:
        # One line, no traceback: SystemExit is not caught by the config loader.
        raise SystemExit(f"hub: {name} is not set; {fix}")
    return value


RENDERED = json.loads(open("/etc/jupyterhub/profiles.json").read())
PROFILES = {p["name"]: p for p in RENDERED["profiles"]}
NAME = need("HUB_NAME", "start the hub with scripts/hub")
LABEL = RENDERED["label"]
USER_LABEL = RENDERED["user_label"]
# What every container and volume of this hub carries: its name, and the labels of the run
# that started it (a test's or a benchmark's, so that a dead run's hub is swept).
LABELS = {**json.loads(env.get("HUB_RUN_LABELS") or "{}"), LABEL: NAME}

# --- Log-in: JupyterHub's shared-password authenticator (JupyterHub >= 5.3).
# https://jupyterhub.readthedocs.io/en/stable/reference/api/authenticators.html
c.JupyterHub.authenticator_class = "shared-password"
c.SharedPasswordAuthenticator.user_password = need(
    "HUB_PASSWORD", "set HUB_PASSWORD=<a strong password, 8+ characters> in .env")
c.SharedPasswordAuthenticator.admin_password = need(
    "HUB_ADMIN_PASSWORD", "set HUB_ADMIN_PASSWORD=<32+ characters> in .env")
c.Authenticator.admin_users = {need("HUB_ADMIN", "set HUB_ADMIN=<the instructor's name> in .env")}
c.Authenticator.allow_all = True  # anyone with the workshop password picks a name

# --- Where the hub listens. The public port is the proxy's (traefik, started by the hub);
# the hub's own API listens where the attendees' containers reach it: the gateway of
# their network. https://jupyterhub.readthedocs.io/en/stable/reference/config-proxy.html
c.JupyterHub.bind_url = f"http://{env.get('HUB_IP', '127.0.0.1')}:{need('HUB_PORT', 'pass --port')}"
api_ip, api_port = need("HUB_API_IP", "start the hub with scripts/hub"), need("HUB_API_PORT", "start the hub with scripts/hub")
c.JupyterHub.hub_bind_url = f"http://{api_ip}:{api_port}"
# On a swarm the hub is a container on the attendees' overlay network, found by its name.
c.JupyterHub.hub_connect_url = f"http://{env.get('HUB_API_CONNECT') or api_ip}:{api_port}"
c.JupyterHub.cleanup_servers = False  # a hub restart finds the running servers again
c.JupyterHub.db_url = "sqlite:////srv/jupyterhub/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = "/srv/jupyterhub/jupyterhub_cookie_secret"

# The proxy: JupyterHub's traefik proxy with its file provider, traefik a subprocess of
# the hub. https://jupyterhub-traefik-proxy.readthedocs.io/en/latest/file.html
c.JupyterHub.proxy_class = "traefik_file"
c.TraefikFileProviderProxy.should_start = True
c.TraefikFileProviderProxy.traefik_api_url = f"http://127.0.0.1:{need('HUB_PROXY_API_PORT', 'start the hub with scripts/hub')}"
c.TraefikFileProviderProxy.static_config_file = "/srv/jupyterhub/traefik.toml"
c.TraefikFileProviderProxy.dynamic_config_file = "/srv/jupyterhub/rules.toml"
c.TraefikFileProviderProxy.traefik_log_level = "WARN"
# The proxy's API password lives with the routes it guards (rules.toml, in the state
# volume): one made per start would not match the routes a restarted hub finds there.
secret = "/srv/jupyterhub/traefik_api_password"
if not os.path.exists(secret):
    with open(os.open(secret, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as f:
        f.write(secrets.token_urlsafe(32))
c.TraefikFileProviderProxy.traefik_api_username = "jupyterhub"
c.TraefikFileProviderProxy.traefik_api_password = open(secret).read().strip()
# traefik checks that password's bcrypt hash on every call the hub makes to its API (a
# route's check after each spawn and stop). At bcrypt's default cost (12) those checks are a
# noticeable share of a spawn's CPU (docs/performance.md), which a class starting at once waits for. The
# password is 32 random bytes (about 190 bits), which no cost factor makes any harder to
# guess, so the lowest cost (4) is used (https://doc.traefik.io/traefik/middlewares/http/basicauth/).
c.TraefikFileProviderProxy.traefik_api_hashed_password = bcrypt.hashpw(
    c.TraefikFileProviderProxy.traefik_api_password.encode(), bcrypt.gensalt(rounds=4)).decode("ascii")
# traefik (a large binary) can take a while to answer on a busy host; the default is 30 s.
c.TraefikFileProviderProxy.check_route_timeout = 120

# --- The attendees' servers.


def options_form(spawner):
    rows = []
    for i, p in enumerate(RENDERED["profiles"]):
        checked = " checked" if i == 0 else ""
        e = {k: html.escape(str(v)) for k, v in p.items()}
        rows.append(
            f'<label style="display:block;margin:.4em 0"><input type="radio" name="profile" value="{e["name"]}"{checked}> '
            f'<b>{e["name"]}</b>: Python {e["python"]}, default start method <b>{e["default_method"]}</b> '
            f'<span style="color:#666">({e["why"]})</span></label>')
    return "<p>Pick the Python you work in; your <code>work/</code> folder is the same in every one.</p>" + "".join(rows)


class LabSpawner(DockerSpawner):
    """DockerSpawner with one profile per image of matrix.toml, a labelled work volume per
    attendee, and an error an attendee can read when an image is missing."""

    def options_from_form(self, formdata):
        return {"profile": (formdata.get("profile") or [""])[0]}

    def profile(self):
        name = self.user_options.get("profile") or RENDERED["profiles"][0]["name"]
        if name not in PROFILES:
            raise web.HTTPError(400, f"unknown profile {name!r}; pick one of: {', '.join(PROFILES)}")
        return PROFILES[name]

    async def start(self):
        profile = self.profile()
        self.image = profile["tag"]
        self.environment = {**self.environment, "LAB_IMAGE": profile["name"]}
        if self.object_type == "container":  # a swarm's nodes each have their own images
            try:
                await self.docker("inspect_image", self.image)
            except docker.errors.NotFound:
                raise web.HTTPError(
                    500, f"the image {self.image} ({profile['name']}) is not on this host; "
                    f"the instructor builds it with: scripts/build-images {profile['name']}") from None
        volume = self.format_volume_name(f"{NAME}-work-{{username}}", self)
        try:
            await self.docker("inspect_volume", volume)
        except docker.errors.NotFound:
            await self.docker("create_volume", name=volume, labels={**LABELS, USER_LABEL: self.user.name})
        return await super().start()


class LabSwarmSpawner(LabSpawner, SwarmSpawner):
    """The same profiles as services of a Docker swarm (docs: dockerspawner SwarmSpawner).
    SwarmSpawner mounts every volume as a bind; a name (no leading /) is a named volume
    here, and /dev/shm a tmpfs of the lockdown's size."""

    @property
    def mounts(self):
        mounts = [Mount(target=vol["bind"], source=src, type="bind" if src.startswith("/") else "volume",
                        read_only=vol["mode"] == "ro") for src, vol in self.volume_binds.items()]
        return [*mounts, Mount(target="/dev/shm", source=None, type="tmpfs", tmpfs_size=byte_size(hardening["shm_size"]))]


def byte_size(text):
    return int(text[:-1]) * {"k": 2**10, "m": 2**20, "g": 2**30}[text[-1].lower()]


swarm = env.get("HUB_SPAWNER", "docker") == "swarm"
c.JupyterHub.spawner_class = LabSwarmSpawner if swarm else LabSpawner
c.DockerSpawner.options_form = options_form
c.DockerSpawner.cmd = ["start-lab"]  # it runs jupyterhub-singleuser under the hub
c.DockerSpawner.name_template = f"{NAME}-user-{{username}}"
c.DockerSpawner.network_name = need("HUB_NETWORK", "start the hub with scripts/hub")
c.DockerSpawner.use_internal_ip = True
c.DockerSpawner.pull_policy = "skip" if swarm else "never"  # no registry: images are built here
c.DockerSpawner.notebook_dir = "/home/lab"
c.Spawner.default_url = "/lab/tree/labs/README.md"
c.DockerSpawner.volumes = {
    f"{NAME}-work-{{username}}": "/home/lab/work",
    need("HUB_LABS_DIR", "start the hub with scripts/hub"): {"bind": "/home/lab/labs", "mode": "ro"},
}
c.DockerSpawner.environment = {
    "PYTHONPATH": "/home/lab/labs",
    # The server tells the hub it is in use this often; the idle culler reads it.
    "JUPYTERHUB_ACTIVITY_INTERVAL": env.get("HUB_ACTIVITY_INTERVAL", "300"),
}
c.DockerSpawner.start_timeout = int(env.get("HUB_START_TIMEOUT", "120"))
c.DockerSpawner.http_timeout = int(env.get("HUB_START_TIMEOUT", "120"))
# The lockdown of every lab container (labmatrix/hardening.py, rendered into profiles.json).
# Keys are Docker SDK host-config names: https://docker-py.readthedocs.io/en/stable/api.html
hardening = RENDERED["hardening"]
if swarm:
    # A service's task gets what the swarm API of the engine offers: init, no capabilities,
    # the memory limit; the pids limit, shm size and no-new-privileges have no field there
    # (https://docs.docker.com/reference/api/engine/version/v1.41/#tag/Service).
    c.SwarmSpawner.extra_container_spec = {
        "init": hardening["init"], "cap_drop": hardening["cap_drop"], "user": "1000:1000",
        "labels": LABELS, "healthcheck": {"Test": ["NONE"]}}
    c.SwarmSpawner.extra_resources_spec = {"mem_limit": byte_size(hardening["mem_limit"])}
    c.SwarmSpawner.extra_create_kwargs = {"labels": {**LABELS, USER_LABEL: "{username}"}}
    # The hub reaches a server by its service's name: DNS round-robin answers with the
    # task's address, where a virtual IP needs the kernel's IPVS on every node
    # (https://docs.docker.com/engine/swarm/networking/#configure-service-discovery).
    c.SwarmSpawner.extra_endpoint_spec = {"mode": "dnsrr"}
else:
    c.DockerSpawner.remove = True  # a stopped server's container goes; its work volume stays
    c.DockerSpawner.extra_host_config = dict(hardening)
    c.DockerSpawner.extra_create_kwargs = {
        "labels": {**LABELS, USER_LABEL: "{username}"},
        # The image's HEALTHCHECK asks the plain server's /api; under the hub the server
        # lives under /user/<name>/ and the hub watches it itself.
        "healthcheck": {"test": ["NONE"]},
    }

# --- The idle culler: stops servers idle for HUB_IDLE_TIMEOUT seconds (their work volume
# stays). https://github.com/jupyterhub/jupyterhub-idle-culler#as-a-hub-managed-service
idle = int(env.get("HUB_IDLE_TIMEOUT", "3600"))
if idle > 0:
    c.JupyterHub.services = [{
        "name": "idle-culler",
        "command": [sys.executable, "-m", "jupyterhub_idle_culler", f"--timeout={idle}",
                    f"--cull-every={max(5, min(300, idle // 4))}"],
    }]
    c.JupyterHub.load_roles = [{
        "name": "idle-culler",
        "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"],
        "services": ["idle-culler"],
    }]
