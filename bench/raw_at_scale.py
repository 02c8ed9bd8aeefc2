"""Realistic ``raw.*`` at N items, for benchmarking the transforms (``bench/rebuild.py``).

Realistic means the shapes our connectors land, so the data comes from them:

1. **Seed.** The sandbox's ``portfolio`` scenario at K items (``--seed-items``, default 10,000;
   fewer when N is smaller) is served in-process and synced through the real connectors
   (``pipelines.ingest.sync_jira_site`` / ``sync_github_site``, remote links on, a full sync) into a
   DuckDB file, whose program structure (``core.programs``, ``meta.configured_projects``, label
   and link rules) is written as ``pipelines/defs/model.py`` writes it from program.yaml.
2. **Templates.** Every row the seed landed is parsed once, in Python, and each value that names
   something of its copy is marked: Jira issue, version, project, issue-link, remote-link,
   changelog-history, sprint and board ids (in the id fields of objects known by their ``self`` URL
   or, inside an issue, which lands without them, by their shape; in URLs, in changelog items
   whose values are ids: fix versions, sprints, parents, projects, and in the Sprint field, both
   Cloud's objects and Data Center's GreenHopper strings); GitHub repository, issue, pull-request,
   event and milestone ids; Jira project keys wherever an issue key or the project key appears
   (``PAY-12``, ``/browse/PAY-12``, ``"key":"PAY"``, GitHub bodies naming ``PAY-12``); GitHub
   ``owner/name`` wherever it appears (URLs, ``full_name``, ``acme/web#3`` in bodies, Jira remote
   links to GitHub issues). Status, priority, issue-type, label and user ids are left alone:
   they are the site's, shared by every project (``core.status_transitions`` joins status ids to
   ``raw.jira_sites.statuses``).
3. **Copies.** ``INSERT ... SELECT ... FROM template, range(copies)`` writes ``copies = ceil(N/K)``
   copies in set-based SQL, resolving the marks per copy ``c``: an id ``X`` becomes
   ``X * 10^D + c`` (D digits hold every copy number), a Jira project key ``PAY`` becomes
   ``PAYC<c>`` and a repository ``acme/web`` becomes ``acme/web-c<c>``. So every primary key is
   unique, and every reference (issue links, parents, sprints, fix versions, sub-issues,
   blocked-by, remote links, keys written in text) stays inside its copy. ``raw.jira_sites`` and
   ``meta.sync_runs`` are copied once; ``meta.source_syncs`` and ``meta.sync_cursors`` per copy
   (``marts.project_health`` reads the former). The program structure gets one program per seed
   program and copy (``checkout-c7``), with the copy's projects.

What is the same in every copy: dates (every copy has the seed's history, as of the same day),
people (one organisation's people work in every copy), titles and bodies. Projects stay the seed's
size (about 200 items at K = 10,000), so N items means N/K times the seed's projects.

Histories: the portfolio gives about 5 histories per ordinary Jira issue, and 1% of its Jira issues
(``sandbox.portfolio.LONG_CHANGELOG_SHARE``) over 100 (101 to 160 small edits: re-ranks,
re-estimates, labels): 6.6 per Jira issue on average (measured at 2,000 items). The benchmark's
target is about 10 per issue (the floor's), so the seed is built with ``LONG_CHANGELOG_SHARE`` =
3.6% (``--long-changelog-share``; the scenario's own long-changelog generator, nothing invented
here): 9.6 histories per Jira issue at K = 10,000, about half of them in the 3.6% long changelogs,
a heavier tail than the scenario's default. What was reached is printed.

    python -m bench.raw_at_scale N OUT.duckdb [--seed-items K] [--seed-dir DIR]
                                 [--long-changelog-share 0.036]

Prints what it generated (items, histories, GB of JSON) and how long it took, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

SEED, AS_OF = 7, date(2026, 11, 27)  # bench/run.py's
SEED_ITEMS = 10_000
LONG_CHANGELOG_SHARE = 0.036
MEMORY_LIMIT = "4GB"  # the replicating connection's (generation is not what is measured)

# Marks in templates (private-use code points, never in tracker text here): resolved per copy.
ID, KEY, REPO = "\ue001", "\ue002", "\ue003"
_NUM = "\ue0f0"  # wraps an integer id while it travels as a string through json.dumps

JIRA_SITES = ("jira-cloud", "jira-dc")


# -- 1. the seed -----------------------------------------------------------------------------------

@contextmanager
def _long_changelogs(share: float) -> Iterator[None]:
    """The portfolio's share of Jira issues with over 100 histories, for one build."""
    import sandbox.portfolio as portfolio

    before = portfolio.LONG_CHANGELOG_SHARE
    portfolio.LONG_CHANGELOG_SHARE = share
    try:
        yield
    finally:
        portfolio.LONG_CHANGELOG_SHARE = before


