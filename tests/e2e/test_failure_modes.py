"""What each failure does to the published warehouse, through ``pulse sync`` as a user runs it.

The sandbox runs in the test process, as a real tracker would elsewhere, so faults can be set
between syncs: one project gone, a whole site down, every site down, a wrong token, a second sync
while one runs, a publish killed half-way. Each case asserts the exit code, the one line a person
reads, and what the published file then holds.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import duckdb
import pytest
import yaml

from pipelines import cli
from pipelines.cli import demo_config
from pipelines.config import dump
from sandbox.faults import parse_spec
from sandbox.scenario import build
from sandbox.credentials import SANDBOX_TOKEN, SANDBOX_TOKEN_ENV, SANDBOX_USER, SANDBOX_USER_ENV
from sandbox.server import RunningSandbox, serve
from warehouse.locks import hold, read_holder
from warehouse.store import WarehousePaths, publish, remove_stale_temp_files

pytestmark = pytest.mark.e2e
AS_OF = date(2026, 11, 27)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[RunningSandbox]:
    with serve(build("demo", 7, AS_OF)) as running:
        yield running


@pytest.fixture
def config(sandbox, tmp_path, monkeypatch) -> Path:
    """The demo's program.yaml, its sites pointed at the running sandbox like any real tracker."""
    monkeypatch.setenv(SANDBOX_TOKEN_ENV, SANDBOX_TOKEN)
    monkeypatch.setenv(SANDBOX_USER_ENV, SANDBOX_USER)
    demo = demo_config(7, AS_OF)
    sites = {name: site.model_copy(update={"url": sandbox.site_url(name)}) for name, site in demo.sites.items()}
    path = tmp_path / "program.yaml"
    # failures are the subject here, not history: no replays of the weeks before each first sync
    health = demo.health.model_copy(update={"history_weeks": 0})
    path.write_text(dump(demo.model_copy(update={"sites": sites, "sandbox": None, "health": health})), encoding="utf-8")
    sandbox.app.faults.set(())
    yield path
    sandbox.app.faults.set(())


def sync(config: Path, capsys, *args: str) -> tuple[int, str]:
    code = cli.main(["sync", "--config", str(config), *args])
    out = capsys.readouterr()
    return code, out.out + out.err


def published(config: Path) -> Path:
    return config.parent / "pulse.duckdb"


