"""The request floor of TRACKER_APIS.md ("The request floor"), computed from the scenario as the
sandbox serves it: the same `JiraApi`/`GithubApi` objects the server builds, in this process, with no
HTTP. Per Jira project: ceil(N / 100) search pages (the sandbox's page cap, Jira's usual one) + 1
versions call + ceil(H_cut / 1000) `changelog/bulkfetch` pages for the histories of issues whose
histories exceed the 100 a Cloud search embeds (Data Center embeds them all: 0); per Jira site 5
metadata calls (serverInfo, myself, field, status, issueLinkType). Per GitHub repository: ceil((N + P) / 100) issue pages (pull
requests included) + ceil(E / 100) event pages + ceil(M / 100) milestone pages + ceil(k / 100) pages
per sub-issue or blocked-by list of each issue whose summary counts are non-zero. A night without
changes: one request per project or repository."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import json
import sys

# The sandbox is imported only where the floor is computed: `bench/run.py` imports this module for
# `floor()` and must stay small, since a child's ru_maxrss starts at its parent's peak RSS on Linux.
JIRA_CLOUD, JIRA_DC, GITHUB = "jira-cloud", "jira-dc", "github"
JIRA_METADATA_CALLS = 5
PAGE = 100
PAGE_CAP = 100  # sandbox.jira_api.PAGE_CAP (checked in project_floors)
BULK_PAGE = 1000  # histories a changelog/bulkfetch page holds by default


@dataclass(frozen=True)
class ProjectFloor:
    site: str
    key: str
    items: int  # what a client lands: Jira issues; GitHub issues and pull requests
    histories_or_events: int
    requests: int  # full-sync floor, metadata of the site excluded
    bulk_changelog_pages: int = 0


def _pages(n: int, size: int = PAGE) -> int:
    return math.ceil(n / size)


def project_floors(scenario) -> dict[tuple[str, str], ProjectFloor]:
    from sandbox import jira_api
    from sandbox.github_api import GithubApi
    from sandbox.jira_api import EMBEDDED_HISTORIES, JiraApi
    from sandbox.credentials import SANDBOX_TOKEN

    assert jira_api.PAGE_CAP == PAGE_CAP
    floors: dict[tuple[str, str], ProjectFloor] = {}
    for site in (JIRA_CLOUD, JIRA_DC):
        data = JiraApi(scenario, site, SANDBOX_TOKEN)._data
        for project in data.projects:
            items = scenario.items_by_project.get(project.key, ())
            counts = [len(i.changes) + len(data.links[i.ref]) for i in items]
            cut = [h for h in counts if h > EMBEDDED_HISTORIES] if data.cloud else []
            bulk = _pages(sum(cut), BULK_PAGE)
            floors[(site, project.key)] = ProjectFloor(site, project.key, len(items), sum(counts),
                                                       _pages(len(items), PAGE_CAP) + 1 + bulk, bulk)
    api = GithubApi(scenario, SANDBOX_TOKEN)
    for key, repo in api.repos.items():
        relations = sum(_pages(len(children)) for children in repo.children.values() if children)
        relations += sum(_pages(len(api.blocked_by.get((key, n), ()))) for n in repo.issues
                         if api.blocked_by.get((key, n)))
        requests = (_pages(len(repo.issues)) + _pages(len(repo.events)) + max(1, _pages(len(repo.milestones)))
                    + relations)
        floors[(GITHUB, key)] = ProjectFloor(GITHUB, key, len(repo.issues), len(repo.events), requests)
    return floors


def floor(floors: dict[tuple[str, str], ProjectFloor], selection: list[tuple[str, str]]) -> dict[str, int]:
    """Full and no-change floors and the items of a selection of (site, key)."""
    chosen = [floors[s] for s in selection]
    sites = {f.site for f in chosen if f.site != GITHUB}
    full = sum(f.requests for f in chosen) + JIRA_METADATA_CALLS * len(sites)
    return {"full": full, "nochange": len(chosen), "items": sum(f.items for f in chosen)}


def as_json(floors: dict[tuple[str, str], ProjectFloor]) -> list[dict]:
    return [asdict(f) for f in floors.values()]


def main(argv: list[str]) -> int:
    """`python -m bench.floor ITEMS SEED AS_OF`: every project's floor as JSON on stdout."""
    from datetime import date

    from sandbox.scenario import build

    items, seed, as_of = int(argv[0]), int(argv[1]), date.fromisoformat(argv[2])
    json.dump(as_json(project_floors(build("portfolio", seed, as_of, items=items))), sys.stdout)
    return 0


def from_json(rows: list[dict]) -> dict[tuple[str, str], ProjectFloor]:
    return {(r["site"], r["key"]): ProjectFloor(**r) for r in rows}


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
