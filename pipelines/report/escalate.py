"""Escalations: when a verdict turns red or a milestone slips, tell the program's owners once.

A change is found in what the warehouse already keeps (marts.health_history, the append-only
meta.milestone_snapshots), not by diffing reports, so it is found by the sync that saw it, whether
or not a report ran. meta.notifications is the ledger: an event key is unique per change, a
rerun of the night finds it there, and the next night's comparison sees no change, so nothing is
posted twice. A failed POST is retried by the next syncs (3 attempts in all).

The message is Slack-compatible JSON (``text`` plus one mrkdwn section); tracker text is escaped
as Slack asks (& < >). The webhook URL is a secret: it comes from the environment variable that
``report.webhook_url_env`` names and appears in no log, error or metadata."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone

import duckdb
import requests

MAX_ATTEMPTS = 3

_CHANGES = """
WITH today AS (SELECT * FROM marts.health_history WHERE day = $day),
previous AS (  -- the last day a sync judged (reconstructed days are estimates, not news)
    SELECT h.target_id, h.health FROM marts.health_history h JOIN today t USING (target_id)
    WHERE h.day < t.day AND h.source = 'sync'
    QUALIFY row_number() OVER (PARTITION BY h.target_id ORDER BY h.day DESC) = 1
),
snapshots AS (
    SELECT *, lag(due_date) OVER (PARTITION BY milestone_id ORDER BY observed_at, recorded_at) AS previous_due
    FROM meta.milestone_snapshots
)
SELECT 'turned_red|' || t.target_id || '|' || t.day AS event_key, 'turned_red' AS kind, t.program_id,
       t.target_id, t.level, t.name, p.health AS before, t.health AS after, t.headline AS detail
FROM today t JOIN previous p USING (target_id)
WHERE t.health = 'red' AND p.health IS DISTINCT FROM 'red'
UNION ALL
SELECT 'slipped|' || milestone_id || '|' || due_date || '|' || strftime(observed_at AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%S'),
       'slipped', program_id, milestone_id, kind,
       coalesce(project_key || ' ', '') || name, previous_due::VARCHAR, due_date::VARCHAR,
       (due_date - previous_due) || ' days later'
FROM snapshots
WHERE observed_at = $as_of AND due_date > previous_due AND kind <> 'sprint'  -- sprints stretch weekly: noise
"""

# This sync's changes not yet in the ledger, each once (a due date moved away and back within one
# night's snapshots repeats a key).
_NEW = f"""
SELECT * FROM ({_CHANGES}) c
WHERE event_key NOT IN (SELECT event_key FROM meta.notifications)
QUALIFY row_number() OVER (PARTITION BY event_key) = 1
ORDER BY kind, event_key
"""


@dataclass(frozen=True)
class Escalation:
    """One change worth telling the owners about."""

    event_key: str
    kind: str  # turned_red | slipped
    program_id: str | None
    target_id: str
    level: str
    name: str
    before: str | None
    after: str
    detail: str | None


@dataclass(frozen=True)
class EscalationRun:
    """What a sync's escalation step found and did."""

    found: int  # new changes this run
    sent: int
    failed: int
    not_configured: int
    retried: int


def slack_escape(text: object) -> str:
    """Slack's rule for text in messages: &, < and > as entities, so tracker text cannot mention
    a channel or forge a link."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def message(e: Escalation, owners: tuple[str, ...], program_name: str | None) -> str:
    """The mrkdwn text: what changed, where, and who owns it. Owners come from program.yaml as
    written (so <@U123> mentions work); everything from the trackers is escaped."""
    where = f" in *{slack_escape(program_name)}*" if program_name else ""
    if e.kind == "turned_red":
        head = f":red_circle: {e.level.capitalize()} *{slack_escape(e.name)}*{where} turned red (was {e.before or 'unknown'})."
        body = slack_escape(e.detail or "")
    else:
        head = f":calendar: Milestone *{slack_escape(e.name)}*{where} slipped: due {e.after}, was {e.before}."
        body = slack_escape(e.detail or "")
    tail = f"\nOwners: {', '.join(owners)}" if owners else ""
    return f"{head}\n{body}{tail}".strip()


def find(con: duckdb.DuckDBPyConnection, as_of: datetime) -> list[Escalation]:
    """This sync's changes not yet in the ledger."""
    day = as_of.astimezone(timezone.utc).date()
    return [Escalation(*row) for row in con.execute(_NEW, {"day": day, "as_of": as_of}).fetchall()]


def post(url: str, text: str, timeout: float) -> str | None:
    """POST a Slack-compatible payload; the error (never the URL) or None."""
    try:
        response = requests.post(url, json={"text": text, "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": text}}]}, timeout=timeout)
    except requests.RequestException as exc:
        return f"{type(exc).__name__}: the webhook did not answer"
    if response.status_code >= 300:
        return f"HTTP {response.status_code}"
    return None


def escalate(con: duckdb.DuckDBPyConnection, as_of: datetime, owners: dict[str, tuple[str, ...]],
             names: dict[str, str], url_env: str, timeout: float = 10.0,
             send: Callable[[str, str, float], str | None] = post) -> EscalationRun:
    """Record this sync's changes in meta.notifications and post them, and retry the failed ones."""
    url = os.environ.get(url_env) or None
    now = datetime.now(timezone.utc)
    new = find(con, as_of)
    for e in new:
        people = owners.get(e.program_id or "", ())
        con.execute("""INSERT INTO meta.notifications VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, NULL, NULL)""",
                    [e.event_key, e.kind, e.program_id, e.target_id, e.name, e.before, e.after, as_of,
                     message(e, people, names.get(e.program_id or "")), ", ".join(people) or None,
                     "pending" if url else "not_configured"])
    due = con.execute("""SELECT event_key, message, attempts FROM meta.notifications
                         WHERE status IN ('pending', 'failed') AND attempts < ? ORDER BY detected_at, event_key""",
                      [MAX_ATTEMPTS]).fetchall() if url else []
    sent = failed = 0
    for key, text, attempts in due:
        error = send(url, text, timeout)
        con.execute("UPDATE meta.notifications SET status = ?, attempts = ?, sent_at = ?, error = ? WHERE event_key = ?",
                    ["failed" if error else "sent", attempts + 1, None if error else now, error, key])
        sent += error is None
        failed += error is not None
        if error:  # a webhook that is down stays down for the rest of this run: the rest wait for the next
            break
    return EscalationRun(found=len(new), sent=sent, failed=failed,
                         not_configured=0 if url else len(new), retried=sum(1 for _, _, a in due if a > 0))
