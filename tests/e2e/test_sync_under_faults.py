"""Whole syncs under rate limits and faults: ``pipelines.ingest`` against the sandbox over HTTP,
through the real jira and PyGithub clients. A sync waits out a rate limit as told and logs how
long; rides out 5xx bursts and dropped connections within bounded retries; keeps the pages it
committed when a project fails, without moving that project's cursor, so the next run resumes;
and one project answering 404 stops none of the others and is reported, with no secret in the
report. Each run is compared with a fault-free sync of the same world. Waits are kept to 1-2 s."""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass

import duckdb
import pytest
import requests

from connectors.jira_source import JiraSource
from demo_world import (EVERY_PROJECT, JIRA, REPOS, SECRETS, failures, fresh, github_source, jira_source,
                        part, requests_by_site, snapshot, sync, warehouse)
from pipelines.ingest import SyncPolicy
from sandbox.scenario import GITHUB, JIRA_CLOUD, JIRA_DC
from sandbox.server import RunningSandbox

pytestmark = pytest.mark.e2e

# What a sync lands, by table: the column that names the project (None: the table has none).
TABLES = {
    "raw.jira_issues": "project_key", "raw.jira_versions": "project_key", "raw.jira_changelogs": None,
    "raw.github_repos": "repo", "raw.github_issues": "repo", "raw.github_issue_events": "repo",
    "raw.github_milestones": "repo", "raw.github_issue_relations": "repo",
}


# -- the warehouse -------------------------------------------------------------------------------

def cursors(con: duckdb.DuckDBPyConnection) -> dict[str, tuple]:
    return {row[1]: row for row in con.execute("SELECT * FROM meta.sync_cursors").fetchall()}


# -- what the sandbox saw ------------------------------------------------------------------------

def set_faults(sandbox: RunningSandbox, spec: str) -> None:
    response = requests.put(sandbox.url + "/_sandbox/faults", json={"spec": spec}, timeout=10)
    assert response.status_code == 200, response.text


def injected(sandbox: RunningSandbox) -> dict[str, int]:
    return sandbox.app.faults.injected()


def statuses(sandbox: RunningSandbox, endpoint: str) -> dict[int, int]:
    """Answers by status (0: a dropped connection) for one endpoint pattern, site prefix included."""
    return {r["status"]: r["count"] for r in sandbox.stats.as_json()["requests"] if r["endpoint"] == endpoint}


@dataclass(frozen=True)
class Baseline:
    held: dict[tuple, tuple[int, str]]
    requests: dict[str, int]


@pytest.fixture(scope="module")
def baseline(running, tmp_path_factory) -> Baseline:
    """A fault-free full sync of the same world: what every run below must end up equal to."""
    fresh(running)
    with warehouse(tmp_path_factory.mktemp("baseline")) as con:
        assert failures(sync(running, con, "baseline")) == {}
        return Baseline(snapshot(con, TABLES), requests_by_site(running))


# -- rate limits ---------------------------------------------------------------------------------

@pytest.mark.parametrize("status", [403, 429])
def test_github_primary_limit_used_up_mid_sync_is_waited_out_until_reset_and_logged(
        sandbox, baseline, tmp_path, caplog, status):
    caplog.set_level(logging.INFO, logger="github.GithubRetry")  # as `pulse` configures it
    # Ten requests in, the budget is gone: every request answers `status` with Remaining 0 and no
    # Retry-After until X-RateLimit-Reset, a second or less ahead.
    set_faults(sandbox, f"ratelimit@github:after=10,times=1,reset=1,status={status}")
    with warehouse(tmp_path) as con:
        started = time.monotonic()
        assert failures(sync(sandbox, con, "limited", jira=False)) == {}
        took = time.monotonic() - started
        assert snapshot(con, TABLES) == part(baseline.held, REPOS)
    # GithubRetry sleeps until the reset plus a second ("Setting next backoff to 1.43s"); a 429
    # needs connectors.github_source.RateLimitRetry, without which PyGithub fails at once.
    waits = [float(w) for w in re.findall(r"Setting next backoff to ([\d.]+)s", caplog.text)]
    limited = injected(sandbox)["ratelimit"]
    assert len(waits) == limited >= 1  # every rate-limited request was waited out once, then served
    assert all(0.9 <= w <= 2.1 for w in waits), waits
    assert took >= min(waits)
    assert sum(r["count"] for r in sandbox.stats.as_json()["requests"]
               if r["endpoint"].startswith("/github/") and r["status"] == status) == limited
    assert requests_by_site(sandbox) == {"github": baseline.requests["github"] + limited}


