"""Freshness: the asset check fails (severity ERROR) naming every configured project whose last
successful sync is older than sync.freshness_hours (26 by default), or that never synced."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import dagster as dg
import pytest
import yaml

from pipelines.config import ConfigError, load
from pipelines.defs.checks import every_project_synced_recently, project_ages, stale_projects
from pipelines.defs.resources import PulseResource

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=timezone.utc)
PROGRAM = {
    "sites": {"acme": {"kind": "jira", "url": "https://jira.acme.example", "token_env": "JIRA_TOKEN"},
              "github": {"kind": "github", "token_env": "GITHUB_TOKEN"}},
    "programs": [{"id": "checkout", "name": "Checkout", "projects": [
        {"site": "acme", "key": "PAY"}, {"site": "acme", "key": "CART"}, {"site": "github", "repo": "acme/web"}]}],
}


def write(tmp_path, **sync) -> str:
    path = tmp_path / "program.yaml"
    path.write_text(yaml.safe_dump({**PROGRAM, **({"sync": sync} if sync else {})}), encoding="utf-8")
    return str(path)


def test_projects_older_than_the_threshold_or_never_synced_are_stale(tmp_path):
    config = load(write(tmp_path)).config
    assert config.sync.freshness_hours == 26
    ages = project_ages(config, {("acme", "PAY"): NOW - timedelta(hours=27),
                                 ("acme", "CART"): NOW - timedelta(hours=25, minutes=59)}, NOW)
    assert ages == {"acme/PAY": 27.0, "acme/CART": 26.0, "github/acme/web": None}
    assert stale_projects(ages, 26) == ["acme/PAY: last synced successfully 27 h ago",
                                        "github/acme/web: never synced successfully"]
    assert stale_projects(ages, 48) == ["github/acme/web: never synced successfully"]


@pytest.mark.parametrize("hours", [0, 721, "a day"])
def test_the_threshold_is_validated(tmp_path, hours):
    with pytest.raises(ConfigError, match=r"sync\.freshness_hours"):
        load(write(tmp_path, freshness_hours=hours))


def test_the_check_reads_the_work_file_and_names_every_stale_project(tmp_path):
    pulse = PulseResource(config_path=write(tmp_path, freshness_hours=12))
    now = datetime.now(timezone.utc)
    with pulse.warehouse() as con:  # the work file, migrated
        for sync_id, site, key, status, hours_ago in [
            ("s1", "acme", "PAY", "succeeded", 30), ("s2", "acme", "PAY", "failed", 1),  # failing since
            ("s1", "acme", "CART", "succeeded", 30), ("s2", "acme", "CART", "succeeded", 1),
        ]:
            at = now - timedelta(hours=hours_ago)
            con.execute("INSERT INTO meta.source_syncs VALUES (?, ?, ?, 'jira', ?, 0, 1, NULL, ?, ?, 'incremental')",
                        [sync_id, site, key, status, at, at])
    result = every_project_synced_recently(pulse=pulse)
    assert not result.passed and result.severity == dg.AssetCheckSeverity.ERROR
    assert result.description == ("2 of 3 projects not synced in 12 h: acme/PAY: last synced successfully 30 h ago; "
                                  "github/acme/web: never synced successfully")
    assert result.metadata["age_hours/acme/CART"].value == 1.0
    assert result.metadata["age_hours/acme/PAY"].value == 30.0
    assert result.metadata["age_hours/github/acme/web"].value == "never"
    assert result.metadata["freshness_hours"].value == 12

    with pulse.warehouse() as con:
        con.execute("UPDATE meta.source_syncs SET status = 'succeeded' WHERE sync_id = 's2'")
        con.execute("INSERT INTO meta.source_syncs VALUES ('s2', 'github', 'acme/web', 'github', 'succeeded', 0, 1, "
                    "NULL, ?, ?, 'full')", [now, now])
    assert every_project_synced_recently(pulse=pulse).passed


def test_the_published_snapshot_freshness_policy_follows_program_yaml(tmp_path, monkeypatch):
    import importlib

    import pipelines.defs.publish as publish

    monkeypatch.setenv("PULSE_CONFIG", write(tmp_path, freshness_hours=30))
    try:
        assert importlib.reload(publish).meta_snapshots.specs_by_key[
            dg.AssetKey(["meta", "snapshots"])].freshness_policy.fail_window.to_timedelta() == timedelta(hours=30)
        monkeypatch.setenv("PULSE_CONFIG", str(tmp_path / "missing.yaml"))  # no config: the default
        assert importlib.reload(publish).meta_snapshots.specs_by_key[
            dg.AssetKey(["meta", "snapshots"])].freshness_policy.fail_window.to_timedelta() == timedelta(hours=26)
    finally:
        monkeypatch.delenv("PULSE_CONFIG")
        importlib.reload(publish)
