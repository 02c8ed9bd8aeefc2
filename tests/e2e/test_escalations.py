"""Escalations over real HTTP: a release the sandbox slips between two time-travelled syncs is
posted once to a local Slack-compatible receiver, naming the program's owners; a rerun of the
night and the next night post nothing again; a webhook that fails is retried by the next sync
and then posts once; with no webhook configured the change is recorded, not posted."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
import requests

from demo_world import AS_OF, GITHUB, failures, sync, write_program
from pipelines.report.escalate import escalate
from sandbox.scenario import build
from sandbox.server import serve
from sandbox.timetravel import advance
from transforms.build import build_all
from warehouse.store import connect, migrate
from webhook import webhook

pytestmark = pytest.mark.e2e

FIRST = datetime(2026, 11, 27, tzinfo=timezone.utc)
OWNERS = {"p": ("<@U024BE7LH>", "Ada Lovelace")}
ENV = "PULSE_TEST_WEBHOOK_URL"


def night(sandbox, work, sync_id: str) -> datetime:
    answer = requests.post(f"{sandbox.url}/_sandbox/advance", json={"days": 1}, timeout=30).json()
    as_of = datetime.fromisoformat(answer["now"])
    with connect(work) as con:
        assert failures(sync(sandbox, con, sync_id)) == {}
        write_program(con)
        build_all(con, as_of)
    return as_of


def run(work, as_of: datetime):
    with connect(work) as con:
        return escalate(con, as_of, OWNERS, {"p": "Program"}, ENV, timeout=5)


def test_a_slip_is_posted_once_with_its_owners_and_retried_when_the_webhook_fails(tmp_path, monkeypatch):
    before = build("demo", 7, AS_OF)
    slipped = [(o, n) for o, n in zip(before.releases, advance(before, 1).releases) if o.due != n.due]
    assert len(slipped) == 1
    old, new = slipped[0]
    work = tmp_path / "work.duckdb"
    with serve(before) as sandbox, webhook() as hook:
        monkeypatch.setenv(ENV, hook.url)
        with connect(work) as con:
            migrate(con)
            assert failures(sync(sandbox, con, "first")) == {}
            write_program(con)
            build_all(con, FIRST)
        first = run(work, FIRST)
        assert (first.found, hook.posts) == (0, [])  # a first sync has nothing to compare with

        second = night(sandbox, work, "second")
        assert run(work, second).sent == 1
        (post,) = hook.posts
        text = post["text"]
        assert post["blocks"][0]["text"]["text"] == text and post["blocks"][0]["text"]["type"] == "mrkdwn"
        assert old.name in text and f"due {new.due.isoformat()}, was {old.due.isoformat()}" in text
        assert "Owners: <@U024BE7LH>, Ada Lovelace" in text and hook.url not in text

        assert run(work, second).found == 0 and len(hook.posts) == 1  # the same night again: nothing new

        hook.status = 500  # the next night's slip fails to post ...
        third = night(sandbox, work, "third")
        failed = run(work, third)
        assert failed.failed == 1 and len(hook.posts) == 2
        with connect(work) as con:
            status, attempts, error = con.execute(
                "SELECT status, attempts, error FROM meta.notifications WHERE detected_at = ?", [third]).fetchone()
        assert (status, attempts, error) == ("failed", 1, "HTTP 500") and "secret-part" not in error
        hook.status = 200  # ... and the next sync retries it, once
        retried = run(work, third)
        assert (retried.found, retried.sent, retried.retried) == (0, 1, 1) and len(hook.posts) == 3
        assert hook.posts[1]["text"] == hook.posts[2]["text"]
        assert run(work, third).sent == 0 and len(hook.posts) == 3

        monkeypatch.delenv(ENV)  # without a webhook, the next slip is recorded, never posted
        fourth = night(sandbox, work, "fourth")
        unset = run(work, fourth)
        assert (unset.found, unset.not_configured, unset.sent) == (1, 1, 0) and len(hook.posts) == 3
        with connect(work) as con:
            assert con.execute("SELECT status, count(*) FROM meta.notifications GROUP BY ALL ORDER BY ALL").fetchall() == [
                ("not_configured", 1), ("sent", 2)]