def test_jira_429_with_retry_after_mid_sync_is_waited_out_and_logged(sandbox, baseline, tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="jira.resilientsession")
    set_faults(sandbox, "429@jira-dc/rest/api/2/search:after=1,times=1,retry_after=1;"
                        "429@jira-cloud/rest/api/3/search/jql:after=1,times=1,retry_after=1")
    with warehouse(tmp_path) as con:
        started = time.monotonic()
        assert failures(sync(sandbox, con, "limited", github=False)) == {}
        took = time.monotonic() - started
        assert snapshot(con, TABLES) == part(baseline.held, list(sum(JIRA.values(), [])))
    # ResilientSession sleeps Retry-After doubled, times a jitter of 0.5 to 1, and says so.
    waits = [float(w) for w in re.findall(r"will retry \[1/3\] in ([\d.]+)s\. Err: 429", caplog.text)]
    assert len(waits) == 2 and all(1 <= w <= 2 for w in waits), waits
    assert took >= sum(waits)
    assert caplog.text.count("Request rate limited by Jira. Request should be retried after 1 seconds.") == 2
    assert injected(sandbox) == {"429": 2}
    assert statuses(sandbox, "/jira-dc/rest/api/2/search")[429] == 1
    assert statuses(sandbox, "/jira-cloud/rest/api/3/search/jql")[429] == 1
    assert requests_by_site(sandbox) == {site: baseline.requests[site] + 1 for site in JIRA}


# -- 5xx and dropped connections -----------------------------------------------------------------

def test_5xx_bursts_and_dropped_connections_are_ridden_out_by_bounded_library_retries(
        sandbox, baseline, tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="jira.resilientsession")
    set_faults(sandbox, ";".join([
        "503@github/repos/<owner>/<repo>/issues:times=3",
        "502@github/repos/<owner>/<repo>/milestones:times=1",
        "drop@github/repos/<owner>/<repo>/issues/events:times=1",
        "503@jira-dc/rest/api/2/search:after=1,times=2,retry_after=1",  # jira retries a 503 only with Retry-After
        "drop@jira-cloud/rest/api/*/project/<key>/versions:times=1",
    ]))

    def quick_after_a_drop(sandbox: RunningSandbox, site: str) -> JiraSource:
        # After a dropped connection jira sleeps 10·2^n s (jittered ×0.5-1) up to max_retry_delay
        # (60 s): capped at 1 s to keep the test short. Cloud has one project, so no other worker.
        source = jira_source(sandbox, site)
        if site == JIRA_CLOUD:
            source.client._session.max_retry_delay = 1
        return source

    with warehouse(tmp_path) as con:
        assert failures(sync(sandbox, con, "bursts", source=quick_after_a_drop)) == {}
        assert snapshot(con, TABLES) == baseline.held
    faults = injected(sandbox)
    assert faults == {"503": 5, "502": 1, "drop": 2}
    # Bounded: every fault cost exactly one more request, nothing else was asked again.
    assert statuses(sandbox, "/github/repos/<owner>/<repo>/issues")[503] == 3
    assert statuses(sandbox, "/github/repos/<owner>/<repo>/milestones")[502] == 1
    assert statuses(sandbox, "/github/repos/<owner>/<repo>/issues/events")[0] == 1
    assert statuses(sandbox, "/jira-dc/rest/api/2/search")[503] == 2
    assert statuses(sandbox, "/jira-cloud/rest/api/3/project/<key>/versions")[0] == 1
    assert requests_by_site(sandbox) == {"github": baseline.requests["github"] + 5,
                                         "jira-dc": baseline.requests["jira-dc"] + 2,
                                         "jira-cloud": baseline.requests["jira-cloud"] + 1}
    assert "Got ConnectionError" in caplog.text
    assert len(re.findall(r"will retry \[\d/3\] in [\d.]+s\. Err: ", caplog.text)) == 3