def sync_seed(path: Path, items: int, *, seed: int = SEED, as_of: date = AS_OF,
              long_changelog_share: float = LONG_CHANGELOG_SHARE) -> None:
    """The portfolio at ``items`` items, synced in full through the real connectors into ``path``,
    with its program structure."""
    from connectors.github_source import GithubSite, GithubSource
    from connectors.jira_source import JiraSite, JiraSource
    from pipelines.config import WarehouseConfig
    from pipelines.ingest import SyncPolicy, sync_github_site, sync_jira_site
    from sandbox.scenario import build
    from sandbox.credentials import SANDBOX_TOKEN, SANDBOX_USER
    from sandbox.server import serve
    from transforms.build import ProgramRow, ProjectRow, write_program_structure
    from warehouse.store import connect, migrate

    with _long_changelogs(long_changelog_share):
        scenario = build("portfolio", seed, as_of, items=items)
    path.unlink(missing_ok=True)
    policy = SyncPolicy(full=True)
    with serve(scenario) as sandbox, connect(path, memory_limit=WarehouseConfig().ingest_memory_limit) as con:
        migrate(con)
        errors = []
        for site in JIRA_SITES:
            keys = [p.key for p in scenario.projects if p.site == site]
            source = JiraSource(JiraSite(site, sandbox.site_url(site), SANDBOX_TOKEN,
                                         user=SANDBOX_USER if site == "jira-cloud" else None, remote_links=True))
            errors += [p.error for p in sync_jira_site(con, source, [(k, None) for k in keys], "seed", policy).projects]
        source = GithubSource(GithubSite("github", sandbox.site_url("github"), SANDBOX_TOKEN,
                                         seconds_between_requests=0))
        repos = [p.key for p in scenario.projects if p.site == "github"]
        errors += [p.error for p in sync_github_site(con, source, repos, "seed", policy).projects]
        if any(errors):
            raise RuntimeError(f"the seed sync failed: {[e for e in errors if e][:3]}")
        write_program_structure(
            con, [ProgramRow(p.id, p.name, p.goal) for p in scenario.programs],
            [ProjectRow(p.program, p.site, "github" if p.site == "github" else "jira", p.key, None)
             for p in scenario.projects])


# -- 2. templates ------------------------------------------------------------------------------------

def _mark(value: Any) -> Any:
    """An id value with the ID mark after it (an integer keeps its JSON type); marked once."""
    if isinstance(value, bool) or value is None or isinstance(value, str) and (value.endswith(ID) or _NUM in value):
        return value
    if isinstance(value, int):
        return f"{_NUM}{value}{ID}{_NUM}"
    if isinstance(value, str) and value.isdigit():
        return value + ID
    return value


_SELF_ID = re.compile(r"/rest/api/\d+/(?:issue|version|project|issueLink)/(\d+)$")
_URL_IDS = re.compile(r"(/rest/api/\d+/(?:issue|version|project|issueLink)/|/remotelink/|[?&]pid=|/issues/events/)"
                      r"(\d+)(?!\d)")
_GREENHOPPER = re.compile(r"([\[,](?:id|rapidViewId|sequence)=)(\d+)(?!\d)")
_ID_VALUED_FIELDS = {"Fix Version", "fixVersions", "Version", "versions", "Sprint", "parent", "Parent",
                     "IssueParentAssociation", "Epic Link", "project"}


