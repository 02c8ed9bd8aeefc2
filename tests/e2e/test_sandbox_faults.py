"""Faults over HTTP, met by the unmodified jira and PyGithub clients: their retries ride out rate
limits and 5xx bursts, while drops, spoiled JSON and latency reach the caller as they would from a
real tracker. Retry waits are kept to a second."""

from __future__ import annotations

import http.client
import re
import signal
import subprocess
import sys
import time
from datetime import date

import pytest
import requests
from github import Auth, Github, GithubRetry
from jira import JIRA

from sandbox.scenario import GITHUB, JIRA_CLOUD, JIRA_DC
from sandbox.credentials import SANDBOX_TOKEN, SANDBOX_USER
from sandbox.server import RunningSandbox

pytestmark = pytest.mark.e2e

AS_OF = date(2026, 11, 27)
GITHUB_AUTH = {"Authorization": f"token {SANDBOX_TOKEN}"}
DC_AUTH = {"Authorization": f"Bearer {SANDBOX_TOKEN}"}

# the demo sandbox, with no faults and zeroed counts before each test: conftest.py's fixtures


def faults(sandbox: RunningSandbox, spec: str) -> None:
    response = requests.put(sandbox.url + "/_sandbox/faults", json={"spec": spec}, timeout=10)
    assert response.status_code == 200, response.text


def injected(sandbox: RunningSandbox) -> dict[str, int]:
    return requests.get(sandbox.url + "/_sandbox/stats", timeout=10).json()["faults"]


def statuses(sandbox: RunningSandbox, endpoint: str) -> dict[int, int]:
    rows = requests.get(sandbox.url + "/_sandbox/stats", timeout=10).json()["requests"]
    return {r["status"]: r["count"] for r in rows if r["endpoint"] == endpoint}


def cloud(sandbox: RunningSandbox) -> JIRA:
    return JIRA(server=sandbox.site_url(JIRA_CLOUD), basic_auth=(SANDBOX_USER, SANDBOX_TOKEN), max_retries=3,
                get_server_info=False)


def github(sandbox: RunningSandbox, retry: GithubRetry | None) -> Github:
    return Github(base_url=sandbox.site_url(GITHUB), auth=Auth.Token(SANDBOX_TOKEN), retry=retry,
                  seconds_between_requests=None)


def test_jira_retries_a_429_after_retry_after_and_succeeds(sandbox):
    faults(sandbox, "429@jira-cloud/rest/api/*/project:times=1,retry_after=1")
    started = time.monotonic()
    assert {p.key for p in cloud(sandbox).projects()} == {"PAY"}
    assert time.monotonic() - started >= 1  # ResilientSession waited as told (it doubles Retry-After, jittered)
    assert statuses(sandbox, "/jira-cloud/rest/api/2/project") == {429: 1, 200: 1}
    assert injected(sandbox) == {"429": 1}


def test_jira_429_carries_the_rate_limit_headers(sandbox):
    faults(sandbox, "429@jira-dc")
    response = requests.get(sandbox.site_url(JIRA_DC) + "/rest/api/2/serverInfo", headers=DC_AUTH, timeout=10)
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "1" and response.headers["X-RateLimit-Remaining"] == "0"
    assert {"X-RateLimit-Limit", "X-RateLimit-Reset", "RateLimit-Reason"} <= set(response.headers)
    assert response.json()["errorMessages"]


def test_pygithub_rides_out_a_503_burst(sandbox):
    faults(sandbox, "503@github:times=3")
    repo = github(sandbox, GithubRetry(total=5)).get_repo("acme/web")
    assert repo.full_name == "acme/web"
    assert statuses(sandbox, "/github/repos/<owner>/<repo>") == {503: 3, 200: 1}


def test_pygithub_waits_out_a_secondary_rate_limit(sandbox):
    faults(sandbox, "403@github/repos/<owner>/<repo>:times=1,retry_after=1")
    started = time.monotonic()
    assert github(sandbox, GithubRetry(total=5)).get_repo("acme/web").full_name == "acme/web"
    assert time.monotonic() - started >= 1
    assert injected(sandbox) == {"403": 1}


def test_a_dropped_connection_is_an_error_the_caller_sees(sandbox):
    faults(sandbox, "drop@jira-dc:times=1")
    url = sandbox.site_url(JIRA_DC) + "/rest/api/2/serverInfo"
    with requests.Session() as session:
        with pytest.raises(requests.ConnectionError, match="without response"):
            session.get(url, headers=DC_AUTH, timeout=10)
        assert session.get(url, headers=DC_AUTH, timeout=10).status_code == 200  # a new connection serves
    assert statuses(sandbox, "/jira-dc/rest/api/2/serverInfo") == {0: 1, 200: 1}


@pytest.mark.parametrize("kind", ["truncate", "malformed"])
def test_spoiled_json_is_a_json_error_in_both_clients(sandbox, kind):
    faults(sandbox, f"{kind}@jira-cloud/rest/api/*/project;{kind}@github/repos/<owner>/<repo>")
    with pytest.raises(ValueError):
        cloud(sandbox).projects()
    with pytest.raises(ValueError):
        github(sandbox, None).get_repo("acme/web")
    assert injected(sandbox) == {kind: 2}


