"""One Program Pulse sync against a running sandbox, as `bench/run.py` measures it in a subprocess:
the ingest functions of `pipelines/ingest.py` with the real connectors, into a DuckDB work file.
Prints one JSON line: items landed, requests the connectors counted, per-project errors."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from connectors.github_source import GithubSite, GithubSource
from connectors.jira_source import JiraSite, JiraSource
from pipelines.config import WarehouseConfig
from pipelines.ingest import SyncPolicy, sync_github_site, sync_jira_site, sync_sites
from sandbox.server import SANDBOX_TOKEN, SANDBOX_USER
from warehouse.store import connect, migrate


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
    policy = SyncPolicy(full=args.full)
    sites = []  # every site at once, one writer, as pulse sync runs them (pipelines/defs/raw.py)
    for site, keys in (("jira-cloud", args.jira_cloud), ("jira-dc", args.jira_dc)):
        if keys := [k for k in keys.split(",") if k]:
            user = SANDBOX_USER if site == "jira-cloud" else None
            source = JiraSource(JiraSite(site, f"{args.url}/{site}", SANDBOX_TOKEN, user=user))
            sites.append(lambda writer, source=source, keys=keys: sync_jira_site(
                con, source, [(k, None) for k in keys], args.sync_id, policy, writer))
    if repos := [r for r in args.repos.split(",") if r]:
        source = GithubSource(GithubSite("github", f"{args.url}/github", SANDBOX_TOKEN))
        sites.append(lambda writer: sync_github_site(con, source, repos, args.sync_id, policy, writer))
    with connect(Path(args.db), memory_limit=args.memory_limit) as con:
        migrate(con)
        results = [p for site in sync_sites(con, sites) for p in site.projects]
    print(json.dumps({"items": sum(r.items for r in results), "requests": sum(r.requests for r in results),
                      "errors": [f"{r.site}/{r.project_key}: {r.error}" for r in results if r.error]}))
    return 1 if any(r.error for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
