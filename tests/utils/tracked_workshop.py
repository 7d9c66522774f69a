"""A test workshop (labmatrix.workshop.Project) with HTTP helpers that carry its token."""

from __future__ import annotations

from pathlib import Path

import requests

from labmatrix.workshop import Project

RUN_NOTEBOOK = Path(__file__).parent.parent / "fixtures" / "run_notebook.py"
NOTEBOOK_LAB = "main_guard"  # its spawn failure without the guard is the notebook's point


class Workshop(Project):
    """A running test workshop, with requests that carry its token."""

    def url(self, image: str, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.ports[image]}{path}"

    def get(self, image, path, token=True, **kw):
        headers = {"Authorization": f"token {self.token}"} if token else {}
        headers.update(kw.pop("headers", {}))
        return requests.get(self.url(image, path), headers=headers, timeout=30, **kw)

    def api(self, image, method, path, body=None):
        return requests.request(method, self.url(image, path), json=body, timeout=30,
                                headers={"Authorization": f"token {self.token}"})
