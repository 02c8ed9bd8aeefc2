"""Dagster's storage in a real PostgreSQL: the block dagster.yaml documents, switched on by
deploy/postgres-dagster-yaml.sh as the Docker image switches it on, holds a real run of ``pulse_sync``
on the demo, its asset materializations and the nightly schedule's state.

The test starts its own server (the system's initdb and postgres, in a temporary folder, on a free
loopback port, with a password drawn for the run) and skips, saying why, where there are no server
binaries or the server cannot start. .ci/run installs Debian's ``postgresql`` where it can."""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb
import pytest
import yaml

from pipelines.cli import demo_config
from pipelines.config import dump
from pipelines.defs.schedules import SYNC_JOB

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).parents[2]
RENDER = ROOT / "deploy" / "postgres-dagster-yaml.sh"
WORKSPACE = ROOT / "deploy" / "workspace.yaml"
SEED, AS_OF = 7, date(2026, 11, 27)
USER, DATABASE = "pulse", "pulse_dagster"
START_SECONDS = 30.0


@dataclass(frozen=True)
class Server:
    """A running server: where it listens and whom to connect as."""

    port: int
    password: str = field(repr=False)  # kept out of failure reports
    host: str = "127.0.0.1"

    def env(self) -> dict[str, str]:
        """The variables the documented block reads."""
        return {"DAGSTER_PG_USERNAME": USER, "DAGSTER_PG_PASSWORD": self.password, "DAGSTER_PG_HOST": self.host,
                "DAGSTER_PG_DB": DATABASE, "DAGSTER_PG_PORT": str(self.port)}

    def connect(self, database: str = DATABASE):
        import psycopg2

        return psycopg2.connect(host=self.host, port=self.port, user=USER, password=self.password,
                                dbname=database, connect_timeout=2)

    def query(self, sql: str, params: list | None = None, database: str = DATABASE) -> list[tuple]:
        """Rows of one statement on a connection of its own (autocommit: CREATE DATABASE needs it)."""
        with closing(self.connect(database)) as con:
            con.autocommit = True
            with con.cursor() as cur:
                cur.execute(sql, params)
                return cur.fetchall() if cur.description else []


def server_binaries() -> Path | None:
    """The folder with initdb and postgres: on PATH, in /usr/local/bin, or Debian's
    /usr/lib/postgresql/<version>/bin (the newest first)."""
    folders = [Path(p) for p in os.environ.get("PATH", "").split(os.pathsep) if p] + [Path("/usr/local/bin")]
    folders += sorted(Path("/usr/lib/postgresql").glob("*/bin"),
                      key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0, reverse=True)
    for folder in folders:
        if all(os.access(folder / name, os.X_OK) for name in ("initdb", "postgres")):
            return folder
    return None