# -- one project failing -------------------------------------------------------------------------

def test_one_project_answering_404_is_reported_and_stops_none_of_the_others(sandbox, baseline, tmp_path, caplog):
    set_faults(sandbox, "404@jira-dc:project=CART;404@github:project=acme/web")
    with warehouse(tmp_path) as con:
        results = sync(sandbox, con, "partial")
        reported = failures(results)
        assert set(reported) == {"CART", "acme/web"}
        others = [key for key in EVERY_PROJECT if key not in reported]
        assert part(snapshot(con, TABLES), others) == part(baseline.held, others)
        assert part(snapshot(con, TABLES), list(reported)) == {}  # a 404 on its first request: nothing landed
        recorded = {key: (status, error) for key, status, error in con.execute(
            "SELECT project_key, status, error FROM meta.source_syncs WHERE sync_id = 'partial'").fetchall()}
    assert recorded == {key: ("failed", reported[key]) if key in reported else ("succeeded", None)
                        for key in EVERY_PROJECT}
    # The error carries the tracker's status and own message (Jira's also the URL it failed on);
    # the run's report names the project (ProjectResult, meta.source_syncs, the log line, the
    # asset's failure metadata keyed by project).
    assert reported["CART"].startswith("JIRAError: HTTP 404 from ") and "/project/CART/" in reported["CART"]
    assert reported["CART"].endswith(": No project could be found with key 'CART'.")
    assert reported["acme/web"] == "UnknownObjectException: HTTP 404: Not Found"
    assert {r.site for r in results.values() if r.error} == {JIRA_DC, GITHUB}
    logged = [r.getMessage() for r in caplog.records if r.name == "pipelines.ingest" and r.levelno == logging.ERROR]
    assert f"sync of CART on jira-dc failed: {reported['CART']}" in logged, logged
    assert f"sync of acme/web on github failed: {reported['acme/web']}" in logged, logged
    for text in (*reported.values(), caplog.text):
        assert not any(secret in text for secret in SECRETS)
    assert injected(sandbox) == {"404": 2}  # neither client asks again after a 404


# -- failing mid-project, then resuming ----------------------------------------------------------

# After the first page (100 items) of CART's search and of acme/web's issue list, every request
# of theirs there answers 500, so the clients' retries run out.
FAIL_AFTER_A_PAGE = ("500@jira-dc/rest/api/2/search:project=CART,after=1;"
                     "500@github/repos/<owner>/<repo>/issues:project=acme/web,after=1")


