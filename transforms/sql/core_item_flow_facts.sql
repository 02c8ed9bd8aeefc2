-- core.item_flow_facts: what marts.item_flow takes from each work item and its history that does
-- not move with as_of (epics left out, as in every flow figure): the item's columns, when it started
-- and was done, and its blocked and flagged spells reduced to a closed part and an open one. The
-- mart adds as_of's arithmetic (age, window, open spells up to as_of, P85, stale), so a night
-- re-reads the history of the items it changed, not of all of them (METRICS.md "Flow"). The
-- item's columns are copied here: a join to core.work_items in the mart cost more than it saved.
-- Item-scoped: a night merges the items of meta.item_deltas, which include those whose blocked
-- spells a blocker's change moved (core.item_history's [stale] section makes them a batch).
-- [rows]
CREATE OR REPLACE TEMP VIEW _rows AS
WITH items AS (
    SELECT w.item_id, w.key, w.program_id, w.project_key, w.milestone_id, w.source, w.item_type,
           w.status, w.status_category, w.assignee, w.created_at, w.updated_at,
           coalesce(w.status_category = 'done' AND lower(w.resolution) IN (SELECT resolution FROM meta.discarded_resolutions), false)
               AS discarded  -- done without a resolution: not discarded (NULL would drop it from every count)
    FROM core.work_items w
    WHERE w.item_type IS DISTINCT FROM 'epic' AND in_scope(w.item_id)
),
moments AS (  -- started: first entry into in_progress; done: the last entry into done, if done now
    SELECT item_id,
           min(changed_at) FILTER (WHERE to_category = 'in_progress') AS started_at,
           -- a move within done (Done -> Closed) is no entry into done
           max(changed_at) FILTER (WHERE to_category = 'done' AND from_category IS DISTINCT FROM 'done') AS last_done_at
    FROM core.status_transitions WHERE in_scope(item_id) GROUP BY item_id
),
spans AS (  -- the span a blocked or flagged day can fall in: from creation until done (open while not done)
    SELECT i.*, m.started_at,
           CASE WHEN i.status_category = 'done' THEN m.last_done_at END AS done_at
    FROM items i LEFT JOIN moments m USING (item_id)
),
spells AS (  -- blocked and flagged spells within that span; t null: open (until as_of, in the mart)
    SELECT h.item_id, h.field, h.valid_from, h.valid_to, s.created_at,
           least(h.valid_to, s.done_at) AS t  -- least skips nulls: null only when both are
    FROM core.item_history h JOIN spans s USING (item_id)
    WHERE h.field IN ('blocked', 'flagged') AND in_scope(h.item_id)
),
blocked_open AS (  -- from when the item has been blocked without a break until now (as_of)
    SELECT item_id, min(greatest(valid_from, created_at)) AS open_from
    FROM spells WHERE field = 'blocked' AND t IS NULL GROUP BY item_id
),
blocked_clipped AS (  -- the closed spells, each cut where the open one begins (which covers the rest)
    SELECT b.item_id, greatest(b.valid_from, b.created_at) AS f, least(b.t, o.open_from) AS t
    FROM spells b LEFT JOIN blocked_open o USING (item_id)
    WHERE b.field = 'blocked'
),
blocked_islands AS (  -- blockers overlap: a day blocked by two is one blocked day
    SELECT item_id, f, t,
           max(t) OVER (PARTITION BY item_id ORDER BY f, t ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS reach
    FROM blocked_clipped WHERE t > f
),
blocked AS (
    SELECT item_id,
           sum(epoch_us(t) - epoch_us(greatest(f, coalesce(reach, f)))) FILTER (WHERE t > coalesce(reach, f)) AS closed_us
    FROM blocked_islands GROUP BY item_id
),
flagged AS (  -- flags are summed, not merged (a flag is set once at a time), each cut to creation..done:
              -- a flag set after done adds nothing (until 2026-12-06 it subtracted its length)
    SELECT item_id,
           sum(greatest(epoch_us(t) - epoch_us(greatest(valid_from, created_at)), 0)) FILTER (WHERE t IS NOT NULL) AS closed_us,
           count(*) FILTER (WHERE t IS NULL) AS open_spells,
           sum(epoch_us(greatest(valid_from, created_at))) FILTER (WHERE t IS NULL) AS open_from_us,
           bool_or(valid_to IS NULL) AS flagged_now
    FROM spells WHERE field = 'flagged' GROUP BY item_id
),
blocked_now AS (  -- a blocker not done now, whatever the item's state (the mart asks it is not done)
    SELECT item_id, min(valid_from) AS since FROM spells WHERE field = 'blocked' AND valid_to IS NULL GROUP BY item_id
)
SELECT s.item_id, s.key, s.program_id, s.project_key, s.milestone_id, s.source, s.item_type, s.status,
       s.status_category, s.discarded, s.assignee, s.created_at, s.updated_at, s.started_at, s.done_at,
       epoch(s.done_at - s.created_at) / 86400.0 AS lead_time_days,
       CASE WHEN s.started_at <= s.done_at THEN epoch(s.done_at - s.started_at) / 86400.0 END AS cycle_time_days,
       coalesce(b.closed_us, 0) AS blocked_closed_us,
       o.open_from AS blocked_open_from,
       n.since AS blocked_now_since,
       coalesce(fl.closed_us, 0) AS flagged_closed_us,
       coalesce(fl.open_spells, 0) AS flagged_open_spells,
       coalesce(fl.open_from_us, 0) AS flagged_open_from_us,
       coalesce(fl.flagged_now, false) AS is_flagged
FROM spans s
LEFT JOIN blocked b USING (item_id)
LEFT JOIN blocked_open o USING (item_id)
LEFT JOIN flagged fl USING (item_id)
LEFT JOIN blocked_now n USING (item_id);

-- [changes]
-- The items this night merged (changed, new or gone): marts.item_flow replaces their rows and
-- brings every other row's as_of figures forward in place (transforms/build.py Step.incremental).
INSERT INTO meta.item_flow_changes SELECT item_id FROM _scope;

-- [comments]
COMMENT ON TABLE core.item_flow_facts IS 'What marts.item_flow takes from each work item''s history, which does not move with as_of (METRICS.md "Flow"), one row per work item, epics left out: start and done moments, and the blocked and flagged spells reduced to a closed part and an open one. Merged per changed item each night; marts.item_flow adds as_of''s arithmetic.';
COMMENT ON COLUMN core.item_flow_facts.item_id IS 'core.work_items.item_id.';
COMMENT ON COLUMN core.item_flow_facts.key IS 'Human key: PAY-12 or acme/web#34.';
COMMENT ON COLUMN core.item_flow_facts.program_id IS 'core.programs.program_id.';
COMMENT ON COLUMN core.item_flow_facts.project_key IS 'Jira project key or GitHub owner/name.';
COMMENT ON COLUMN core.item_flow_facts.milestone_id IS 'The item''s milestone (core.work_items.milestone_id); null when none.';
COMMENT ON COLUMN core.item_flow_facts.source IS 'jira or github.';
COMMENT ON COLUMN core.item_flow_facts.item_type IS 'Lower-case item type (core.work_items.item_type); never epic.';
COMMENT ON COLUMN core.item_flow_facts.status IS 'Current status name (tracker text).';
COMMENT ON COLUMN core.item_flow_facts.status_category IS 'todo, in_progress or done now.';
COMMENT ON COLUMN core.item_flow_facts.discarded IS 'Done with a discarded resolution (meta.discarded_resolutions).';
COMMENT ON COLUMN core.item_flow_facts.assignee IS 'Current assignee (display name or login); null when unassigned.';
COMMENT ON COLUMN core.item_flow_facts.created_at IS 'When the item was created (UTC).';
COMMENT ON COLUMN core.item_flow_facts.updated_at IS 'When the item last changed (UTC).';
COMMENT ON COLUMN core.item_flow_facts.started_at IS 'First entry into in_progress (UTC, METRICS.md started_at); null if it never was in progress.';
COMMENT ON COLUMN core.item_flow_facts.done_at IS 'The last entry into done (UTC, METRICS.md done_at), for items done now; null while not done.';
COMMENT ON COLUMN core.item_flow_facts.lead_time_days IS 'done_at - created_at in days (METRICS.md lead time); null while not done.';
COMMENT ON COLUMN core.item_flow_facts.cycle_time_days IS 'done_at - started_at in days (METRICS.md cycle time); null while not done, or done without passing through in_progress.';
COMMENT ON COLUMN core.item_flow_facts.blocked_closed_us IS 'Microseconds blocked between creation and done in spells that have ended, each cut where blocked_open_from begins, overlaps counted once; 0 when none.';
COMMENT ON COLUMN core.item_flow_facts.blocked_open_from IS 'For an item without a done_at: since when it has been blocked without a break (the earliest start of a blocked spell still open, not before creation); null when no spell is open. Blocked days as of T = (blocked_closed_us + (T - blocked_open_from)) / 86400e6.';
COMMENT ON COLUMN core.item_flow_facts.blocked_now_since IS 'The earliest start of a blocked spell still open (a blocker not done now), whatever the item''s state; null when none.';
COMMENT ON COLUMN core.item_flow_facts.flagged_closed_us IS 'Microseconds of the Flagged spells that have ended (at their end or the item''s done_at), each cut to creation..done_at (a flag set after done adds nothing), summed; 0 when none.';
COMMENT ON COLUMN core.item_flow_facts.flagged_open_spells IS 'Flagged spells still open on an item without a done_at (not done, or done with no recorded entry into done): each adds T - its start as of T.';
COMMENT ON COLUMN core.item_flow_facts.flagged_open_from_us IS 'The sum of those open spells'' starts (not before creation) in microseconds since the epoch: flagged days as of T = (flagged_closed_us + flagged_open_spells x epoch_us(T) - flagged_open_from_us) / 86400e6.';
COMMENT ON COLUMN core.item_flow_facts.is_flagged IS 'Flagged now (Jira Software Flagged: Impediment).';
