"""The scale-out's pure parts: how projects are dealt into shards, how program.yaml's landing
settings are checked and where the store is."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipelines.cli import demo_config
from pipelines.config import ConfigError, LoadedConfig, PulseConfig, dump, load
from warehouse.landing import deal


def test_neighbours_go_to_different_shards():
    keys = ["jira-dc/A", "jira-dc/B", "jira-dc/C", "github/o/x", "github/o/y"]
    assert deal(keys, 2) == [("jira-dc/A", "jira-dc/C", "github/o/y"), ("jira-dc/B", "github/o/x")]
    assert deal(keys, 9) == [(k,) for k in keys]  # never an empty shard
    assert deal([], 3) == [()]


@given(st.lists(st.text(min_size=1, max_size=5), unique=True, max_size=40), st.integers(1, 64))
def test_every_key_in_exactly_one_shard_and_the_shards_even(keys, shards):
    dealt = deal(keys, shards)
    assert sorted(k for share in dealt for k in share) == sorted(keys)
    assert len(dealt) == max(1, min(shards, len(keys)))
    assert max(map(len, dealt)) - min(map(len, dealt)) <= 1


def config(processes: int, store: str | None = None, url: str = "http://127.0.0.1:8080") -> dict:
    raw = dump(demo_config(7, date(2026, 11, 27)))
    import yaml

    data = yaml.safe_load(raw)
    for name, site in data["sites"].items():
        site["url"] = f"{url}/{name}" if url != "sandbox" else "sandbox"
    data["sync"] = {"landing": {"processes": processes, **({"store": store} if store else {})}}
    return data


def test_the_embedded_sandbox_cannot_be_scaled_out_and_the_error_says_what_to_do():
    with pytest.raises(ValueError, match=r"sync.landing.processes: found 3 .* Run `pulse sandbox"):
        PulseConfig.model_validate(config(3, url="sandbox"))
    assert PulseConfig.model_validate(config(3)).sync.landing.processes == 3


def test_a_store_url_with_credentials_is_refused_without_echoing_them(tmp_path: Path):
    import yaml

    path = tmp_path / "program.yaml"
    path.write_text(yaml.safe_dump(config(2, store="s3://AKIAEXAMPLE:hunter2secret@bucket/x")), encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        load(path)
    assert "sync.landing.store" in str(error.value) and "hunter2secret" not in str(error.value)


def test_the_store_defaults_beside_the_warehouse_and_is_read_relative_to_program_yaml(tmp_path: Path):
    base = PulseConfig.model_validate(config(2))
    assert LoadedConfig(base, tmp_path / "program.yaml").landing_url == str(tmp_path / "landing")
    for store, expected in (("s3://bucket/nightly", "s3://bucket/nightly"), ("shared/landing",
                                                                           str(tmp_path / "shared/landing"))):
        loaded = LoadedConfig(PulseConfig.model_validate(config(2, store=store)), tmp_path / "program.yaml")
        assert loaded.landing_url == expected


def test_pulse_sync_configures_whichever_ingest_shape_is_loaded():
    import dagster as dg

    from pipelines.cli import _ingest_config
    from pipelines.defs import raw
    from pipelines.defs.resources import PulseResource

    for shape, expected in ((raw._one_process, {"trackers_raw": {"config": {"full": True}}}),
                            (raw._scaled_out, {"trackers_raw": {"ops": {"plan_landing": {"config": {"full": True}}}}})):
        job = dg.Definitions(assets=[shape()], resources={"pulse": PulseResource(config_path="program.yaml")}
                             ).resolve_implicit_global_asset_job_def()
        assert _ingest_config(job, {"config": {"full": True}}) == expected
