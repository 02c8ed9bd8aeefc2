-- marts.item_flow: each work item's flow figures as of as_of (METRICS.md "Flow"): when it started
-- and was done, its cycle and lead time, its age while in progress and whether that age is above
-- its project's P85 cycle time, its blocked and flagged days, whether it is stale. Epics are
-- containers of work, not work: left out, as in every flow figure. What does not move with as_of
-- is in core.item_flow_facts, merged per changed item; this is as_of's arithmetic over it. Kept
-- current from what changed (transforms/build.py, Step.incremental): a night replaces the rows of
-- the items core.item_flow_facts merged (meta.item_flow_changes) and brings every other row's
-- as_of figures forward in place: 0.24-0.36 s at 100k items against 0.56-0.66 s for writing its
-- 96k rows of text again (an UPDATE of the as_of figures of every row takes 0.04-0.08 s of it).
-- [rows]
CREATE OR REPLACE TEMP VIEW _item_flow AS  -- every item's row as of as_of
WITH settings AS (SELECT * FROM meta.metric_settings),
figures AS (
    SELECT f.*,
           f.status_category = 'in_progress' AS is_wip,
           CASE WHEN f.status_category = 'in_progress' THEN epoch(getvariable('as_of') - coalesce(f.started_at, f.created_at)) / 86400.0 END AS age_days,
           f.done_at IS NOT NULL AND NOT f.discarded
               AND f.done_at > getvariable('as_of') - to_days((SELECT flow_window_days FROM settings)) AS done_in_window
    FROM core.item_flow_facts f
),
project_p85 AS (  -- aging WIP is judged against the P85 cycle time of the same project, over the window
    SELECT program_id, project_key,
           CASE WHEN count(cycle_time_days) >= 5 THEN quantile_cont(cycle_time_days, 0.85) END AS p85
    FROM figures WHERE done_in_window GROUP BY ALL
)
SELECT f.item_id, f.key, f.program_id, f.project_key, f.milestone_id, f.source, f.item_type, f.status,
       f.status_category, f.discarded, f.assignee, f.created_at, f.started_at, f.done_at,
       f.lead_time_days, f.cycle_time_days, f.done_in_window, f.is_wip, f.age_days,
       p.p85 AS project_p85_cycle_days,
       CASE WHEN f.is_wip THEN f.age_days > p.p85 ELSE false END AS is_aging,  -- unknown without a P85
       -- an open spell runs until as_of: the closed part plus the open one (core.item_flow_facts)
       (f.blocked_closed_us + greatest(0, coalesce(epoch_us(getvariable('as_of')) - epoch_us(f.blocked_open_from), 0)))
           / 86400e6 AS blocked_days,
       coalesce(f.blocked_now_since < getvariable('as_of'), false) AND f.status_category <> 'done' AS is_blocked,
       (f.flagged_closed_us + f.flagged_open_spells * epoch_us(getvariable('as_of')) - f.flagged_open_from_us)
           / 86400e6 AS flagged_days,
       f.is_flagged,
       f.updated_at,
       coalesce(f.is_wip AND f.updated_at < getvariable('as_of') - to_days((SELECT stale_days FROM settings)), false) AS is_stale,
       getvariable('as_of') AS as_of
FROM figures f
LEFT JOIN project_p85 p USING (program_id, project_key);

CREATE OR REPLACE TEMP VIEW _rows AS SELECT * FROM _item_flow WHERE rebuilt(item_id);

-- [merge]
-- The rows of the items merged since the last build, replaced whole (gone items leave none) ...
INSERT INTO _rebuilt SELECT DISTINCT item_id FROM meta.item_flow_changes;
DELETE FROM marts.item_flow WHERE item_id IN (SELECT line FROM _rebuilt);
INSERT INTO marts.item_flow SELECT * FROM _rows;
-- ... and every other row's figures that move with as_of, in place: its other columns come from
-- core.item_flow_facts, whose row did not change.
UPDATE marts.item_flow m
SET done_in_window = n.done_in_window, age_days = n.age_days, project_p85_cycle_days = n.project_p85_cycle_days,
    is_aging = n.is_aging, blocked_days = n.blocked_days, is_blocked = n.is_blocked, flagged_days = n.flagged_days,
    is_stale = n.is_stale, as_of = n.as_of
