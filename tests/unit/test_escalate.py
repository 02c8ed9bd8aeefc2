"""Which changes are escalated, worked by hand on a warehouse's own tables: a verdict that turns
red against the last day a sync judged (not a reconstructed day), a due date moved later (not
earlier, not a sprint), each once; and the message keeps tracker text inert."""

from __future__ import annotations

from datetime import date, datetime, timezone

import duckdb
import pytest

from pipelines.report.escalate import Escalation, escalate, find, message, slack_escape
from warehouse.store import migrate

DAY1, DAY2 = date(2026, 11, 26), date(2026, 11, 27)
AS_OF = datetime(2026, 11, 27, tzinfo=timezone.utc)
HOSTILE = "<!channel> Pay & <script>alert(1)</script> ‏שלום"


@pytest.fixture
def con():
    con = duckdb.connect()
    migrate(con)
    verdicts = [  # target, name, day, health, source
        ("a", "Turns red", DAY1, "amber", "sync"), ("a", "Turns red", DAY2, "red", "sync"),
        ("b", "Stays red", DAY1, "red", "sync"), ("b", "Stays red", DAY2, "red", "sync"),
        ("c", "Red after a reconstructed day", DAY1, "green", "reconstructed"),
        ("c", "Red after a reconstructed day", DAY2, "red", "sync"),
        ("d", HOSTILE, DAY1, "unknown", "sync"), ("d", HOSTILE, DAY2, "red", "sync"),
        ("e", "Turns green", DAY1, "red", "sync"), ("e", "Turns green", DAY2, "green", "sync"),
    ]
    for target, name, day, health, source in verdicts:
        con.execute("""INSERT INTO marts.health_history (day, as_of, target_id, level, program_id, name, health,
                           headline, red_dimensions, amber_dimensions, unknown_dimensions, reasons, source, recorded_at)
                       VALUES (?, ?, ?, 'project', 'p', ?, ?, ? || ' is ' || ?, 0, 0, 0, 0, ?, now())""",
                    [day, day, target, name, health, name, health, source])
    snapshots = [  # milestone, kind, due, observed
        ("v1", "version", date(2026, 12, 1), DAY1), ("v1", "version", date(2026, 12, 8), DAY2),  # slipped 7 days
        ("v2", "version", date(2026, 12, 1), DAY1), ("v2", "version", date(2026, 11, 30), DAY2),  # pulled in
        ("s1", "sprint", date(2026, 12, 1), DAY1), ("s1", "sprint", date(2026, 12, 3), DAY2),  # a sprint: noise
        ("v3", "version", date(2026, 12, 1), DAY1), ("v3", "version", date(2026, 12, 9), DAY1),  # an earlier night's
        ("v4", "version", None, DAY1), ("v4", "version", date(2026, 12, 9), DAY2),  # first given a date
    ]
    for milestone, kind, due, observed in snapshots:
        observed_at = datetime.combine(observed, datetime.min.time(), tzinfo=timezone.utc)
        con.execute("""INSERT INTO meta.milestone_snapshots (milestone_id, kind, program_id, project_key, name,
                           due_date, scope_items, done_items, first_seen_at, observed_at, recorded_at)
                       VALUES (?, ?, 'p', 'PAY', ?, ?, 1, 0, ?, ?, now())""",
                    [milestone, kind, f"PAY {milestone}", due, observed_at, observed_at])
    return con


def test_only_the_changes_of_this_sync_are_found(con):
    found = find(con, AS_OF)
    assert [(e.kind, e.target_id, e.before, e.after) for e in found] == [
        ("slipped", "v1", "2026-12-01", "2026-12-08"),
        ("turned_red", "a", "amber", "red"), ("turned_red", "d", "unknown", "red")]
    assert found[0].detail == "7 days later"


def test_each_change_is_posted_once(con, monkeypatch):
    posted = []

    def send(url, text, timeout):
        posted.append(text)
        return None

    monkeypatch.setenv("PULSE_UNIT_HOOK", "http://127.0.0.1:9/hook")
    first = escalate(con, AS_OF, {"p": ("<@U1>",)}, {"p": "Program"}, "PULSE_UNIT_HOOK", send=send)
    again = escalate(con, AS_OF, {"p": ("<@U1>",)}, {"p": "Program"}, "PULSE_UNIT_HOOK", send=send)
    assert (first.found, first.sent, again.found, again.sent) == (3, 3, 0, 0)
    assert len(posted) == 3 and all("Owners: <@U1>" in text for text in posted)


def test_tracker_text_cannot_mention_a_channel_or_forge_a_link():
    e = Escalation("k", "turned_red", "p", "d", "project", HOSTILE, "amber", "red", f"{HOSTILE} is red")
    text = message(e, ("<@U1>",), "Pro<gram>")
    assert "<!channel>" not in text and "<script>" not in text and "Pro&lt;gram&gt;" in text
    assert slack_escape(HOSTILE) in text and "<@U1>" in text  # owners are the config's, kept as written
    assert slack_escape("a & b") == "a &amp; b"


def test_a_failing_webhook_stops_the_run_and_the_rest_wait(con, monkeypatch):
    calls = []

    def down(url, text, timeout):
        calls.append(text)
        return "HTTP 503"

    monkeypatch.setenv("PULSE_UNIT_HOOK", "http://127.0.0.1:9/hook")
    run = escalate(con, AS_OF, {}, {}, "PULSE_UNIT_HOOK", send=down)
    assert (run.found, run.failed, len(calls)) == (3, 1, 1)
    assert con.execute("SELECT status, attempts, count(*) FROM meta.notifications GROUP BY ALL ORDER BY ALL"
                       ).fetchall() == [("failed", 1, 1), ("pending", 0, 2)]


def test_a_key_found_twice_in_one_night_is_one_escalation(con):
    observed = datetime.combine(DAY2, datetime.min.time(), tzinfo=timezone.utc)
    for due in (date(2026, 12, 1), date(2026, 12, 8)):  # v1 moved back and forth within the night
        con.execute("""INSERT INTO meta.milestone_snapshots (milestone_id, kind, program_id, project_key, name,
                           due_date, scope_items, done_items, first_seen_at, observed_at, recorded_at)
                       VALUES ('v1', 'version', 'p', 'PAY', 'PAY v1', ?, 1, 0, ?, ?, now())""", [due, observed, observed])
    keys = [e.event_key for e in find(con, AS_OF)]
    assert len(keys) == len(set(keys))
