"""Corrupt answers: a tracker answering 200 with a truncated or malformed JSON body (the sandbox's
``truncate`` and ``malformed`` faults), or with a body that cannot be read whole. The connectors
ask again, like after a 5xx: a few corrupt bodies anywhere, the site's own metadata included,
cost one request each and a logged wait, and the sync lands what a fault-free sync lands; a body
corrupt every time fails only its project, with an error naming the site and the URL and no
secret. Every request sent is counted, retries included. Backoff is 0.01 s."""

from __future__ import annotations

import logging
import re
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest

from connectors.github_source import GithubSite, GithubSource
from connectors.jira_source import JiraSite, JiraSource
from demo_world import (EVERY_PROJECT, SECRETS, failures, fresh, github_source, jira_source, part, requests_by_site,
                        snapshot, sync, warehouse)
from sandbox.faults import parse_spec
from sandbox.scenario import GITHUB, JIRA_CLOUD, JIRA_DC
from sandbox.credentials import SANDBOX_TOKEN
from sandbox.server import RunningSandbox

pytestmark = pytest.mark.e2e

KINDS = ["truncate", "malformed"]
BACKOFF = 0.01
TABLES = {
    "raw.jira_sites": None, "raw.jira_issues": "project_key", "raw.jira_versions": "project_key",
    "raw.jira_changelogs": None, "raw.github_repos": "repo", "raw.github_issues": "repo",
    "raw.github_issue_events": "repo", "raw.github_milestones": "repo", "raw.github_issue_relations": "repo",
}
# What the connectors log before each wait (loggers connectors.jira_source, connectors.github_source).
WAIT = re.compile(r"^(?P<site>[\w-]+): (?P<method>GET|POST) (?P<url>\S+) answered 200 with a body that is not "
                  r"valid JSON \(truncated\?\); retrying in (?P<wait>[\d.]+)s \(retry (?P<n>\d) of 3\)$")
CONNECTORS = ("connectors.jira_source", "connectors.github_source")


# -- faults, and what they left -------------------------------------------------------------------

def set_faults(sandbox: RunningSandbox, spec: str) -> None:
    sandbox.app.faults.set(parse_spec(spec))


def waits(caplog) -> list[re.Match]:
    """The connectors' logged waits for corrupt bodies, parsed; every connector warning must be one."""
    records = [r for r in caplog.records if r.name in CONNECTORS and r.levelno == logging.WARNING]
    parsed = [WAIT.match(r.getMessage()) for r in records]
    assert all(parsed), [r.getMessage() for r in records]
    return parsed


@dataclass(frozen=True)
class Baseline:
    held: dict[tuple, tuple[int, str]]
    requests: dict[str, int]


@pytest.fixture(scope="module")
def baseline(running, tmp_path_factory) -> Baseline:
    """A fault-free full sync of the same world: what every run below must end up equal to."""
    fresh(running)
    with warehouse(tmp_path_factory.mktemp("baseline")) as con:
        assert failures(sync(running, con, "baseline", retry_backoff=BACKOFF)) == {}
        return Baseline(snapshot(con, TABLES), requests_by_site(running))


# -- a few corrupt bodies: retried, logged, nothing lost -----------------------------------------

def few(kind: str) -> str:
    """Corrupt bodies on every site: the site metadata a sync asks first (serverInfo twice in a row,
    field, status, issueLinkType, myself), project versions, search pages after the first,
    GitHub's first two answers, issue pages and events."""
    return ";".join([
        f"{kind}@jira-cloud:times=2",  # serverInfo, then its retry
        f"{kind}@jira-cloud/rest/api/*/status:times=1",
        f"{kind}@jira-cloud/rest/api/*/issueLinkType:times=1",
        f"{kind}@jira-cloud/rest/api/*/search/jql:after=1,times=1",
        f"{kind}@jira-dc/rest/api/*/serverInfo:times=1",
        f"{kind}@jira-dc/rest/api/*/field:times=1",
        f"{kind}@jira-dc/rest/api/*/myself:times=1",
        f"{kind}@jira-dc/rest/api/*/project/<key>/versions:times=1",
        f"{kind}@jira-dc/rest/api/2/search:after=1,times=2",
        f"{kind}@github:times=2",
        f"{kind}@github/repos/<owner>/<repo>/issues:after=1,times=2",
        f"{kind}@github/repos/<owner>/<repo>/issues/events:times=1",
    ])


