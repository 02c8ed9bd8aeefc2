"""A scaled-out sync's three steps, each run by `bench/scale_out.py` in a process of its own, as
the Dagster graph runs them (pipelines/defs/raw.py): ``plan`` copies the state to the landing
store, ``land`` fetches one shard into its journal, ``merge`` writes the journals into the work
database. Prints one JSON line per step."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from bench.pulse_client import report, sandbox_sites
from pipelines.config import WarehouseConfig
from pipelines.ingest import SyncPolicy, replay_landed, sync_sites
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
            results = replay_landed(con, store, args.sync_id)
        store.clear(args.sync_id)
        return report(results)
    keys: dict[str, list[str]] = {}
    for key in (k for k in args.keys.split(",") if k):
        site, _, project = key.partition("/")
        keys.setdefault(site, []).append(project)
    with store.state(args.sync_id) as reader, store.journal(args.sync_id, args.shard) as journal:
        sites = sandbox_sites(reader, args.url, keys, args.sync_id, SyncPolicy(full=args.full), shares=args.of)
        results = sync_sites(reader, sites, writer=journal)
        journal.finish(results)
    report(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
