"""A scaled-out sync's three steps, each run by `bench/scale_out.py` in a process of its own, as
the Dagster graph runs them (pipelines/defs/raw.py): ``plan`` copies the state to the landing
store, ``land`` fetches one shard into its journal, ``merge`` writes the journals into the work
database. Prints one JSON line per step."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from connectors.github_source import GithubSite, GithubSource
from connectors.jira_source import JiraSite, JiraSource
from connectors.pacing import Limits
from pipelines.config import WarehouseConfig
from pipelines.ingest import SyncPolicy, replay_landed, sync_github_site, sync_jira_site, sync_sites
from sandbox.server import SANDBOX_TOKEN, SANDBOX_USER
from warehouse.landing import LandingStore
from warehouse.store import connect, migrate


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("step", choices=["plan", "land", "merge"])
    p.add_argument("--store", required=True, help="landing store: a folder or an fsspec URL")
    p.add_argument("--sync-id", required=True)
    p.add_argument("--db", help="the work database (plan, merge)")
    p.add_argument("--url", help="sandbox base URL (land)")
    p.add_argument("--shard", type=int, default=0)
    p.add_argument("--of", type=int, default=1, help="how many shards run at once (each paces to its share)")
    p.add_argument("--keys", default="", help="the shard's projects: site/key,... (land)")
    p.add_argument("--full", action="store_true")
    args = p.parse_args(argv)
    store = LandingStore(args.store)
    if args.step == "plan":
        with connect(Path(args.db), memory_limit=WarehouseConfig().ingest_memory_limit) as con:
            migrate(con)
            print(json.dumps({"state_rows": store.export_state(con, args.sync_id)}))
        return 0
    if args.step == "merge":
        with connect(Path(args.db), memory_limit=WarehouseConfig().ingest_memory_limit) as con:
            results = [p for site in replay_landed(con, store, args.sync_id) for p in site.projects]
        store.clear(args.sync_id)
        print(json.dumps({"items": sum(r.items for r in results), "requests": sum(r.requests for r in results),
                          "errors": [f"{r.site}/{r.project_key}: {r.error}" for r in results if r.error]}))
        return 1 if any(r.error for r in results) else 0
    policy = SyncPolicy(full=args.full)
    keys: dict[str, list[str]] = {}
    for key in (k for k in args.keys.split(",") if k):
        site, _, project = key.partition("/")
        keys.setdefault(site, []).append(project)
    with store.state(args.sync_id) as reader, store.journal(args.sync_id, args.shard) as journal:
        sites = []
        for site in ("jira-cloud", "jira-dc"):
            if projects := keys.get(site):
                user = SANDBOX_USER if site == "jira-cloud" else None
                source = JiraSource(JiraSite(site, f"{args.url}/{site}", SANDBOX_TOKEN, user=user,
                                             limits=Limits.jira().share(args.of)))
                sites.append(lambda writer, source=source, projects=projects: sync_jira_site(
                    reader, source, [(k, None) for k in projects], args.sync_id, policy, writer))
        if repos := keys.get("github"):
            source = GithubSource(GithubSite("github", f"{args.url}/github", SANDBOX_TOKEN,
                                             limits=Limits.github().share(args.of)))
            sites.append(lambda writer: sync_github_site(reader, source, repos, args.sync_id, policy, writer))
        results = sync_sites(reader, sites, writer=journal)
        journal.finish(results)
    projects = [p for site in results for p in site.projects]
    print(json.dumps({"items": sum(r.items for r in projects), "requests": sum(r.requests for r in projects),
                      "errors": [f"{r.site}/{r.project_key}: {r.error}" for r in projects if r.error]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