FEW = {JIRA_CLOUD: 5, JIRA_DC: 6, GITHUB: 5}  # corrupt bodies by site, as few() spreads them


@pytest.mark.parametrize("kind", KINDS)
def test_a_few_corrupt_bodies_are_retried_logged_and_the_sync_equals_a_fault_free_one(
        sandbox, baseline, tmp_path, caplog, kind):
    caplog.set_level(logging.INFO)
    set_faults(sandbox, few(kind))
    with warehouse(tmp_path) as con:
        results = sync(sandbox, con, "corrupt", retry_backoff=BACKOFF)
        assert failures(results) == {}
        assert snapshot(con, TABLES) == baseline.held
    assert sandbox.app.faults.injected() == {kind: sum(FEW.values())}
    # Bounded and exact: each corrupt body cost one more request and one logged wait, no more.
    assert requests_by_site(sandbox) == {site: baseline.requests[site] + n for site, n in FEW.items()}
    logged = waits(caplog)
    assert {site: sum(m["site"] == site for m in logged) for site in FEW} == FEW
    # The wait doubles while the same request stays corrupt: serverInfo on Cloud, twice in a row.
    cloud = sandbox.site_url(JIRA_CLOUD)
    assert [(m["url"], m["wait"], m["n"]) for m in logged if m["url"].endswith("/serverInfo")
            and m["site"] == JIRA_CLOUD] == [(f"{cloud}/rest/api/2/serverInfo", "0.01", "1"),
                                               (f"{cloud}/rest/api/2/serverInfo", "0.02", "2")]
    # Which repository's pages meet a fault depends on which of the two threads asks first.
    paths = {re.sub(r"^http://[^/]+|\?.*$", "", m["url"]).replace("/acme/platform-api/", "/acme/web/")
             for m in logged}
    assert {f"/{JIRA_DC}/rest/api/2/field", f"/{JIRA_DC}/rest/api/2/myself", f"/{JIRA_CLOUD}/rest/api/3/status",
            f"/{JIRA_CLOUD}/rest/api/3/issueLinkType", f"/{JIRA_CLOUD}/rest/api/3/search/jql",
            f"/{JIRA_DC}/rest/api/2/search", "/github/repos/acme/web/issues"} <= paths, paths
    assert not any(secret in caplog.text for secret in SECRETS)


def test_bulk_changelog_posts_are_reads_and_are_retried(sandbox):
    jira = jira_source(sandbox, JIRA_CLOUD, BACKOFF)
    ids = [str(i["id"]) for page in jira.issue_pages("PAY") for i in page][:20]
    clean = list(jira.changelogs(ids))
    assert clean
    before = jira.requests
    set_faults(sandbox, "truncate@jira-cloud/rest/api/3/changelog/bulkfetch:times=1;"
                        "malformed@jira-cloud/rest/api/3/changelog/bulkfetch:times=1")
    assert list(jira.changelogs(ids)) == clean
    assert sandbox.app.faults.injected() == {"malformed": 1, "truncate": 1}
    assert jira.requests - before == 3


# -- a body corrupt every time: its project fails, named, and the others go on -------------------

@pytest.mark.parametrize("kind", KINDS)
def test_a_body_corrupt_every_time_fails_only_its_project_naming_site_and_url(
        sandbox, baseline, tmp_path, caplog, kind):
    caplog.set_level(logging.INFO)
    set_faults(sandbox, f"{kind}@jira-dc/rest/api/2/search:project=CART;"
                        f"{kind}@jira-cloud/rest/api/3/search/jql:project=PAY;"
                        f"{kind}@github/repos/<owner>/<repo>/issues:project=acme/web")
    with warehouse(tmp_path) as con:
        results = sync(sandbox, con, "corrupt", retry_backoff=BACKOFF)
        reported = failures(results)
        assert set(reported) == {"CART", "PAY", "acme/web"}
        others = [key for key in EVERY_PROJECT if key not in reported]
        assert part(snapshot(con, TABLES), others) == part(baseline.held, others)
        recorded = dict(con.execute("SELECT project_key, error FROM meta.source_syncs WHERE sync_id = 'corrupt'"
                                    ).fetchall())
    assert recorded == {key: reported.get(key) for key in EVERY_PROJECT}
    # Asked once and retried three times each, then given up: 4 corrupt answers a failed project.
    assert sandbox.app.faults.injected() == {kind: 12}
    for key, site, path in [("CART", JIRA_DC, "/rest/api/2/search?"), ("PAY", JIRA_CLOUD, "/rest/api/3/search/jql"),
                            ("acme/web", GITHUB, "/repos/acme/web/issues?")]:
        error = reported[key]
        assert error.startswith(f"CorruptResponse: {site}: GET {sandbox.site_url(site)}{path}"), error
        assert error.endswith(" answered 200 with a body that is not valid JSON (truncated?) 4 times"), error
        assert results[key].site == site
        # The project's requests: what it asked before the search, then the search 4 times.
        assert results[key].requests == 1 + 4, (key, results[key].requests)
    logged = waits(caplog)
    assert sorted(m["n"] for m in logged) == ["1", "1", "1", "2", "2", "2", "3", "3", "3"]
    errors = [r.getMessage() for r in caplog.records if r.name == "pipelines.ingest" and r.levelno == logging.ERROR]
    assert sorted(errors) == sorted(f"sync of {key} on {results[key].site} failed: {reported[key]}"
                                    for key in reported)
    for text in (*reported.values(), caplog.text):
        assert not any(secret in text for secret in SECRETS)
        assert "Authorization" not in text


