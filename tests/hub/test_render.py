"""What is rendered for the hub from matrix.toml, and the one JupyterHub pin (no Docker)."""

import json
import re

import yaml

from labmatrix import matrix
from labmatrix.hardening import HARDENING
from labmatrix.hub import command as hub


def test_rendered_files_are_up_to_date():
    for path, text in hub.outputs().items():
        assert path.read_text() == text, f"{path.name} is out of date; run scripts/render"


def test_hub_profiles_and_limits_come_from_the_matrix_and_hardening():
    rendered = json.loads(hub.PROFILES_JSON.read_text())
    assert [p["name"] for p in rendered["profiles"]] == matrix.image_names()
    assert rendered["hardening"] == HARDENING


def test_zero_to_jupyterhub_config_is_valid_yaml_with_every_profile():
    config = yaml.safe_load(hub.Z2JH_YAML.read_text())
    profiles = config["singleuser"]["profileList"]
    assert [p["kubespawner_override"]["image"] for p in profiles] == [i.tag for i in matrix.images()]
    assert [p["description"] for p in profiles] == [i.why for i in matrix.images()]
    assert sum(bool(p.get("default")) for p in profiles) == 1
    assert config["singleuser"]["memory"]["limit"] == "2Gi"
    assert config["singleuser"]["containerSecurityContext"]["capabilities"]["drop"] == ["ALL"]
    assert config["hub"]["config"]["JupyterHub"]["authenticator_class"] == "shared-password"


def test_every_lock_pins_the_hubs_jupyterhub():
    pin = re.search(r"^jupyterhub==(\S+)", (matrix.ROOT / "requirements" / "jupyterhub.in").read_text(), re.M)[1]
    locks = [matrix.ROOT / "requirements" / "hub.txt",
             *sorted((matrix.ROOT / "requirements").glob("workshop-py*.txt"))]
    for lock in locks:
        assert f"\njupyterhub=={pin} \\" in lock.read_text(), f"{lock.name} does not pin jupyterhub=={pin}"