class Marker:
    """Marks one seed's rows: which keys and repositories are its projects is all it needs."""

    def __init__(self, jira_keys: list[str], repos: list[str], sprint_fields: set[str]) -> None:
        self.jira_keys = set(jira_keys)
        self.sprint_fields = sprint_fields
        keys = "|".join(map(re.escape, sorted(jira_keys, key=len, reverse=True))) or "(?!)"
        names = "|".join(map(re.escape, sorted(repos, key=len, reverse=True))) or "(?!)"
        self._key = re.compile(rf"(?<![A-Za-z0-9_])({keys})(?=-\d)")
        self._repo = re.compile(rf"(?<![\w.-])({names})(?![\w-])")

    def text(self, s: str) -> str:
        """Issue keys, repositories and ids in URLs and GreenHopper strings, in any string."""
        if s in self.jira_keys:
            return s + KEY
        if "-" in s:
            s = self._key.sub(lambda m: m[1] + KEY, s)
        if "/" in s:
            s = self._repo.sub(lambda m: m[1] + REPO, s)
            s = _URL_IDS.sub(lambda m: m[1] + m[2] + ID, s)
        if s.startswith("com.atlassian.greenhopper"):
            s = _GREENHOPPER.sub(lambda m: m[1] + m[2] + ID, s)
        return s

    def _jira_object(self, v: dict[str, Any]) -> bool:
        """A reference to a Jira issue of these projects, a fix version, a project or an issue
        link, known by its shape: the connector lands the objects inside an issue without their
        ``self`` links (``connectors.jira_source.DECORATION``)."""
        key = v.get("key")
        return ((isinstance(key, str) and "-" in key and key.rsplit("-", 1)[0] in self.jira_keys)
                or ("released" in v and "archived" in v) or "projectTypeKey" in v
                or ("type" in v and ("inwardIssue" in v or "outwardIssue" in v)))

    def walk(self, v: Any) -> Any:
        if isinstance(v, str):
            return self.text(v)
        if isinstance(v, list):
            return [self.walk(x) for x in v]
        if not isinstance(v, dict):
            return v
        out = {k: self.walk(x) for k, x in v.items()}
        ids: tuple[str, ...] = ()
        self_url = v.get("self")
        if isinstance(self_url, str) and "id" in v and (m := _SELF_ID.search(self_url)) and str(v["id"]) == m[1]:
            ids = ("id",)  # a Jira issue (or a reference to one), version, project or issue link
        elif "id" in v and self._jira_object(v):  # the same inside an issue, landed without its self
            ids = ("id",)
        elif "globalId" in v and "relationship" in v:  # a Jira remote link
            ids = ("id",)
        elif "created" in v and "items" in v and "id" in v:  # a Jira changelog history
            ids = ("id",)
        elif "boardId" in v and "state" in v:  # a sprint in Cloud's Sprint field
            ids = ("id", "boardId")
        elif "originBoardId" in v and "state" in v:  # a sprint in a board's sprint listing (agile API)
            ids = ("id", "originBoardId")
        elif "location" in v and "type" in v and "/board/" in str(v.get("self", "")):  # a board (agile API)
            ids = ("id",)
        elif "repository_url" in v and "number" in v:  # a GitHub issue or pull request
            ids = ("id",)
        elif "event" in v and "actor" in v:  # a GitHub issue event, with its issue or only {id, number}
            ids = ("id",)
            if isinstance(v.get("issue"), dict) and "id" in v["issue"]:
                out["issue"]["id"] = _mark(out["issue"]["id"])
        elif "due_on" in v and "number" in v:  # a GitHub milestone
            ids = ("id",)
        elif "full_name" in v:  # a GitHub repository
            ids = ("id",)
            out["name"] = v["name"] + REPO
        elif "fieldtype" in v and "field" in v:  # a Jira changelog item whose values may be ids
            name = v.get("fieldId") or v["field"]
            if name in _ID_VALUED_FIELDS or name in self.sprint_fields:
                for k in ("from", "to"):
                    if isinstance(v.get(k), str):
                        out[k] = re.sub(r"\d+", lambda m: m[0] + ID, v[k])
        if "projectId" in v:  # a Jira version's project
            out["projectId"] = _mark(v["projectId"])
        for k in ids:
            if k in v:
                out[k] = _mark(v[k])
        return out

    def payload(self, text: str) -> str:
        dumped = json.dumps(self.walk(json.loads(text)), ensure_ascii=False, separators=(",", ":"))
        return dumped.replace(f'"{_NUM}', "").replace(f'{_NUM}"', "")


