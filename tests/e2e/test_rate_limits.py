"""Pacing by GitHub's documented secondary limits (issue #17): the sandbox enforces them (a
request beyond 100 in flight or beyond the points of the window is answered 403 with
Retry-After, and counted), and a sync at the default settings never trips them. The window is
shrunk to seconds so that a small world can fill it: the client is told the same numbers."""

from __future__ import annotations

import time
from datetime import date

import pytest
import requests

from connectors.github_source import GithubSite, GithubSource
from connectors.pacing import Limits
from pipelines.ingest import sync_github_site
from sandbox.limits import SecondaryLimits
from sandbox.scenario import GITHUB, build
from sandbox.credentials import SANDBOX_TOKEN
from sandbox.server import serve
from warehouse.store import connect, migrate

pytestmark = pytest.mark.e2e

SCENARIO = build("portfolio", 7, date(2026, 11, 27), items=600)
REPOS = [p.key for p in SCENARIO.projects_on(GITHUB)]


def github_sync(tmp_path, sandbox_limits: SecondaryLimits, client: GithubSite | None = None) -> tuple[dict, float]:
    """A full sync of the world's repositories; (the sandbox's secondary-limit stats, seconds)."""
    with serve(SCENARIO, github_limits=sandbox_limits) as sandbox, connect(tmp_path / "work.duckdb") as con:
        migrate(con)
        site = client or GithubSite(GITHUB, sandbox.site_url(GITHUB), SANDBOX_TOKEN)
        site = GithubSite(GITHUB, sandbox.site_url(GITHUB), SANDBOX_TOKEN, concurrency=site.concurrency,
                          limits=site.limits, retry_backoff=0.05)
        started = time.monotonic()
        result = sync_github_site(con, GithubSource(site), REPOS, "s1")
        took = time.monotonic() - started
        assert not [p.error for p in result.projects if p.error]
        stats = requests.get(f"{sandbox.url}/_sandbox/stats", timeout=10).json()
        landed = con.execute("SELECT count(*) FROM raw.github_issues").fetchone()[0]
    assert landed > 0
    return {**stats["github_secondary_limits"], "total": stats["total"]}, took


def test_default_settings_never_trip_githubs_documented_limits(tmp_path):
    limits, _ = github_sync(tmp_path, SecondaryLimits())  # 100 in flight, 900 points a minute
    assert limits["refused"] == 0
    assert 1 < limits["peak_in_flight"] <= GithubSite("g", "u", "t").concurrency  # parallel, within bounds


def test_a_full_window_is_waited_for_not_tripped(tmp_path):
    """With 10 points in any second, a sync of several times more requests waits for the window."""
    tight = SecondaryLimits(max_in_flight=100, points=10, window_seconds=1.0)
    client = GithubSite("g", "u", "t", limits=Limits(max_in_flight=100, points=10, window_seconds=1.0))
    limits, took = github_sync(tmp_path, tight, client)
    assert limits["refused"] == 0
    assert limits["total"] > 30  # so the window filled at least three times
    assert took >= 1.0 * (limits["total"] // 10 - 1)


def test_the_sandbox_refuses_a_client_that_ignores_the_limits(tmp_path):
    """The check above can fail: without a budget the same sync is refused (and, told to wait by
    Retry-After, still completes)."""
    tight = SecondaryLimits(max_in_flight=100, points=10, window_seconds=1.0)
    careless = GithubSite("g", "u", "t", limits=Limits(max_in_flight=100, points=None))
    limits, _ = github_sync(tmp_path, tight, careless)
    assert limits["refused"] > 0


def test_a_stats_reset_gives_the_token_its_hourly_budget_back():
    """Runs a benchmark measures one after another are nights apart: the second must not find the
    first's hour of budget spent (two full syncs of 100,000 items spend more than 5,000)."""
    with serve(SCENARIO) as sandbox:
        headers = {"Authorization": f"token {SANDBOX_TOKEN}"}
        url = sandbox.site_url(GITHUB)
        for _ in range(3):
            requests.get(f"{url}/repos/{REPOS[0]}", headers=headers, timeout=10)
        core = requests.get(f"{url}/rate_limit", headers=headers, timeout=10).json()["resources"]["core"]
        assert core["remaining"] == core["limit"] - 3
        requests.post(f"{sandbox.url}/_sandbox/stats/reset", timeout=10)
        core = requests.get(f"{url}/rate_limit", headers=headers, timeout=10).json()["resources"]["core"]
        assert core["remaining"] == core["limit"] == 5000
