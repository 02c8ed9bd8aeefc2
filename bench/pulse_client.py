"""One Program Pulse sync against a running sandbox, as `bench/run.py` measures it in a subprocess:
the ingest functions of `pipelines/ingest.py` with the real connectors, into a DuckDB work file.
Prints one JSON line: items landed, requests the connectors counted, per-project errors."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

from connectors.github_source import GithubSite, GithubSource
from connectors.jira_source import JiraSite, JiraSource
from connectors.pacing import Lanes, Limits
from pipelines.config import WarehouseConfig
from pipelines.ingest import SiteResult, SyncPolicy, sync_github_site, sync_jira_site, sync_sites
from sandbox.credentials import SANDBOX_TOKEN, SANDBOX_USER
from warehouse.landing import Journal
from warehouse.store import connect, migrate
from warehouse.writer import Writer


def sandbox_sites(con, url: str, keys: dict[str, list[str]], sync_id: str, policy: SyncPolicy,
                  shares: int = 1, lanes: Lanes | None = None) -> list[Callable[[Writer | Journal], SiteResult]]:
    """The sandbox's sites as ``sync_sites`` takes them, every site at once as pulse sync runs
    them (pipelines/defs/raw.py): ``keys`` by site (Jira project keys, GitHub owner/name), each
    site paced to one of ``shares`` shares of its limits (a scaled-out sync's shard), all of them
    within one ``Lanes`` of the default size, as pulse sync's sites are."""
    sites, lanes = [], lanes or Lanes()
    for site in ("jira-cloud", "jira-dc"):
        if projects := keys.get(site):
            user = SANDBOX_USER if site == "jira-cloud" else None
            source = JiraSource(JiraSite(site, f"{url}/{site}", SANDBOX_TOKEN, user=user,
                                         limits=Limits.jira().share(shares)), lanes=lanes)
            sites.append(lambda writer, source=source, projects=projects: sync_jira_site(
                con, source, [(k, None) for k in projects], sync_id, policy, writer))
    if repos := keys.get("github"):
        source = GithubSource(GithubSite("github", f"{url}/github", SANDBOX_TOKEN, limits=Limits.github().share(shares)),
                              lanes=lanes)
        sites.append(lambda writer: sync_github_site(con, source, repos, sync_id, policy, writer))
    return sites


def report(results: list[SiteResult]) -> int:
    """Print the one JSON line the bench reads (items, requests, per-project errors); the exit code."""
    projects = [p for site in results for p in site.projects]
    print(json.dumps({"items": sum(r.items for r in projects), "requests": sum(r.requests for r in projects),
                      "errors": [f"{r.site}/{r.project_key}: {r.error}" for r in projects if r.error]}))
    return 1 if any(r.error for r in projects) else 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--url", required=True, help="sandbox base URL")
    p.add_argument("--db", required=True)
    p.add_argument("--sync-id", required=True)
    p.add_argument("--full", action="store_true")
    p.add_argument("--jira-cloud", default="", help="comma-separated project keys")
    p.add_argument("--jira-dc", default="")
    p.add_argument("--repos", default="", help="comma-separated owner/name")
    p.add_argument("--memory-limit", default=WarehouseConfig().ingest_memory_limit,
                   help="DuckDB memory_limit (program.yaml's warehouse.ingest_memory_limit)")
    args = p.parse_args(argv)
    keys = {site: [k for k in given.split(",") if k]
            for site, given in (("jira-cloud", args.jira_cloud), ("jira-dc", args.jira_dc), ("github", args.repos))}
    with connect(Path(args.db), memory_limit=args.memory_limit) as con:
        migrate(con)
        lanes = Lanes()
        results = sync_sites(con, sandbox_sites(con, args.url, keys, args.sync_id, SyncPolicy(full=args.full),
                                                lanes=lanes), lanes=lanes)
    return report(results)


if __name__ == "__main__":
    sys.exit(main())