# -- every request sent is counted ---------------------------------------------------------------

def test_every_request_sent_is_counted_once_retries_included(sandbox):
    set_faults(sandbox, "truncate@jira-dc/rest/api/*/myself:times=2;503@jira-dc/rest/api/*/status:times=1;"
                        "malformed@github/repos/<owner>/<repo>/milestones:times=2;"
                        "503@github/repos/<owner>/<repo>:times=1")
    jira = jira_source(sandbox, JIRA_DC, BACKOFF)
    jira.metadata()
    github = github_source(sandbox, BACKOFF)
    assert github.milestones("acme/web").items
    assert github.repository("acme/web").items
    seen = requests_by_site(sandbox)
    assert seen == {JIRA_DC: 5 + 3, GITHUB: 2 + 3}
    assert (jira.requests, github.requests) == (seen[JIRA_DC], seen[GITHUB])


# -- a body that cannot be read whole ------------------------------------------------------------

@contextmanager
def cut_short(body: bytes, short: int) -> Iterator[str]:
    """A server whose first ``short`` answers promise ``body`` in Content-Length but send half and
    hang up (the client reads an IncompleteRead); later answers are whole. Yields its base URL."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.05)
    stop = threading.Event()
    answered = 0

    def serve_forever() -> None:
        nonlocal answered
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with conn:
                conn.recv(65536)
                answered += 1
                sent = body[:len(body) // 2] if answered <= short else body
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
                             b"Content-Length: %d\r\n\r\n%s" % (len(body), sent))

    thread = threading.Thread(target=serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()


def test_a_body_that_cannot_be_read_whole_is_retried_then_named(caplog):
    caplog.set_level(logging.WARNING)
    info = b'{"deploymentType": "Server", "versionNumbers": [9, 12, 0], "full_name": "acme/web", "id": 1}'
    with cut_short(info, short=2) as url:
        jira = JiraSource(JiraSite(JIRA_DC, url, SANDBOX_TOKEN, retry_backoff=BACKOFF))
        assert jira.server_info["versionNumbers"] == [9, 12, 0]
        assert jira.requests == 3
    with cut_short(info, short=2) as url:
        github = GithubSource(GithubSite(GITHUB, url, SANDBOX_TOKEN, seconds_between_requests=0, retry_backoff=BACKOFF))
        assert github.repository("acme/web").items[0]["full_name"] == "acme/web"
        assert github.requests == 3
    read = [r.getMessage() for r in caplog.records if r.name in CONNECTORS]
    assert len(read) == 4 and all("answered 200 with a body that could not be read whole (ChunkedEncodingError)"
                                  in m for m in read), read
    with cut_short(info, short=10) as url, pytest.raises(RuntimeError) as failed:
        GithubSource(GithubSite(GITHUB, url, SANDBOX_TOKEN, seconds_between_requests=0,
                                retry_backoff=BACKOFF)).repository("acme/web")
    assert type(failed.value).__name__ == "CorruptResponse"
    assert str(failed.value) == (f"github: GET {url}/repos/acme/web answered 200 with a body that could not be "
                                 "read whole (ChunkedEncodingError) 4 times")
    assert (failed.value.site, failed.value.url, failed.value.attempts) == (GITHUB, f"{url}/repos/acme/web", 4)
    assert not any(secret in caplog.text for secret in SECRETS)