def test_latency_delays_each_request(sandbox):
    faults(sandbox, "latency@jira-dc:ms=150")
    url = sandbox.site_url(JIRA_DC) + "/rest/api/2/serverInfo"
    with requests.Session() as session:
        for _ in range(2):
            started = time.monotonic()
            assert session.get(url, headers=DC_AUTH, timeout=10).status_code == 200
            assert time.monotonic() - started >= 0.15
        started = time.monotonic()
        assert session.get(sandbox.url + "/_sandbox/scenario", timeout=10).status_code == 200
        assert time.monotonic() - started < 0.15  # never the control endpoints


def test_lagging_search_misses_recent_updates_until_reconciled(sandbox):
    url = sandbox.site_url(JIRA_CLOUD) + "/rest/api/3/search/jql"
    params = {"jql": "project = PAY ORDER BY updated DESC", "maxResults": 5000}  # ids only: one page
    auth = (SANDBOX_USER, SANDBOX_TOKEN)
    everything = requests.get(url, params=params, auth=auth, timeout=10).json()["issues"]
    faults(sandbox, "lag@jira-cloud:seconds=604800")  # a week, so that the demo's recent work is "just updated"
    lagging = requests.get(url, params=params, auth=auth, timeout=10).json()["issues"]
    hidden = [i for i in everything if i not in lagging]
    assert hidden and hidden == everything[:len(hidden)]  # exactly the newest updates are missing
    reconciled = requests.get(url, params={**params, "reconcileIssues": hidden[0]["id"]}, auth=auth,
                              timeout=10).json()["issues"]
    assert hidden[0] in reconciled and len(reconciled) == len(lagging) + 1
    assert injected(sandbox) == {"lag": 2}


def test_control_endpoint_reads_replaces_and_clears_the_rules(sandbox):
    url = sandbox.url + "/_sandbox/faults"
    bad = requests.put(url, json={"spec": "429@jira"}, timeout=10)
    assert bad.status_code == 400 and "unknown site 'jira'" in bad.json()["error"]
    put = requests.put(url, json={"rules": [{"kind": "500", "p": 1}], "seed": 3}, timeout=10).json()
    assert put["spec"] == "500" and put["seed"] == 3
    assert requests.get(sandbox.url + "/_sandbox/stats", timeout=10).status_code == 200  # never faulted
    assert requests.get(sandbox.site_url(GITHUB) + "/rate_limit", headers=GITHUB_AUTH, timeout=10).status_code == 500
    assert requests.get(url, timeout=10).json()["injected"] == {"500": 1}
    assert requests.delete(url, timeout=10).json()["rules"] == []
    assert requests.get(sandbox.site_url(GITHUB) + "/rate_limit", headers=GITHUB_AUTH, timeout=10).status_code == 200


def test_connections_are_kept_alive(sandbox):
    connection = http.client.HTTPConnection(sandbox.url.removeprefix("http://"), timeout=10)
    for _ in range(3):
        connection.request("GET", "/github/rate_limit", headers=GITHUB_AUTH)
        response = connection.getresponse()
        assert response.status == 200 and response.read() and not response.will_close
    connection.close()


def test_pulse_sandbox_takes_latency_and_faults_flags():
    command = [sys.executable, "-m", "pipelines.cli", "sandbox", "--port", "0", "--as-of", AS_OF.isoformat(),
               "--latency-ms", "120", "--faults", "503@github:times=1"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        lines = []
        for line in process.stdout:
            lines.append(line)
            if line.startswith("  stats"):
                break
        printed = "".join(lines)
        assert "faults      503@github:times=1;latency:ms=120" in printed
        base = re.search(r"github\s+(\S+)", printed).group(1)
        started = time.monotonic()
        assert requests.get(base + "/rate_limit", headers=GITHUB_AUTH, timeout=10).status_code == 503
        assert requests.get(base + "/rate_limit", headers=GITHUB_AUTH, timeout=10).status_code == 200
        assert time.monotonic() - started >= 0.24
    finally:
        process.send_signal(signal.SIGTERM)
        tail = process.communicate(timeout=10)[0]
    assert "Faults injected: 503 × 1, latency × 2" in tail


def test_control_requests_are_not_counted_as_tracker_requests(sandbox):
    requests.post(sandbox.url + "/_sandbox/stats/reset", timeout=10)
    requests.get(sandbox.url + "/jira-dc/rest/api/2/serverInfo", headers=DC_AUTH, timeout=10)
    requests.get(sandbox.url + "/_sandbox/scenario", timeout=10)
    stats = requests.get(sandbox.url + "/_sandbox/stats", timeout=10).json()
    assert stats["total"] == 1 and [r["endpoint"] for r in stats["requests"]] == ["/jira-dc/rest/api/2/serverInfo"]