@dataclass(frozen=True)
class Column:
    name: str
    how: str = "as_is"  # "as_is" | "payload" (JSON, marked) | "key" (a Jira key or repo) | "id" (VARCHAR id) | "bigint" (id)


C = Column
# Per table: the columns whose values name something of a copy. Unlisted columns are copied as they are.
TABLES: dict[str, tuple[Column, ...]] = {
    "raw.jira_issues": (C("project_key", "key"), C("issue_id", "id"), C("issue_key", "key"), C("payload", "payload")),
    "raw.jira_versions": (C("project_key", "key"), C("version_id", "id"), C("payload", "payload")),
    "raw.jira_changelogs": (C("issue_id", "id"), C("history_id", "id"), C("payload", "payload")),
    "raw.jira_remote_links": (C("issue_id", "id"), C("remote_id", "id"), C("payload", "payload")),
    "raw.jira_board_sprints": (C("project_key", "key"), C("board_id", "bigint"), C("sprint_id", "bigint"),
                               C("board", "payload"), C("payload", "payload")),
    "raw.github_repos": (C("repo", "key"), C("payload", "payload")),
    "raw.github_issues": (C("repo", "key"), C("issue_id", "bigint"), C("payload", "payload")),
    "raw.github_issue_events": (C("repo", "key"), C("event_id", "bigint"), C("payload", "payload")),
    "raw.github_milestones": (C("repo", "key"), C("payload", "payload")),
    "raw.github_issue_relations": (C("repo", "key"), C("other_id", "bigint"), C("payload", "payload")),
    "meta.source_syncs": (C("project_key", "key"),),
    "meta.sync_cursors": (C("project_key", "key"),),
}
ONCE = ("raw.jira_sites", "meta.sync_runs")


def templates(seed: Any, marker: Marker) -> dict[str, pd.DataFrame]:
    """Per replicated table of the seed connection: each row's ``rowid`` and its marked columns."""
    out = {}
    for table, columns in TABLES.items():
        names = ", ".join(col.name for col in columns if col.how != "bigint")
        frame = seed.execute(f"SELECT rowid AS _row, {names} FROM {table}").df()
        for col in columns:
            if col.how == "payload":
                frame[col.name] = [marker.payload(str(p)) for p in frame[col.name]]
            elif col.how == "key":
                frame[col.name] = [None if v is None else marker.text(v) for v in frame[col.name]]
            elif col.how == "id":
                frame[col.name] = [None if v is None else str(v) + ID for v in frame[col.name]]
        out[table] = frame
    return out


# -- 3. copies ---------------------------------------------------------------------------------------

@dataclass
class Generated:
    items: int  # scenario items asked for: seed items x copies
    seed_items: int
    copies: int
    jira_issues: int
    github_issues: int  # issues and pull requests, as landed
    work_items: int  # what core.work_items will hold: Jira issues and GitHub issues (pull requests are not)
    histories: int  # distinct Jira changelog histories (changelog.total summed over issues)
    histories_per_jira_issue: float
    github_events: int
    json_gb: float  # every raw payload's JSON text, in 10^9 bytes
    projects: int
    programs: int
    long_changelog_share: float
    seed_seconds: float
    replicate_seconds: float
    seconds: float


def plan(items: int, max_seed_items: int = SEED_ITEMS) -> tuple[int, int]:
    """(copies, seed items): the fewest copies of a seed of at most ``max_seed_items``."""
    from sandbox.portfolio import MIN_ITEMS

    copies = max(1, math.ceil(items / max_seed_items))
    seed_items = math.ceil(items / copies)
    if seed_items < MIN_ITEMS:
        raise ValueError(f"a seed needs at least {MIN_ITEMS} items; got {seed_items}")
    return copies, seed_items