FROM _item_flow n
WHERE n.item_id = m.item_id AND m.item_id NOT IN (SELECT line FROM _rebuilt);
SELECT count(*) FROM _rebuilt;

-- [comments]
COMMENT ON TABLE marts.item_flow IS 'Flow figures per work item as of as_of (METRICS.md "Flow"), epics left out: start, done, cycle and lead time, age in progress against the project''s P85, blocked and flagged days, stale. One row per item; the per-project and per-program figures are in marts.flow.';
COMMENT ON COLUMN marts.item_flow.item_id IS 'core.work_items.item_id.';
COMMENT ON COLUMN marts.item_flow.key IS 'Human key: PAY-12 or acme/web#34.';
COMMENT ON COLUMN marts.item_flow.program_id IS 'core.programs.program_id.';
COMMENT ON COLUMN marts.item_flow.project_key IS 'Jira project key or GitHub owner/name.';
COMMENT ON COLUMN marts.item_flow.milestone_id IS 'The item''s milestone (core.work_items.milestone_id: first fix version or GitHub milestone); null when none.';
COMMENT ON COLUMN marts.item_flow.source IS 'jira or github.';
COMMENT ON COLUMN marts.item_flow.item_type IS 'Lower-case item type (core.work_items.item_type).';
COMMENT ON COLUMN marts.item_flow.status IS 'Current status name (tracker text).';
COMMENT ON COLUMN marts.item_flow.status_category IS 'todo, in_progress or done now.';
COMMENT ON COLUMN marts.item_flow.discarded IS 'Done with a discarded resolution (meta.discarded_resolutions): in no throughput, cycle or lead time.';
COMMENT ON COLUMN marts.item_flow.assignee IS 'Current assignee (display name or login); null when unassigned.';
COMMENT ON COLUMN marts.item_flow.created_at IS 'When the item was created (UTC).';
COMMENT ON COLUMN marts.item_flow.started_at IS 'First entry into in_progress (UTC, METRICS.md started_at); null if it never was in progress.';
COMMENT ON COLUMN marts.item_flow.done_at IS 'The last entry into done (UTC, METRICS.md done_at), for items done now; null while not done.';
COMMENT ON COLUMN marts.item_flow.lead_time_days IS 'done_at - created_at in days (METRICS.md lead time); null while not done.';
COMMENT ON COLUMN marts.item_flow.cycle_time_days IS 'done_at - started_at in days (METRICS.md cycle time); null while not done, or done without passing through in_progress.';
COMMENT ON COLUMN marts.item_flow.done_in_window IS 'Done, not discarded, within meta.metric_settings.flow_window_days before as_of: the items the percentiles in marts.flow are over.';
COMMENT ON COLUMN marts.item_flow.is_wip IS 'In the in_progress category now (METRICS.md WIP).';
COMMENT ON COLUMN marts.item_flow.age_days IS 'as_of - started_at in days for items in progress (METRICS.md age; from creation when no start was recorded); null otherwise.';
COMMENT ON COLUMN marts.item_flow.project_p85_cycle_days IS 'P85 cycle time of the item''s project over the window (marts.flow); null with fewer than 5 items done in the window.';
COMMENT ON COLUMN marts.item_flow.is_aging IS 'In progress with an age above its project''s P85 cycle time (METRICS.md aging WIP); null (unknown, not false) for an item in progress whose project has no P85 (fewer than 5 cycle times in the window); false for items not in progress.';
COMMENT ON COLUMN marts.item_flow.blocked_days IS 'Days the item was blocked between creation and done (or as_of): the union of its core.item_history blocked spells, so two blockers at once count once (METRICS.md "Blocked").';
COMMENT ON COLUMN marts.item_flow.is_blocked IS 'Not done and has a blocker that is not done now.';
COMMENT ON COLUMN marts.item_flow.flagged_days IS 'Days the Jira Flagged field was set between creation and done (or as_of), summed over its spells (a flag set after done adds nothing); 0 on GitHub.';
COMMENT ON COLUMN marts.item_flow.is_flagged IS 'Flagged now (Jira Software Flagged: Impediment).';
COMMENT ON COLUMN marts.item_flow.updated_at IS 'When the item last changed (UTC).';
COMMENT ON COLUMN marts.item_flow.is_stale IS 'In progress and not updated for meta.metric_settings.stale_days (default 14, METRICS.md stale).';
COMMENT ON COLUMN marts.item_flow.as_of IS 'The instant the figures describe.';
