"""A sync scaled out over shards (warehouse/landing.py) leaves the warehouse a sync of one process
leaves: the same raw rows, cursors and tombstones after a first sync, after nights with new,
edited, moved and deleted items, and after a full resync; on a local folder and on an
S3-compatible server (moto's, started by the test)."""

from __future__ import annotations

import os
import pickle
import socket
from datetime import date, datetime
from pathlib import Path

import pytest
import requests

from demo_world import (GITHUB, JIRA, RAW_TABLES, REPOS, failures, github_source, jira_source, record_run, snapshot,
                        sync)
from pipelines.ingest import SyncPolicy, replay_landed, sync_github_site, sync_jira_site, sync_sites
from sandbox.scenario import build
from sandbox.server import serve
from warehouse.landing import Journal, LandingStore
from warehouse.store import connect, migrate

pytestmark = pytest.mark.e2e

# Three shards that split each Jira site's projects: an issue moved between two projects of a site
# is landed by one shard and found missing by another.
SHARDS = [[("jira-cloud", "PAY"), ("jira-dc", "CART")], [("jira-dc", "ID"), ("github", REPOS[0])],
          [("github", REPOS[1])]]


def state(path: Path) -> dict:
    """Everything a sync decides: raw rows by project, cursors, ETags and tombstones."""
    with connect(path) as con:
        held = snapshot(con, RAW_TABLES)
        held["cursors"] = sorted(con.execute(
            "SELECT site, project_key, source, cursor_at, reconciled_at IS NOT NULL FROM meta.sync_cursors").fetchall())
        held["etags"] = sorted(con.execute("SELECT site, request, etag FROM meta.http_etags").fetchall())
        # As core.tombstones reads them, one vanishing each: an issue whose old project's listing
        # missed it before its new project landed it has a 'deleted' row and then a 'moved' one,
        # and which comes first is the order the projects' threads (or shards) happened to run.
        held["tombstones"] = sorted(con.execute("""
            SELECT site, source, issue_id, key_before, bool_or(kind = 'moved'),
                   any_value(moved_to_project) FILTER (WHERE kind = 'moved')
            FROM raw.tombstones GROUP BY ALL""").fetchall())
        held["syncs"] = sorted(con.execute(
            "SELECT sync_id, site, project_key, status, items FROM meta.source_syncs").fetchall())
    return held


def live_night(sandbox, path: Path, sync_id: str, clock: datetime, policy: SyncPolicy) -> None:
    with connect(path) as con:
        migrate(con)
        record_run(con, sync_id, clock)
        assert failures(sync(sandbox, con, sync_id, policy=policy)) == {}


def landed_night(sandbox, path: Path, store: LandingStore, sync_id: str, clock: datetime, policy: SyncPolicy) -> None:
    """As the Dagster graph runs it: the plan step copies the state, each shard fetches into its
    journal reading only that copy, and one step replays the journals."""
    with connect(path) as con:
        migrate(con)
        record_run(con, sync_id, clock)
        copied = store.export_state(con, sync_id)
        assert (copied > 0) == (sync_id != "first")  # the first night starts from nothing
    for index, shard in enumerate(SHARDS):
        with store.state(sync_id) as reader, store.journal(sync_id, index) as journal:
            sites = []
            for site in ("jira-cloud", "jira-dc"):
                if keys := [(k, None) for s, k in shard if s == site]:
                    sites.append(lambda writer, site=site, keys=keys: sync_jira_site(
                        reader, jira_source(sandbox, site), keys, sync_id, policy, writer))
            if repos := [k for s, k in shard if s == GITHUB]:
                sites.append(lambda writer, repos=repos: sync_github_site(
                    reader, github_source(sandbox), repos, sync_id, policy, writer))
            journal.finish(sync_sites(reader, sites, writer=journal))
    assert len(store.journals(sync_id)) == len(SHARDS)
    with connect(path) as con:
        results = replay_landed(con, store, sync_id)
    assert [p.error for site in results for p in site.projects if p.error] == []
    assert sorted(p.project_key for site in results for p in site.projects) == sorted(
        [k for keys in JIRA.values() for k in keys] + REPOS)
    store.clear(sync_id)
    assert store.journals(sync_id) == []


def nights(tmp_path: Path, store: LandingStore, count: int) -> None:
    with serve(build("demo", 7, date(2026, 11, 27))) as sandbox:
        clock = datetime.fromisoformat("2026-11-27T00:00:00+00:00")
        plan = [("first", SyncPolicy())] + [(f"night-{n}", SyncPolicy()) for n in range(count)] + [
            ("resync", SyncPolicy(full=True))]
        for n, (sync_id, policy) in enumerate(plan):
            if sync_id.startswith("night"):
                changes = requests.post(f"{sandbox.url}/_sandbox/advance", json={"days": 1}, timeout=30).json()
                assert changes["deleted"] and changes["moved"]
                clock = datetime.fromisoformat(changes["now"])
            live_night(sandbox, tmp_path / "live.duckdb", sync_id, clock, policy)
            landed_night(sandbox, tmp_path / "landed.duckdb", store, sync_id, clock, policy)
            assert state(tmp_path / "landed.duckdb") == state(tmp_path / "live.duckdb"), sync_id


def test_shards_land_what_one_process_lands_night_after_night(tmp_path):
    nights(tmp_path, LandingStore(str(tmp_path / "landing")), count=2)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_shards_land_through_an_s3_compatible_store(tmp_path, monkeypatch):
    moto_server = pytest.importorskip("moto.server")
    pytest.importorskip("s3fs")
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=free_port())
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        # what s3fs (botocore) reads: the endpoint and keys come from the environment only
        for name, value in {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "pulse-test",
                            "AWS_SECRET_ACCESS_KEY": "pulse-test-secret", "AWS_DEFAULT_REGION": "us-east-1"}.items():
            monkeypatch.setenv(name, value)
        import boto3

        boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket="pulse-landing")
        store = LandingStore("s3://pulse-landing/nightly")
        assert not store.is_local
        nights(tmp_path, store, count=1)
        listed = boto3.client("s3", endpoint_url=endpoint).list_objects_v2(Bucket="pulse-landing")
        assert listed.get("KeyCount", 0) == 0  # every run's files were cleared after its merge
    finally:
        server.stop()


def test_a_journal_cut_short_is_refused_and_a_closure_is_refused_when_recorded(tmp_path):
    store = LandingStore(str(tmp_path / "landing"))
    with store.journal("r1", 0) as journal:
        journal.land("raw.jira_versions", [{"site": "s"}], project="s/P")
        with pytest.raises((pickle.PicklingError, AttributeError, TypeError)):
            journal.run(lambda con: None, project="s/P")  # a closure cannot be replayed elsewhere
    records = store.records(store.journals("r1")[0])
    assert next(records).table == "raw.jira_versions"
    with pytest.raises(ValueError, match="ends before its shard finished"):
        next(records)
    with pytest.raises(FileNotFoundError, match="no state copy"):
        with store.state("r1"):
            pass
    assert isinstance(journal, Journal) and os.path.exists(tmp_path / "landing" / "r1")
