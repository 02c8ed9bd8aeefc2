"""Shared by the sandbox fidelity tests: the demo scenario served on loopback, and a client that
authenticates to each site the way that tracker's real clients do."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import date

import pytest
import requests

from sandbox.scenario import GITHUB, JIRA_CLOUD, JIRA_DC, Scenario, demo
from sandbox.credentials import SANDBOX_TOKEN, SANDBOX_USER
from sandbox.server import SITE_PREFIX, RunningSandbox, serve

SEED, AS_OF = 7, date(2026, 11, 27)

AUTH = {
    JIRA_CLOUD: "Basic " + base64.b64encode(f"{SANDBOX_USER}:{SANDBOX_TOKEN}".encode()).decode(),
    JIRA_DC: f"Bearer {SANDBOX_TOKEN}",
    GITHUB: f"token {SANDBOX_TOKEN}",
}


class SandboxClient:
    """requests against the sandbox, authenticated per site (chosen by the path's site prefix)."""

    def __init__(self, running: RunningSandbox) -> None:
        self.url = running.url
        self.session = requests.Session()

    def call(self, method: str, path: str, params: dict | None = None, body: dict | None = None,
             headers: dict[str, str] | None = None, auth: bool = True) -> requests.Response:
        """``path`` starts at the server root, e.g. ``/github/rate_limit``."""
        url = path if path.startswith("http") else self.url + path
        sent = {"Accept": "application/json", **(headers or {})}
        site = next((s for s, prefix in SITE_PREFIX.items() if url.startswith(self.url + prefix + "/")), None)
        if auth and site is not None:
            sent["Authorization"] = AUTH[site]
        return self.session.request(method, url, params=params, json=body, headers=sent, timeout=30)


@pytest.fixture(scope="session")
def scenario() -> Scenario:
    return demo(SEED, AS_OF)


@pytest.fixture(scope="module")
def running(scenario) -> Iterator[RunningSandbox]:
    with serve(scenario) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def client(running) -> SandboxClient:
    return SandboxClient(running)
