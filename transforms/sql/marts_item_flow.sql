-- marts.item_flow: each work item's flow figures as of as_of (METRICS.md "Flow"): when it started
-- and was done, its cycle and lead time, its age while in progress and whether that age is above
-- its project's P85 cycle time, its blocked and flagged days, whether it is stale. Epics are
-- containers of work, not work: left out, as in every flow figure.
CREATE OR REPLACE TABLE marts.item_flow AS
WITH settings AS (SELECT * FROM meta.metric_settings),
items AS (
    SELECT w.item_id, w.key, w.program_id, w.project_key, w.milestone_id, w.source, w.item_type,
           w.status, w.status_category, w.resolution, w.assignee, w.created_at, w.updated_at,
           coalesce(w.status_category = 'done' AND lower(w.resolution) IN (SELECT resolution FROM meta.discarded_resolutions), false)
               AS discarded  -- done without a resolution: not discarded (NULL would drop it from every count)
    FROM core.work_items w
    WHERE w.item_type IS DISTINCT FROM 'epic'
),
moments AS (  -- started: first entry into in_progress; done: the last entry into done, if done now
    SELECT item_id,
           min(changed_at) FILTER (WHERE to_category = 'in_progress') AS started_at,
           -- a move within done (Done -> Closed) is no entry into done
           max(changed_at) FILTER (WHERE to_category = 'done' AND from_category IS DISTINCT FROM 'done') AS last_done_at
    FROM core.status_transitions GROUP BY item_id
),
spans AS (  -- the span a blocked or flagged day can fall in: from creation until done, or as_of
    SELECT i.*, m.started_at,
           CASE WHEN i.status_category = 'done' THEN m.last_done_at END AS done_at
    FROM items i LEFT JOIN moments m USING (item_id)
),
blocked_clipped AS (
    SELECT h.item_id, greatest(h.valid_from, s.created_at) AS f,
           least(coalesce(h.valid_to, getvariable('as_of')), coalesce(s.done_at, getvariable('as_of'))) AS t
    FROM core.item_history h JOIN spans s USING (item_id)
    WHERE h.field = 'blocked'
),
blocked_islands AS (  -- blockers overlap: a day blocked by two is one blocked day
    SELECT item_id, f, t,
           max(t) OVER (PARTITION BY item_id ORDER BY f, t ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS reach
    FROM blocked_clipped WHERE t > f
),
blocked AS (
    SELECT item_id, sum(epoch(t - greatest(f, coalesce(reach, f)))) FILTER (WHERE t > coalesce(reach, f)) / 86400.0 AS blocked_days
    FROM blocked_islands GROUP BY item_id
),
flagged AS (
    SELECT h.item_id,
           sum(epoch(least(coalesce(h.valid_to, getvariable('as_of')), coalesce(s.done_at, getvariable('as_of')))
                     - h.valid_from)) / 86400.0 AS flagged_days,
           bool_or(h.valid_to IS NULL) AS flagged_now
    FROM core.item_history h JOIN spans s USING (item_id)
    WHERE h.field = 'flagged'
    GROUP BY h.item_id
),
blocked_now AS (
    SELECT DISTINCT item_id FROM core.item_history WHERE field = 'blocked' AND valid_to IS NULL AND valid_from < getvariable('as_of')
),
figures AS (
    SELECT s.*,
           epoch(s.done_at - s.created_at) / 86400.0 AS lead_time_days,
           CASE WHEN s.started_at <= s.done_at THEN epoch(s.done_at - s.started_at) / 86400.0 END AS cycle_time_days,
           s.status_category = 'in_progress' AS is_wip,
           CASE WHEN s.status_category = 'in_progress' THEN epoch(getvariable('as_of') - coalesce(s.started_at, s.created_at)) / 86400.0 END AS age_days,
           s.done_at IS NOT NULL AND NOT s.discarded
               AND s.done_at > getvariable('as_of') - to_days((SELECT flow_window_days FROM settings)) AS done_in_window
    FROM spans s
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
       coalesce(b.blocked_days, 0) AS blocked_days,
       f.item_id IN (SELECT item_id FROM blocked_now) AND f.status_category <> 'done' AS is_blocked,
       coalesce(fl.flagged_days, 0) AS flagged_days,
       coalesce(fl.flagged_now, false) AS is_flagged,
       f.updated_at,
       coalesce(f.is_wip AND f.updated_at < getvariable('as_of') - to_days((SELECT stale_days FROM settings)), false) AS is_stale,
       getvariable('as_of') AS as_of
FROM figures f
LEFT JOIN project_p85 p USING (program_id, project_key)
LEFT JOIN blocked b USING (item_id)
LEFT JOIN flagged fl USING (item_id);

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
COMMENT ON COLUMN marts.item_flow.flagged_days IS 'Days the Jira Flagged field was set between creation and done (or as_of); 0 on GitHub.';
COMMENT ON COLUMN marts.item_flow.is_flagged IS 'Flagged now (Jira Software Flagged: Impediment).';
COMMENT ON COLUMN marts.item_flow.updated_at IS 'When the item last changed (UTC).';
COMMENT ON COLUMN marts.item_flow.is_stale IS 'In progress and not updated for meta.metric_settings.stale_days (default 14, METRICS.md stale).';
COMMENT ON COLUMN marts.item_flow.as_of IS 'The instant the figures describe.';
