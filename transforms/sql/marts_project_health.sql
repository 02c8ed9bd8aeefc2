-- marts.project_health: a red/amber/green verdict per project with the reasons behind it.
-- Dimensions (defaults from METRICS.md and the program-health issue):
--   schedule      current milestone past due with open work: red; expected minus actual percent
--                 complete over 20 points: red, over 10: amber.
--   dependencies  an open blocker from another project whose own milestone is past due: red.
--   scope         over 30% of the current milestone's open items added in the last 30 days: amber.
-- A dimension without data is 'unknown': it outranks green in the roll-up, so a project is green
-- only when every dimension is known and green.
--   freshness     the project's latest sync failed: its data is what the last good sync left, so
--                 its verdict is 'unknown' (never a stale green) with the age and the cause.
CREATE OR REPLACE TABLE marts.project_health AS
WITH params AS (SELECT getvariable('as_of')::TIMESTAMPTZ AS as_of),
current_milestone AS (  -- the open milestone due soonest (overdue ones first): what the team is delivering now
    SELECT * FROM (
        SELECT m.*, row_number() OVER (PARTITION BY m.site, m.project_key ORDER BY m.due_date, m.name) AS rn
        FROM core.milestones m
        WHERE m.state = 'open' AND m.due_date IS NOT NULL AND m.items > 0
    ) WHERE rn = 1
),
milestone_scope AS (
    SELECT w.milestone_id,
           count(*) FILTER (WHERE w.status_category <> 'done') AS open_items,
           count(*) FILTER (WHERE w.status_category <> 'done'
                              AND w.created_at >= (SELECT as_of FROM params) - INTERVAL 30 DAY) AS open_added_30d
    FROM core.work_items w WHERE w.item_type <> 'epic' GROUP BY w.milestone_id
),
schedule AS (
    SELECT p.site, p.project_key, m.name AS milestone_name, m.due_date AS milestone_due,
           m.items AS milestone_items, m.done_items AS milestone_done, m.open_items AS milestone_open,
           m.done_items / m.items AS pct_done,
           greatest(0.0, least(1.0,
               date_diff('second', coalesce(m.start_date::TIMESTAMPTZ, m.first_item_created_at), (SELECT as_of FROM params))
               / nullif(date_diff('second', coalesce(m.start_date::TIMESTAMPTZ, m.first_item_created_at), m.due_date::TIMESTAMPTZ), 0)
           )) AS pct_time,
           date_diff('day', m.due_date, (SELECT as_of FROM params)::DATE) AS days_past_due,
           s.open_added_30d
    FROM core.projects p
    LEFT JOIN current_milestone m ON m.site = p.site AND m.project_key = p.project_key
    LEFT JOIN milestone_scope s ON s.milestone_id = m.milestone_id
),
schedule_verdict AS (
    SELECT *,
        CASE WHEN milestone_name IS NULL THEN 'unknown'
             WHEN days_past_due > 0 AND milestone_open > 0 THEN 'red'
             WHEN pct_time - pct_done > 0.20 THEN 'red'
             WHEN pct_time - pct_done > 0.10 THEN 'amber'
             ELSE 'green' END AS schedule_health,
        CASE WHEN milestone_name IS NULL THEN 'No open milestone with a due date and work in it: schedule unknown.'
             WHEN days_past_due > 0 AND milestone_open > 0 THEN
                 format('{} was due {} ({} days ago) and still has {} of {} items open.',
                        milestone_name, strftime(milestone_due, '%Y-%m-%d'), days_past_due, milestone_open, milestone_items)
             ELSE format('{} is {}% done at {}% of its time to {} ({} of {} items done).',
                        milestone_name, round(100 * pct_done)::INT, round(100 * pct_time)::INT,
                        strftime(milestone_due, '%Y-%m-%d'), milestone_done, milestone_items)
        END AS schedule_reason,
        CASE WHEN milestone_name IS NULL THEN 'unknown'
             WHEN milestone_open > 0 AND open_added_30d / milestone_open > 0.30 THEN 'amber'
             ELSE 'green' END AS scope_health,
        CASE WHEN milestone_name IS NULL THEN NULL
             ELSE format('{}: {} of {} open items ({}%) were added in the last 30 days.',
                         milestone_name, open_added_30d, milestone_open,
                         round(100 * open_added_30d / nullif(milestone_open, 0))::INT)
        END AS scope_reason
    FROM schedule
),
blockers AS (  -- open dependencies whose blocker is in another project
    SELECT d.blocked_project_key AS project_key, b.site, d.blocker_key, d.blocked_key,
           a.project_key AS blocker_project_key, pa.project_name AS blocker_project_name,
           ma.due_date AS blocker_due, ma.name AS blocker_milestone,
           ma.due_date < (SELECT as_of FROM params)::DATE AS blocker_late
    FROM core.dependencies d
    JOIN core.work_items b ON b.item_id = d.blocked_item_id
    LEFT JOIN core.work_items a ON a.item_id = d.blocker_item_id
    LEFT JOIN core.projects pa ON pa.site = a.site AND pa.project_key = a.project_key
    LEFT JOIN core.milestones ma ON ma.milestone_id = a.milestone_id
    WHERE d.cross_project AND d.is_open
),
dependency_verdict AS (
    SELECT p.site, p.project_key,
           count(b.blocked_key) AS open_cross_project_blockers,
           count(b.blocked_key) FILTER (WHERE b.blocker_late) AS late_cross_project_blockers,
           CASE WHEN count(b.blocked_key) FILTER (WHERE b.blocker_late) > 0 THEN 'red' ELSE 'green' END AS dependency_health,
           CASE WHEN count(b.blocked_key) FILTER (WHERE b.blocker_late) > 0 THEN
                    format('{} open blocker{} from other projects {} late: {}.',
                           count(b.blocked_key) FILTER (WHERE b.blocker_late),
                           CASE WHEN count(b.blocked_key) FILTER (WHERE b.blocker_late) = 1 THEN '' ELSE 's' END,
                           CASE WHEN count(b.blocked_key) FILTER (WHERE b.blocker_late) = 1 THEN 'is' ELSE 'are' END,
                           string_agg(format('{} (late, in {}: {} was due {}) blocks {}', b.blocker_key,
                                             b.blocker_project_name, b.blocker_milestone,
                                             strftime(b.blocker_due, '%Y-%m-%d'), b.blocked_key), '; '
                                      ORDER BY b.blocker_key, b.blocked_key) FILTER (WHERE b.blocker_late))
                WHEN count(b.blocked_key) > 0 THEN
                    format('{} open blocker{} from other projects, none late: {}.', count(b.blocked_key),
                           CASE WHEN count(b.blocked_key) = 1 THEN '' ELSE 's' END,
                           string_agg(format('{} blocks {}', b.blocker_key, b.blocked_key), '; '
                                      ORDER BY b.blocker_key, b.blocked_key))
                ELSE 'No open blockers from other projects.'
           END AS dependency_reason
    FROM core.projects p
    LEFT JOIN blockers b ON b.site = p.site AND b.project_key = p.project_key
    GROUP BY p.site, p.project_key
),
counts AS (
    SELECT site, project_key, count(*) AS items,
           count(*) FILTER (WHERE status_category = 'done') AS items_done,
           count(*) FILTER (WHERE status_category = 'in_progress') AS items_in_progress,
           count(*) FILTER (WHERE status_category = 'todo') AS items_todo
    FROM core.work_items WHERE item_type <> 'epic' GROUP BY site, project_key
),
rank AS (SELECT * FROM (VALUES ('red', 4), ('amber', 3), ('unknown', 2), ('green', 1)) AS r(health, severity)),
freshness AS (  -- the latest attempt per project, and the last one that succeeded
    SELECT site, project_key,
           arg_max(status, finished_at) = 'failed' AS stale,
           arg_max(error, finished_at) AS sync_error,
           arg_max(started_at, finished_at) AS attempted_at,
           max(finished_at) FILTER (WHERE status = 'succeeded') AS last_synced_at
    FROM meta.source_syncs GROUP BY site, project_key
),
stale_reason AS (
    SELECT site, project_key, sync_error, last_synced_at,
           CASE WHEN last_synced_at IS NULL THEN format('Never synced: the sync failed: {}', sync_error)
                ELSE format('Stale: last synced {} before the latest sync, which failed ({}); the other figures '
                            || 'are as of {} UTC.',
                            CASE WHEN date_diff('hour', last_synced_at, attempted_at) >= 48
                                     THEN date_diff('day', last_synced_at, attempted_at) || ' days'
                                 WHEN date_diff('minute', last_synced_at, attempted_at) >= 120
                                     THEN date_diff('hour', last_synced_at, attempted_at) || ' hours'
                                 ELSE greatest(date_diff('minute', last_synced_at, attempted_at), 0) || ' minutes' END,
                            sync_error, strftime(last_synced_at, '%Y-%m-%d %H:%M')) END AS reason
    FROM freshness WHERE stale
),
verdicts AS (
    SELECT p.program_id, p.site, p.project_key, p.project_name, p.source,
           s.schedule_health, s.schedule_reason, s.scope_health, s.scope_reason,
           d.dependency_health, d.dependency_reason,
           s.milestone_name, s.milestone_due, s.pct_done, s.pct_time, s.open_added_30d,
           d.open_cross_project_blockers, d.late_cross_project_blockers,
           coalesce(c.items, 0) AS items, coalesce(c.items_done, 0) AS items_done,
           coalesce(c.items_in_progress, 0) AS items_in_progress, coalesce(c.items_todo, 0) AS items_todo
    FROM core.projects p
    JOIN schedule_verdict s ON s.site = p.site AND s.project_key = p.project_key
    JOIN dependency_verdict d ON d.site = p.site AND d.project_key = p.project_key
    LEFT JOIN counts c ON c.site = p.site AND c.project_key = p.project_key
),
dimensions AS (
    SELECT v.site, v.project_key, dim.name, dim.health, dim.reason, r.severity
    FROM verdicts v,
         LATERAL (VALUES ('schedule', v.schedule_health, v.schedule_reason),
                         ('dependencies', v.dependency_health, v.dependency_reason),
                         ('scope', v.scope_health, v.scope_reason)) AS dim(name, health, reason)
    JOIN rank r ON r.health = dim.health
),
rolled AS (  -- the reasons that decide the verdict; when nothing is red or amber, every reason
    SELECT site, project_key, max(severity) AS severity,
           list(reason ORDER BY severity DESC, name) FILTER (WHERE health IN ('red', 'amber')) AS deciding_reasons,
           list(reason ORDER BY name) FILTER (WHERE reason IS NOT NULL) AS all_reasons
    FROM dimensions GROUP BY site, project_key
)
SELECT v.program_id, v.site, v.project_key, v.project_name, v.source,
       (SELECT as_of FROM params) AS as_of,
       CASE WHEN st.reason IS NOT NULL THEN 'unknown' ELSE (SELECT health FROM rank WHERE severity = r.severity) END AS health,
       CASE WHEN st.reason IS NOT NULL THEN [st.reason] ELSE [] END
           || coalesce(r.deciding_reasons, r.all_reasons) AS reasons,
       st.reason IS NOT NULL AS stale, coalesce(st.last_synced_at, f.last_synced_at) AS last_synced_at,
       st.sync_error,
       v.schedule_health, v.dependency_health, v.scope_health,
       v.milestone_name, v.milestone_due, round(v.pct_done, 4) AS pct_done, round(v.pct_time, 4) AS pct_time_elapsed,
       v.open_cross_project_blockers, v.late_cross_project_blockers, v.open_added_30d AS milestone_open_added_30d,
       v.items, v.items_done, v.items_in_progress, v.items_todo