def test_a_project_failing_mid_sync_keeps_its_committed_pages_and_the_next_run_resumes(sandbox, baseline, tmp_path):
    with warehouse(tmp_path) as con:
        # A first run: the page read before the failure is committed; no cursor is written.
        set_faults(sandbox, FAIL_AFTER_A_PAGE)
        assert set(failures(sync(sandbox, con, "first"))) == {"CART", "acme/web"}
        assert con.execute("SELECT sync_id, count(*) FROM raw.jira_issues WHERE project_key = 'CART' GROUP BY ALL"
                           ).fetchall() == [("first", 100)]
        assert con.execute("SELECT sync_id, count(*) FROM raw.github_issues WHERE repo = 'acme/web' GROUP BY ALL"
                           ).fetchall() == [("first", 100)]
        assert set(cursors(con)) == {"PAY", "ID", "acme/platform-api"}
        # Bounded: PyGithub asks 1 + GithubRetry(total=5) times; jira retries no 500 today (1), and
        # a retry for 5xx in JiraSource should stop at 3 more.
        assert statuses(sandbox, "/github/repos/<owner>/<repo>/issues")[500] == 6
        assert 1 <= statuses(sandbox, "/jira-dc/rest/api/2/search")[500] <= 4

        set_faults(sandbox, "")
        assert failures(sync(sandbox, con, "second")) == {}
        assert snapshot(con, TABLES) == baseline.held
        before = cursors(con)
        assert set(before) == set(EVERY_PROJECT)

        # A full resync failing the same way: the failed projects' cursors do not move and nothing
        # of theirs is forgotten; the page read before the failure is committed.
        set_faults(sandbox, FAIL_AFTER_A_PAGE)
        assert set(failures(sync(sandbox, con, "third", policy=SyncPolicy(full=True)))) == {"CART", "acme/web"}
        after = cursors(con)
        assert {key: after[key] for key in ("CART", "acme/web")} == {key: before[key] for key in ("CART", "acme/web")}
        assert all(after[key] != before[key] for key in ("PAY", "ID", "acme/platform-api"))
        assert {k: n for k, (n, _) in snapshot(con, TABLES).items()} == {k: n for k, (n, _) in baseline.held.items()}
        assert con.execute("SELECT count(*) FROM raw.jira_issues WHERE project_key = 'CART' AND sync_id = 'third'"
                           ).fetchall() == [(100,)]
        assert con.execute("SELECT count(*) FROM raw.github_issues WHERE repo = 'acme/web' AND sync_id = 'third'"
                           ).fetchall() == [(100,)]

        set_faults(sandbox, "")
        assert failures(sync(sandbox, con, "fourth")) == {}
        assert snapshot(con, TABLES) == baseline.held


def test_a_full_resync_failing_while_reading_relations_loses_none_on_the_next_run(sandbox, baseline, tmp_path):
    with warehouse(tmp_path) as con:
        assert failures(sync(sandbox, con, "first", jira=False)) == {}
        set_faults(sandbox, "500@github/repos/<owner>/<repo>/issues/<int:number>/sub_issues:project=acme/web,after=2")
        assert set(failures(sync(sandbox, con, "full", jira=False, policy=SyncPolicy(full=True)))) == {"acme/web"}
        set_faults(sandbox, "")
        assert failures(sync(sandbox, con, "next", jira=False)) == {}
        assert snapshot(con, TABLES) == part(baseline.held, REPOS)


# -- where the clients' own retries do not reach -------------------------------------------------

def test_jira_5xx_without_retry_after_are_retried(sandbox, baseline, tmp_path, caplog):
    set_faults(sandbox, "503@jira-dc/rest/api/2/search:project=CART,times=1;"
                        "500@jira-cloud/rest/api/*/search/jql:times=1")
    with caplog.at_level(logging.WARNING, logger="connectors.jira_source"), warehouse(tmp_path) as con:
        assert failures(sync(sandbox, con, "bursts", github=False)) == {}
        assert snapshot(con, TABLES) == part(baseline.held, list(sum(JIRA.values(), [])))
    waits = sorted(r.getMessage() for r in caplog.records if r.name == "connectors.jira_source")
    assert waits == ["Jira answered 500; retrying in 0.0s", "Jira answered 503; retrying in 0.0s"]


def test_github_5xx_retries_back_off(sandbox):
    set_faults(sandbox, "503@github/repos/<owner>/<repo>/milestones:times=3")
    started = time.monotonic()
    assert github_source(sandbox, retry_backoff=0.5).milestones("acme/web").items
    assert time.monotonic() - started >= 1  # 0 + 1 + 2 s at the default backoff
