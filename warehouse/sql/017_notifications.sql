-- Escalations: a verdict that turns red or a milestone whose due date moves later is posted once to
-- the program's webhook. This ledger is what makes it once: an event's key is unique, a rerun of
-- the same night finds it here, and the next night's comparison no longer sees a change. A table
-- of the migrations, not a derived one: no rebuild may forget what was already said.
CREATE TABLE meta.notifications (
    event_key    VARCHAR PRIMARY KEY,
    kind         VARCHAR NOT NULL,
    program_id   VARCHAR,
    target_id    VARCHAR NOT NULL,
    target_name  VARCHAR,
    before       VARCHAR,
    after        VARCHAR,
    detected_at  TIMESTAMPTZ NOT NULL,
    message      VARCHAR NOT NULL,
    owners       VARCHAR,
    status       VARCHAR NOT NULL,
    attempts     INTEGER NOT NULL,
    sent_at      TIMESTAMPTZ,
    error        VARCHAR
);
COMMENT ON TABLE meta.notifications IS 'One row per escalation: a milestone, project or program whose verdict turned red, or a milestone whose due date moved later, as detected by a sync, and whether it was posted to the webhook (report.webhook_url_env). An event is posted at most once: its key is unique, reruns find it here.';
COMMENT ON COLUMN meta.notifications.event_key IS 'turned_red|<target id>|<day> or slipped|<milestone id>|<new due date>|<observed at>: unique per change.';
COMMENT ON COLUMN meta.notifications.kind IS 'turned_red (marts.health_history: red today, not red on the previous synced day) or slipped (meta.milestone_snapshots: due date later than the previous snapshot''s).';
COMMENT ON COLUMN meta.notifications.program_id IS 'Program whose owners (programs[].owners in program.yaml) are named in the message.';
COMMENT ON COLUMN meta.notifications.target_id IS 'marts.health_history.target_id for turned_red; meta.milestone_snapshots.milestone_id for slipped.';
COMMENT ON COLUMN meta.notifications.target_name IS 'Name of the milestone, project or program (tracker text).';
COMMENT ON COLUMN meta.notifications.before IS 'Verdict on the previous synced day, or the previous due date (ISO).';
COMMENT ON COLUMN meta.notifications.after IS 'Verdict now (red), or the new due date (ISO).';
COMMENT ON COLUMN meta.notifications.detected_at IS 'as_of of the sync that detected the change (UTC).';
COMMENT ON COLUMN meta.notifications.message IS 'The text posted (Slack mrkdwn, tracker text escaped).';
COMMENT ON COLUMN meta.notifications.owners IS 'The owners named, comma-separated.';
COMMENT ON COLUMN meta.notifications.status IS 'sent; failed (retried by the next syncs, 3 attempts in all); not_configured (the webhook variable was unset: recorded, never posted later).';
COMMENT ON COLUMN meta.notifications.attempts IS 'POSTs tried.';
COMMENT ON COLUMN meta.notifications.sent_at IS 'When the webhook accepted it (UTC).';
COMMENT ON COLUMN meta.notifications.error IS 'The last failure: HTTP status or connection error, without the URL (a secret).';