FROM verdicts v JOIN rolled r ON r.site = v.site AND r.project_key = v.project_key
LEFT JOIN freshness f ON f.site = v.site AND f.project_key = v.project_key
LEFT JOIN stale_reason st ON st.site = v.site AND st.project_key = v.project_key;

COMMENT ON TABLE marts.project_health IS 'One row per project: health (green, amber, red, unknown) with plain-sentence reasons, per dimension and rolled up (worst dimension wins). Recomputed from core at each run.';
COMMENT ON COLUMN marts.project_health.program_id IS 'Program of the project.';
COMMENT ON COLUMN marts.project_health.site IS 'Tracker site name from program.yaml.';
COMMENT ON COLUMN marts.project_health.project_key IS 'Jira project key or GitHub owner/name.';
COMMENT ON COLUMN marts.project_health.project_name IS 'Project name (core.projects).';
COMMENT ON COLUMN marts.project_health.source IS 'jira or github.';
COMMENT ON COLUMN marts.project_health.as_of IS 'The instant the verdict describes (UTC).';
COMMENT ON COLUMN marts.project_health.health IS 'Worst of the dimension verdicts, in the order red, amber, unknown, green: unknown is never shown as green; unknown when the project is stale (its latest sync failed).';
COMMENT ON COLUMN marts.project_health.reasons IS 'Sentences with their numbers and keys: the red and amber dimensions'' reasons, or every reason when all is green; a stale project''s first reason says how old its data is and why its latest sync failed.';
COMMENT ON COLUMN marts.project_health.stale IS 'True when the project''s latest sync failed: its figures are those of its last good sync, and health is unknown.';
COMMENT ON COLUMN marts.project_health.last_synced_at IS 'When the project last synced successfully (UTC, meta.source_syncs); null if never.';
COMMENT ON COLUMN marts.project_health.sync_error IS 'For a stale project, the error its latest sync failed with (never contains credentials).';
COMMENT ON COLUMN marts.project_health.schedule_health IS 'Current milestone past due with open work: red; expected minus actual percent complete over 20 points: red, over 10: amber; no dated milestone: unknown.';
COMMENT ON COLUMN marts.project_health.dependency_health IS 'Red when an open blocker from another project is late (its own milestone is past due), else green.';
COMMENT ON COLUMN marts.project_health.scope_health IS 'Amber when over 30% of the current milestone''s open items were added in the last 30 days.';
COMMENT ON COLUMN marts.project_health.milestone_name IS 'Current milestone: the open, dated milestone with work that is due soonest (overdue first).';
COMMENT ON COLUMN marts.project_health.milestone_due IS 'Its due date.';
COMMENT ON COLUMN marts.project_health.pct_done IS 'Share of the current milestone''s items (epics excluded) that are done, 0 to 1.';
COMMENT ON COLUMN marts.project_health.pct_time_elapsed IS 'Share of the time from the milestone''s start (or its first item''s creation) to its due date that has passed at as_of, 0 to 1.';
COMMENT ON COLUMN marts.project_health.open_cross_project_blockers IS 'Open dependencies where an item of this project is blocked by an item of another project.';
COMMENT ON COLUMN marts.project_health.late_cross_project_blockers IS 'Of those, the ones whose blocker''s milestone is past due.';
COMMENT ON COLUMN marts.project_health.milestone_open_added_30d IS 'Open items of the current milestone created in the 30 days before as_of.';
COMMENT ON COLUMN marts.project_health.items IS 'Work items of the project, epics excluded.';
COMMENT ON COLUMN marts.project_health.items_done IS 'Of items, status category done.';
COMMENT ON COLUMN marts.project_health.items_in_progress IS 'Of items, status category in_progress.';
COMMENT ON COLUMN marts.project_health.items_todo IS 'Of items, status category todo.';