def replicate(seed_db: Path, out: Path, copies: int, *, memory_limit: str = MEMORY_LIMIT,
              log: Callable[[str], None] = print) -> None:
    """Write ``copies`` copies of the seed's raw and sync state, and their program structure, to ``out``."""
    import duckdb

    from transforms.build import ProgramRow, ProjectRow, write_program_structure
    from warehouse.store import connect, migrate
    from warehouse.writer import RAW_STRING_COMPRESSION

    digits = len(str(copies - 1))
    with duckdb.connect(str(seed_db), read_only=True) as seed:
        projects = seed.execute("SELECT program_id, site, source, project_key, configured_name "
                                "FROM meta.configured_projects ORDER BY ALL").fetchall()
        programs = seed.execute("SELECT program_id, name, goal FROM core.programs ORDER BY ALL").fetchall()
        sprint_fields = {r[0] for r in seed.execute(
            "SELECT field_roles->>'sprint' FROM raw.jira_sites WHERE field_roles->>'sprint' IS NOT NULL").fetchall()}
        marker = Marker([p[3] for p in projects if p[2] == "jira"], [p[3] for p in projects if p[2] == "github"],
                        sprint_fields)
        started = time.perf_counter()
        frames = templates(seed, marker)
        log(f"templates marked in {time.perf_counter() - started:.1f} s")

    out.unlink(missing_ok=True)
    out.with_name(out.name + ".wal").unlink(missing_ok=True)
    with connect(out, memory_limit=memory_limit) as con:
        migrate(con)
        # the raw tables stored as a sync's writer stores them
        con.execute(f"SET force_compression = '{RAW_STRING_COMPRESSION}'")
        con.execute(f"ATTACH '{seed_db}' AS _seed (READ_ONLY)")
        for table in ONCE:
            con.execute(f"INSERT INTO {table} SELECT * FROM _seed.{table}")
        pad = f"lpad(c::VARCHAR, {digits}, '0')"
        con.execute(f"CREATE TEMP MACRO cp(s, c) AS "
                    f"replace(replace(replace(s, '{ID}', {pad}), '{KEY}', 'C' || c), '{REPO}', '-c' || c)")
        for table, frame in frames.items():
            how = {col.name: col.how for col in TABLES[table]}
            marked = [name for name in frame.columns if name != "_row"]
            con.register("_marks", frame)
            # the seed's rows with their marked columns: the template every copy is made from
            con.execute(f"CREATE OR REPLACE TEMP TABLE _template AS SELECT s.* REPLACE ("
                        + ", ".join(f"m.{name} AS {name}" for name in marked)
                        + f") FROM _seed.{table} s JOIN _marks m ON m._row = s.rowid")
            con.unregister("_marks")
            columns = [r[0] for r in con.execute("DESCRIBE _template").fetchall()]
            select = ", ".join(
                f"cp({name}, c) AS {name}" if how.get(name) in ("payload", "key", "id")
                else f"{name} * {10 ** digits} + c AS {name}" if how.get(name) == "bigint"
                else name
                for name in columns)
            started = time.perf_counter()
            con.execute(f"INSERT INTO {table} BY NAME SELECT {select} FROM _template, range({copies}) r(c)")
            log(f"{table}: {len(frame) * copies:,} rows in {time.perf_counter() - started:.1f} s")
        con.execute("DROP TABLE _template")
        con.execute("DETACH _seed")
        con.execute("CHECKPOINT")
        con.execute("RESET force_compression")
        suffix = {"jira": lambda k, c: f"{k}C{c}", "github": lambda k, c: f"{k}-c{c}"}
        write_program_structure(
            con,
            [ProgramRow(f"{pid}-c{c}", f"{name} (copy {c})", goal) for c in range(copies) for pid, name, goal in programs],
            [ProjectRow(f"{pid}-c{c}", site, source, suffix[source](key, c), name)
             for c in range(copies) for pid, site, source, key, name in projects])


def measure(db: Path) -> dict[str, Any]:
    """What a generated file holds: counts, histories, GB of JSON."""
    import duckdb

    with duckdb.connect(str(db), read_only=True) as con:
        jira, histories, jira_bytes = con.execute(
            "SELECT count(*), sum(coalesce((payload->>'$.changelog.total')::BIGINT, 0)), sum(strlen(payload::VARCHAR)) "
            "FROM raw.jira_issues").fetchone()
        github, prs, gh_bytes = con.execute(
            "SELECT count(*), count(*) FILTER (WHERE coalesce(payload->>'$.pull_request.url', "
            "payload->>'$.pull_request.html_url') IS NOT NULL), sum(strlen(payload::VARCHAR)) "
            "FROM raw.github_issues").fetchone()
        other = 0
        for table in ("raw.jira_versions", "raw.jira_changelogs", "raw.jira_remote_links", "raw.github_repos",
                      "raw.github_issue_events", "raw.github_milestones", "raw.github_issue_relations"):
            other += con.execute(f"SELECT coalesce(sum(strlen(payload::VARCHAR)), 0) FROM {table}").fetchone()[0]
        events = con.execute("SELECT count(*) FROM raw.github_issue_events").fetchone()[0]
        projects = con.execute("SELECT count(*) FROM meta.configured_projects").fetchone()[0]
        programs = con.execute("SELECT count(*) FROM core.programs").fetchone()[0]
    return {"jira_issues": jira, "github_issues": github, "work_items": jira + github - prs,
            "histories": int(histories or 0), "histories_per_jira_issue": round((histories or 0) / max(jira, 1), 2),
            "github_events": events, "json_gb": round((jira_bytes + (gh_bytes or 0) + other) / 1e9, 3),
            "projects": projects, "programs": programs}


