"""The one place resources are bound. Definitions load with no credentials and no config set:
``PULSE_CONFIG`` (the program.yaml path) and the secrets it names are read when a run starts."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

import dagster as dg
import duckdb

from connectors.github_source import GithubSite
from connectors.jira_source import JiraSite
from connectors.pacing import Lanes
from pipelines.config import (
    SANDBOX_URL, ConfigError, GithubSiteConfig, JiraSiteConfig, LoadedConfig, PulseConfig, load, secret,
)
from warehouse.locks import hold
from warehouse.store import WarehousePaths, connect, file_lock, migrate

# How long a step waits for another process's step to release the work file. Syncs themselves
# queue on the run lock first (pipelines.cli), so this wait covers steps of Dagster runs.
FILE_LOCK_TIMEOUT_SECONDS = 1800.0


def config_at_load() -> PulseConfig | None:
    """The program.yaml that PULSE_CONFIG names, read when the code location loads (for settings
    that shape definitions: schedules, freshness); None when it names none or one that is not
    valid, whose problems the runs themselves report."""
    path = os.environ.get("PULSE_CONFIG")
    if not path:
        return None
    try:
        return load(path).config
    except ConfigError:
        return None


@dataclass(frozen=True)
class Trackers:
    """Connection settings for every configured site, with 'sandbox' resolved to a live URL, and
    the sync's lanes (sync.requests_in_flight), which every site's reader shares."""

    jira: dict[str, JiraSite]
    github: dict[str, GithubSite]
    lanes: Lanes = field(default_factory=Lanes)

    def shared(self, processes: int) -> Trackers:
        """The same sites, each paced to one of ``processes`` shares of its limits (the lanes are
        this process's own)."""
        return Trackers({n: replace(s, limits=s.limits.share(processes)) for n, s in self.jira.items()},
                        {n: replace(s, limits=s.limits.share(processes)) for n, s in self.github.items()},
                        self.lanes)


class PulseResource(dg.ConfigurableResource):
    """The program config, the warehouse's work database and the trackers it names."""

    config_path: str

    def load(self) -> LoadedConfig:
        return load(self.config_path)

    def paths(self) -> WarehousePaths:
        return WarehousePaths(self.load().warehouse_path)

    @contextmanager
    def warehouse(self, ingest: bool = False, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """The work database (never the published file), migrated to the current schema; an
        ``ingest`` connection gets the smaller memory limit that keeps a sync's memory bounded.

        Every connection holds the work file's lock (exclusive to write, shared to read) for as
        long as it is open, so steps of other processes wait for the file instead of failing on
        DuckDB's own lock; ``read_only`` connections (asset checks) may share it."""
        loaded = self.load()
        settings = loaded.config.warehouse
        limit = settings.ingest_memory_limit if ingest else settings.memory_limit
        work = self.paths().work
        with hold(file_lock(work), shared=read_only, timeout=FILE_LOCK_TIMEOUT_SECONDS):
            if read_only and not work.exists():
                raise FileNotFoundError(f"{work}: no work database yet; run a sync first")
            with connect(work, memory_limit=limit, threads=settings.threads, read_only=read_only) as con:
                if not read_only:
                    migrate(con)
                yield con

    @contextmanager
    def trackers(self) -> Iterator[Trackers]:
        """Site settings with secrets from the environment; starts the built-in sandbox if a site needs it."""
        from sandbox.scenario import build
        from sandbox.credentials import SANDBOX_TOKEN, SANDBOX_TOKEN_ENV, SANDBOX_USER, SANDBOX_USER_ENV
        from sandbox.server import serve

        config = self.load().config
        with ExitStack() as stack:
            base = None
            if any(site.url == SANDBOX_URL for site in config.sites.values()):
                assert config.sandbox is not None  # guaranteed by config validation
                scenario = build(config.sandbox.scenario, config.sandbox.seed, config.sandbox.as_of)
                base = stack.enter_context(_serve_on_a_stable_port(serve, scenario, self.paths().work))
                # The sandbox's credential is public; real sites' secrets come only from the environment.
                os.environ.setdefault(SANDBOX_TOKEN_ENV, SANDBOX_TOKEN)
                os.environ.setdefault(SANDBOX_USER_ENV, SANDBOX_USER)
            jira, github = {}, {}
            for name, site in config.sites.items():
                url = base.site_url(name) if site.url == SANDBOX_URL and base else site.url
                if isinstance(site, JiraSiteConfig):
                    jira[name] = JiraSite(
                        name=name, url=url, token=secret(site.token_env, f"sites.{name}.token_env"),
                        user=secret(site.user_env, f"sites.{name}.user_env") if site.user_env else None,
                        deployment=site.deployment, story_points_fields=site.story_points_fields,
                        page_size=site.page_size, concurrency=site.concurrency, remote_links=site.remote_links,
                        limits=site.limits.limits())
                elif isinstance(site, GithubSiteConfig):
                    github[name] = GithubSite(name=name, url=url,
                                              token=secret(site.token_env, f"sites.{name}.token_env"),
                                              page_size=site.page_size,
                                              seconds_between_requests=site.seconds_between_requests,
                                              concurrency=site.concurrency, limits=site.limits.limits())
            yield Trackers(jira, github, Lanes(config.sync.requests_in_flight))


# The embedded sandbox's ports, one per warehouse: [20000, 32000), below every ephemeral range.
STABLE_PORTS = (20000, 32000)


@contextmanager
def _serve_on_a_stable_port(serve, scenario, work: Path):
    """The embedded sandbox on the same port every run for one warehouse when it is free: its
    answers carry their own URLs, so a new port each run would make every object look changed
    (new ETags, every payload landed and parsed again) and no night would ever be quiet. The port
    is below the operating systems' ephemeral ranges (Linux 32768-60999, macOS and Windows from
    49152): an outgoing connection of any process takes its local port from there, and one that
    held this port would make the bind fail. Within 20000-59999 that happened under load (a test
    run's other worker syncing with 30-odd connections open), and the night rebuilt everything."""
    port = STABLE_PORTS[0] + int(hashlib.sha256(str(work.resolve()).encode()).hexdigest(), 16) % (
        STABLE_PORTS[1] - STABLE_PORTS[0])
    with ExitStack() as stack:
        try:
            running = stack.enter_context(serve(scenario, port=port))
        except OSError:  # taken: any free port (this run's objects then differ from the last run's)
            running = stack.enter_context(serve(scenario))
        yield running


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(resources={"pulse": PulseResource(config_path=dg.EnvVar("PULSE_CONFIG"))})