def query(config: Path, sql: str, params: list | None = None) -> list[tuple]:
    with duckdb.connect(str(published(config)), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def test_one_project_failing_publishes_the_others_and_keeps_its_last_good_data_marked_stale(
        sandbox, config, capsys):
    assert sync(config, capsys)[0] == 0
    items_before = query(config, "SELECT count(*) FROM core.work_items WHERE project_key = 'CART'")
    sandbox.app.faults.set(parse_spec("404@jira-dc:project=CART"))
    code, output = sync(config, capsys)
    assert code == cli.EXIT_PARTIAL, output
    assert "stale: sites.jira-dc project CART: JIRAError: HTTP 404" in output
    assert "Traceback" not in output
    # Published: the other projects are fresh, CART keeps its last good data, marked stale.
    assert query(config, "SELECT count(*) FROM core.work_items WHERE project_key = 'CART'") == items_before
    health = dict(query(config, "SELECT project_key, health FROM marts.project_health"))
    assert health["CART"] == "unknown" and health["PAY"] != "unknown"
    (reason, stale, error), = query(config, "SELECT reasons[1], stale, sync_error FROM marts.project_health "
                                            "WHERE project_key = 'CART'")
    assert stale and reason.startswith("Stale: last synced") and "HTTP 404" in reason and "HTTP 404" in error
    assert query(config, "SELECT status, cause LIKE '%CART%' FROM meta.sync_runs ORDER BY started_at DESC LIMIT 1") \
        == [("partial", True)]
    program = query(config, "SELECT health, array_to_string(reasons, ' ') LIKE '%Stale%' "
                            "FROM marts.program_health WHERE program_id = 'checkout'")
    assert program[0][0] in ("red", "amber", "unknown") and program[0][1]


def test_a_repositorys_events_failing_beside_its_issues_fail_it_alone_and_move_no_cursor(sandbox, config, capsys):
    """A repository's events are read by a second reader beside its issues: the events' error is
    the repository's, which keeps its cursor and its last good data; the other repository syncs."""
    assert sync(config, capsys)[0] == 0
    # a full sync that commits a repository's cursor records it as reconciled then
    cursors = "SELECT project_key, (cursor_at, reconciled_at) FROM meta.sync_cursors WHERE site = 'github' ORDER BY 1"
    before = query(config, cursors)
    items = "SELECT count(*) FROM core.work_items WHERE project_key = 'acme/web'"
    items_before = query(config, items)
    sandbox.app.faults.set(parse_spec("404@github/repos/<owner>/<repo>/issues/events:project=acme/web"))
    code, output = sync(config, capsys, "--full")
    assert code == cli.EXIT_PARTIAL, output
    assert "acme/web" in output and "404" in output and "Traceback" not in output
    assert query(config, items) == items_before
    after = dict(query(config, cursors))
    assert after["acme/web"] == dict(before)["acme/web"]
    assert after["acme/platform-api"][1] > dict(before)["acme/platform-api"][1]
    assert query(config, "SELECT project_key, status FROM meta.source_syncs WHERE site = 'github' AND sync_id = "
                         "(SELECT sync_id FROM meta.sync_runs ORDER BY started_at DESC LIMIT 1) ORDER BY 1") \
        == [("acme/platform-api", "succeeded"), ("acme/web", "failed")]


def test_a_site_that_is_down_records_every_project_and_stops_no_other_site(sandbox, config, capsys):
    assert sync(config, capsys)[0] == 0
    sandbox.app.faults.set(parse_spec("404@jira-dc"))  # serverInfo and everything else
    code, output = sync(config, capsys)
    assert code == cli.EXIT_PARTIAL, output
    failed = query(config, """SELECT project_key, status FROM meta.source_syncs
                              WHERE sync_id = (SELECT sync_id FROM meta.sync_runs ORDER BY started_at DESC LIMIT 1)
                              ORDER BY project_key""")
    assert dict(failed) == {"CART": "failed", "ID": "failed", "PAY": "succeeded",
                            "acme/platform-api": "succeeded", "acme/web": "succeeded"}
    assert "stale: sites.jira-dc.url:" in output and "check the URL" in output


def test_a_wrong_token_names_its_variable_and_stops_only_its_site(sandbox, config, capsys, monkeypatch):
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    data["sites"]["github"]["token_env"] = "WRONG_GITHUB_TOKEN"
    config.write_text(yaml.safe_dump(data), encoding="utf-8")
    monkeypatch.setenv("WRONG_GITHUB_TOKEN", "not-the-token")
    code, output = sync(config, capsys)
    assert code == cli.EXIT_PARTIAL, output
    assert "sites.github.token_env:" in output and "$WRONG_GITHUB_TOKEN" in output and "HTTP 401" in output
    assert "not-the-token" not in output and SANDBOX_TOKEN not in output
    assert query(config, "SELECT count(*) > 0 FROM core.work_items WHERE source = 'jira'") == [(True,)]


def test_every_site_down_publishes_nothing_and_says_why_in_one_line(sandbox, config, capsys):
    assert sync(config, capsys)[0] == 0
    before = published(config).stat().st_mtime_ns
    sandbox.app.faults.set(parse_spec("404"))
    code, output = sync(config, capsys)
    assert code == cli.EXIT_FAILED, output
    assert published(config).stat().st_mtime_ns == before  # the last good snapshot stays
    last = [line for line in output.splitlines() if line.startswith("Sync failed")]
    assert len(last) == 1 and "sites.github.url:" in last[0] and "answered 404 for every repository" in last[0]
    assert "Traceback" not in output
    work = duckdb.connect(str(config.parent / ".pulse" / "work.duckdb"), read_only=True)
    try:
        status, cause = work.execute("SELECT status, cause FROM meta.sync_runs ORDER BY started_at DESC LIMIT 1").fetchone()
    finally:
        work.close()
    assert status == "failed" and "answered 404" in cause
    assert list((config.parent / ".pulse" / "logs").glob("*.log"))  # the traceback went to a file


def test_a_killed_run_is_marked_failed_by_the_next(sandbox, config, capsys):
    assert sync(config, capsys)[0] == 0
    with duckdb.connect(str(config.parent / ".pulse" / "work.duckdb")) as work:
        work.execute("INSERT INTO meta.sync_runs (sync_id, started_at, as_of, status) VALUES ('killed', now(), now(), 'running')")
    assert sync(config, capsys)[0] == 0
    assert query(config, "SELECT status, cause LIKE 'did not finish%' FROM meta.sync_runs WHERE sync_id = 'killed'") \
        == [("failed", True)]


def _other_sync(lock: Path, seconds: float) -> subprocess.Popen:
    """Another process holding the run lock for ``seconds``, as a running sync would."""
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from pathlib import Path; from warehouse.locks import hold\n"
         "with hold(Path(sys.argv[1]), what='pulse sync --config elsewhere.yaml'):\n"
         "    print('held', flush=True); time.sleep(float(sys.argv[2]))", str(lock), str(seconds)],
        stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    return holder


def test_a_second_sync_waits_for_the_first_or_exits_2_naming_it(config, capsys):
    paths = WarehousePaths(published(config))
    holder = _other_sync(paths.run_lock, 30)
    try:
        running = read_holder(paths.run_lock)
        assert running.pid == holder.pid
        code, output = sync(config, capsys, "--wait", "0.2")
        assert code == 2
        assert f"pid {holder.pid}" in output and running.started_at in output and "--wait" in output
        assert not published(config).exists() and not paths.work.exists()
    finally:
        holder.kill()
        holder.wait()
    # Held for a second more by another sync: a sync that may wait 30 s goes on after it.
    holder = _other_sync(paths.run_lock, 1.0)
    assert sync(config, capsys, "--wait", "30")[0] == 0
    holder.wait()


def test_two_syncs_started_together_both_succeed_one_after_the_other(config):
    env = {**os.environ}
    command = [sys.executable, "-m", "pipelines.cli", "sync", "--config", str(config)]
    started = time.monotonic()
    first, second = (subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                     for _ in range(2))
    outputs = [p.communicate(timeout=300) for p in (first, second)]
    assert [first.returncode, second.returncode] == [0, 0], outputs
    assert time.monotonic() - started < 300
    runs = query(config, "SELECT status FROM meta.sync_runs ORDER BY started_at")
    assert runs == [("succeeded",), ("succeeded",)]


def test_a_publish_killed_half_way_leaves_a_copy_the_next_run_removes(config, capsys):
    assert sync(config, capsys)[0] == 0
    paths = WarehousePaths(published(config))
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    orphan = paths.published.with_name(f".{paths.published.name}.{dead.pid}.{'0' * 32}.tmp")
    orphan.write_bytes(b"half a copy")
    mine = paths.published.with_name(f".{paths.published.name}.{os.getpid()}.{'1' * 32}.tmp")
    mine.write_bytes(b"a copy in progress")
    assert sync(config, capsys)[0] == 0
    assert not orphan.exists() and mine.exists()  # a live process's copy is left alone
    mine.unlink()
    assert remove_stale_temp_files(paths) == []
    assert publish(paths) == paths.published