def generate(items: int, out: Path, *, max_seed_items: int = SEED_ITEMS, seed_dir: Path | None = None,
             long_changelog_share: float = LONG_CHANGELOG_SHARE, log: Callable[[str], None] = print) -> Generated:
    """Raw at ``items`` items in ``out``: a seed synced through the connectors, copied in SQL. The
    seed is kept in ``seed_dir`` (default: beside ``out``), and reused from there by a later run
    that needs the same seed."""
    if out.stem in ("raw", "meta", "core", "marts", "staging"):  # DuckDB names the catalog after the file
        raise ValueError(f"{out.name}: a file named after a schema makes every query of that schema ambiguous")
    copies, seed_items = plan(items, max_seed_items)
    started = time.perf_counter()
    seed_db = (seed_dir or out.parent) / f"seed-{seed_items}-{SEED}-{AS_OF}-{long_changelog_share}.duckdb"
    if seed_db.exists():
        log(f"seed: {seed_db}, synced by an earlier run")
    else:
        log(f"seed: portfolio, {seed_items:,} items, seed {SEED}, as of {AS_OF}, long changelogs "
            f"{long_changelog_share:.1%}: syncing through the connectors into {seed_db}")
        partial = seed_db.with_name(seed_db.name + ".partial")
        sync_seed(partial, seed_items, long_changelog_share=long_changelog_share)
        partial.rename(seed_db)
    seeded = time.perf_counter()
    log(f"seed ready in {seeded - started:.1f} s; writing {copies} copies into {out}")
    replicate(seed_db, out, copies, log=log)
    replicated = time.perf_counter()
    figures = measure(out)
    log(f"measured in {time.perf_counter() - replicated:.1f} s")
    done = time.perf_counter()
    generated = Generated(items=copies * seed_items, seed_items=seed_items, copies=copies,
                          long_changelog_share=long_changelog_share, seed_seconds=round(seeded - started, 1),
                          replicate_seconds=round(replicated - seeded, 1), seconds=round(done - started, 1),
                          **figures)
    log(f"generated {generated.items:,} items ({copies} copies of {seed_items:,}): {generated.jira_issues:,} Jira "
        f"issues with {generated.histories:,} histories ({generated.histories_per_jira_issue} per issue), "
        f"{generated.github_issues:,} GitHub issues and pull requests with {generated.github_events:,} events, "
        f"{generated.projects:,} projects in {generated.programs:,} programs; {generated.json_gb:.2f} GB of JSON; "
        f"in {generated.seconds:.1f} s (seed {generated.seed_seconds:.1f} s, copies "
        f"{generated.replicate_seconds:.1f} s; not counted in the rebuild)")
    return generated


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("items", type=int, help="scenario items (Jira issues and GitHub issues) to generate")
    p.add_argument("out", type=Path, help="DuckDB file to write (replaced)")
    p.add_argument("--seed-items", type=int, default=SEED_ITEMS, help="largest seed to sync (default %(default)s)")
    p.add_argument("--seed-dir", type=Path, help="where seeds are kept and reused (default: beside OUT)")
    p.add_argument("--long-changelog-share", type=float, default=LONG_CHANGELOG_SHARE,
                   help="share of Jira issues with over 100 histories (portfolio default 0.01; default %(default)s)")
    args = p.parse_args(argv)
    generated = generate(args.items, args.out, max_seed_items=args.seed_items, seed_dir=args.seed_dir,
                         long_changelog_share=args.long_changelog_share)
    print(json.dumps(asdict(generated)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
