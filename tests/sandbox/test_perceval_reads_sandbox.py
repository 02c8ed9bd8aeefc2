"""A third-party client reads the sandbox as it reads the real trackers: Perceval 1.6.1 (GrimoireLab,
the benchmark peer), unmodified, through its own command line entry, fetches every item of one Jira
Data Center project and one GitHub repository. Perceval logs `Error!` and carries on rather than
failing, so its log is part of the verdict."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from sandbox.scenario import GITHUB, JIRA_DC
from sandbox.credentials import SANDBOX_TOKEN

pytest.importorskip("perceval", reason="Perceval comes with the dev extra: pip install -e '.[dev]'")
from perceval.backends.core.github import GitHubCommand  # noqa: E402
from perceval.backends.core.jira import JiraCommand  # noqa: E402

JIRA_PROJECT, REPO = "CART", "acme/web"
PERCEVAL_LOGGERS = ("perceval", "grimoirelab", "requests", "urllib3", "root")


def perceval(command: type, args: list[str], out: Path, caplog) -> list[dict]:
    """Run a Perceval command as `perceval <backend> ...` would; its items, and no warning logged."""
    caplog.clear()
    with caplog.at_level(logging.INFO):
        run = command(*args, "--no-archive", "--json-line", "-o", str(out))
        try:
            run.run()
        finally:
            run.outfile.close()
    # Perceval's own loggers and the HTTP stack under it: another test's leftovers (a Dagster
    # instance's SQLite engine, garbage-collected in this thread under pytest-xdist) are not its trouble
    trouble = [f"{r.name}: {r.getMessage()}" for r in caplog.records
               if r.name.startswith(PERCEVAL_LOGGERS) and (r.levelno >= logging.WARNING or "Error!" in r.getMessage())]
    assert trouble == [], "Perceval logged trouble"
    return [json.loads(line) for line in out.read_text().splitlines()]


def test_perceval_reads_every_issue_of_a_jira_dc_project(running, scenario, tmp_path, caplog):
    """Perceval's Jira backend speaks REST v2 /search by startAt, so it reads the Data Center site:
    every issue once, each with the complete changelog Data Center embeds."""
    items = perceval(JiraCommand, [running.site_url(JIRA_DC), "--project", JIRA_PROJECT,
                                   "--api-token", SANDBOX_TOKEN], tmp_path / "jira.jsonl", caplog)
    expected = {f"{JIRA_PROJECT}-{i.number}" for i in scenario.items_by_project[JIRA_PROJECT]}
    keys = [item["data"]["key"] for item in items]
    assert len(keys) == len(expected) and set(keys) == expected
    assert all(item["category"] == "issue" and item["data"]["comments_data"] == [] for item in items)
    histories = {item["data"]["key"]: item["data"]["changelog"] for item in items}
    assert all(log["total"] == len(log["histories"]) for log in histories.values())
    changed = {f"{JIRA_PROJECT}-{i.number}" for i in scenario.items_by_project[JIRA_PROJECT] if i.changes}
    assert all(histories[key]["histories"] for key in changed)


def test_perceval_reads_every_issue_and_pull_request_of_a_github_repo(running, scenario, client, tmp_path, caplog):
    """Perceval's GitHub backend has no base-URL flag: --enterprise-url sends it to /api/v3 under
    the site, as GitHub Enterprise serves. It gets every issue and pull request of the repository,
    and each author's profile and organisations."""
    owner, name = REPO.split("/")
    items = perceval(GitHubCommand, [owner, name, "--enterprise-url", running.site_url(GITHUB), "--api-token",
                                     SANDBOX_TOKEN, "--category", "issue"], tmp_path / "github.jsonl", caplog)
    numbers = sorted(item["data"]["number"] for item in items if "pull_request" not in item["data"])
    assert numbers == sorted(i.number for i in scenario.items_by_project[REPO])
    pulls, page = [], 1
    while rows := client.call("GET", f"/github/repos/{REPO}/issues",
                              {"state": "all", "per_page": 100, "page": page}).json():
        pulls += [row["number"] for row in rows if "pull_request" in row]
        page += 1
    assert sorted(item["data"]["number"] for item in items if "pull_request" in item["data"]) == sorted(pulls)
    assert pulls, "the repository has pull requests, so Perceval's count covers them too"
    users = [item["data"]["user_data"] for item in items]
    assert all(user["login"] and user["organizations"] for user in users)