def server_account() -> pwd.struct_passwd | None:
    """Whom the server runs as. PostgreSQL refuses to run as root, so as root: the ``postgres``
    account (Debian's package creates it), else ``nobody``; otherwise this process's own user (None)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            account = pwd.getpwnam(name)
        except KeyError:
            continue
        if account.pw_uid != 0:
            return account
    pytest.skip("running as root and there is no non-root account (postgres, nobody) to run PostgreSQL as")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tail(path: Path, lines: int = 5) -> str:
    text = path.read_text(errors="replace").strip().splitlines() if path.exists() else []
    return " | ".join(text[-lines:]) or "(no output)"


def accepting(process: subprocess.Popen, server: Server) -> bool:
    """True once the server takes connections; False if it exited or took longer than START_SECONDS."""
    import psycopg2

    deadline = time.monotonic() + START_SECONDS
    while process.poll() is None and time.monotonic() < deadline:
        try:
            server.query("SELECT 1", database="postgres")
            return True
        except psycopg2.OperationalError:  # not listening yet
            time.sleep(0.2)
    return False


def stop(process: subprocess.Popen) -> None:
    """Fast shutdown (SIGINT ends the sessions, then the server); killed if it hangs."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def postgres() -> Iterator[Server]:
    """A PostgreSQL server of its own, in a temporary folder; stopped and removed afterwards."""
    pytest.importorskip("dagster_postgres", reason="dagster-postgres is not installed (pip install -e '.[postgres]')")
    binaries = server_binaries()
    if binaries is None:
        pytest.skip("no PostgreSQL server binaries (initdb, postgres) on PATH, in /usr/local/bin or "
                    "/usr/lib/postgresql/*/bin")
    account = server_account()
    # As root, a folder the server's account owns, under /tmp (which every account can traverse).
    folder = Path(tempfile.mkdtemp(prefix="pulse-postgres-", dir="/tmp" if account else None))
    run_as: dict = {}
    password = secrets.token_urlsafe(24)  # drawn per run: no secret lives in the code
    pwfile, log = folder / "pwfile", folder / "server.log"
    pwfile.write_text(password + "\n")
    if account:
        for path in (folder, pwfile):
            os.chown(path, account.pw_uid, account.pw_gid)
        run_as = {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}
    process: subprocess.Popen | None = None
    try:
        initdb = subprocess.run(
            [str(binaries / "initdb"), "-D", str(folder / "data"), "-U", USER, "--pwfile", str(pwfile),
             "-A", "scram-sha-256", "-E", "UTF8", "--no-locale", "--no-sync"],
            cwd=folder, capture_output=True, text=True, timeout=120, **run_as)
        if initdb.returncode != 0:
            pytest.skip(f"initdb failed ({binaries}): {initdb.stderr.strip().splitlines()[-1:]}")
        for _ in range(3):  # a free port can be taken between asking and binding: then another
            server = Server(free_port(), password)
            with log.open("ab") as out:
                process = subprocess.Popen(
                    [str(binaries / "postgres"), "-D", str(folder / "data"), "-h", server.host,
                     "-p", str(server.port), "-k", str(folder),
                     "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"],
                    cwd=folder, stdout=out, stderr=subprocess.STDOUT, **run_as)
            if accepting(process, server):
                break
            stop(process)
        else:
            pytest.skip(f"PostgreSQL ({binaries}) did not start within {START_SECONDS:.0f} s: {tail(log)}")
        server.query(f"CREATE DATABASE {DATABASE}", database="postgres")
        yield server
    finally:
        if process is not None:
            stop(process)
        shutil.rmtree(folder, ignore_errors=True)


def rendered_settings() -> str:
    """dagster.yaml with its documented PostgreSQL block switched on, as the Docker image has it."""
    return subprocess.run(["sh", str(RENDER), str(ROOT / "dagster.yaml")], check=True, capture_output=True,
                          text=True).stdout


@pytest.fixture(scope="module")
def instance(postgres, tmp_path_factory) -> Iterator[dg.DagsterInstance]:
    """A Dagster instance whose DAGSTER_HOME holds the rendered dagster.yaml, with the variables it
    reads pointing at the server, and PULSE_CONFIG at a demo program.yaml."""
    home = tmp_path_factory.mktemp("dagster-home")
    (home / "dagster.yaml").write_text(rendered_settings(), encoding="utf-8")
    program = tmp_path_factory.mktemp("pulse") / "program.yaml"
    program.write_text(dump(demo_config(SEED, AS_OF)), encoding="utf-8")
    with pytest.MonkeyPatch.context() as env:
        for name, value in {**postgres.env(), "DAGSTER_HOME": str(home), "PULSE_CONFIG": str(program)}.items():
            env.setenv(name, value)
        with dg.DagsterInstance.get() as loaded:
            yield loaded


def test_sqlite_by_default_and_the_documented_block_reads_everything_from_the_environment():
    default = yaml.safe_load((ROOT / "dagster.yaml").read_text(encoding="utf-8"))
    assert "storage" not in default
    settings = yaml.safe_load(rendered_settings())
    database = settings["storage"]["postgres"]["postgres_db"]
    assert set(database) == {"username", "password", "hostname", "db_name", "port"}
    assert all(set(value) == {"env"} for value in database.values()), database
    # Switching the block on changes nothing else in the file, but for the SQLite event log's
    # storage class, which Dagster refuses beside `storage`.
    assert default["event_log_storage"]["class"] == "PooledSqliteEventLogStorage"
    assert {k: v for k, v in settings.items() if k != "storage"} == {
        k: v for k, v in default.items() if k != "event_log_storage"}


def test_a_sync_run_and_its_materializations_are_stored_in_postgresql(instance, postgres):
    from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage, PostgresScheduleStorage

    from pipelines.definitions import defs

    assert isinstance(instance.run_storage, PostgresRunStorage)
    assert isinstance(instance.event_log_storage, PostgresEventLogStorage)
    assert isinstance(instance.schedule_storage, PostgresScheduleStorage)
    assert postgres.password not in (Path(instance.root_directory) / "dagster.yaml").read_text()

    definitions = defs()
    job = definitions.resolve_job_def(SYNC_JOB)
    # the night's run as the nightly schedule asks for it: every project's partition, kept in PostgreSQL
    with dg.build_schedule_context(instance=instance) as context:
        request = definitions.resolve_schedule_def("nightly_sync").evaluate_tick(context).run_requests[0]
    sources = postgres.query("SELECT partition FROM dynamic_partitions WHERE partitions_def_name = 'sources' ORDER BY id")
    assert [key for key, in sources] == instance.get_dynamic_partitions("sources") and len(sources) == 5
    started = time.monotonic()
    result = job.execute_in_process(instance=instance, raise_on_error=False, tags=request.tags)
    wall = time.monotonic() - started
    assert result.success, [e.message for e in result.all_events if e.is_failure]

    # Through the instance: the run and every asset of the job, as the webserver would read them.
    record = instance.get_run_record_by_id(result.run_id)
    assert record is not None and record.dagster_run.status == dg.DagsterRunStatus.SUCCESS
    assert record.dagster_run.job_name == SYNC_JOB
    stored = instance.all_logs(result.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION)
    keys = {e.dagster_event.asset_key for e in stored}
    assert keys == set(job.asset_layer.selected_asset_keys)
    for raw in ("jira_issues", "github_issues"):  # the night's range: every project's partition
        assert instance.get_materialized_partitions(dg.AssetKey(["raw", raw])) == set(instance.get_dynamic_partitions("sources"))
    items = instance.get_latest_materialization_event(dg.AssetKey(["core", "work_items"]))
    assert items is not None and items.run_id == result.run_id
    assert items.asset_materialization.metadata["dagster/row_count"].value > 0

    # In PostgreSQL itself, by SQL on Dagster's tables.
    assert postgres.query("SELECT status, pipeline_name FROM runs WHERE run_id = %s",
                          [result.run_id]) == [("SUCCESS", SYNC_JOB)]
    assert postgres.query("""SELECT count(*), count(DISTINCT asset_key) FROM event_logs
                             WHERE run_id = %s AND dagster_event_type = 'ASSET_MATERIALIZATION'""",
                          [result.run_id]) == [(len(stored), len(keys))]
    last_run = dict(postgres.query("SELECT asset_key, last_run_id FROM asset_keys"))
    assert {last_run.get(key.to_string()) for key in keys} == {result.run_id}

    # Nothing fell back to SQLite, and the run did its work: the demo was published.
    assert list(Path(instance.root_directory).rglob("*.db")) == []
    published = Path(os.environ["PULSE_CONFIG"]).parent / "pulse.duckdb"
    with duckdb.connect(str(published), read_only=True) as warehouse:
        assert warehouse.execute("SELECT count(*) FROM core.work_items").fetchone()[0] > 0
    print(f"pulse_sync on PostgreSQL storage: {wall:.1f} s, {len(stored)} materializations")


def test_the_nightly_schedule_state_is_stored_in_postgresql(instance, postgres):
    """Switched away from its default in code, as an operator would, from the workspace the compose
    services load: only a state that differs from the default is stored, and the daemon reads it."""
    from pipelines.definitions import defs

    default = defs().resolve_schedule_def("nightly_sync").default_status.value
    command, stored = ("stop", "STOPPED") if default == "RUNNING" else ("start", "RUNNING")
    switched = subprocess.run([sys.executable, "-m", "dagster", "schedule", command, "nightly_sync",
                               "-w", str(WORKSPACE)], capture_output=True, text=True, timeout=120)
    assert switched.returncode == 0, switched.stderr[-2000:]
    assert [(s.instigator_name, s.status.value) for s in instance.all_instigator_state()] == [("nightly_sync", stored)]
    rows = postgres.query("SELECT instigator_type, status, instigator_body FROM instigators")
    assert [(kind, status, '"nightly_sync"' in body) for kind, status, body in rows] == [("SCHEDULE", stored, True)]
