-- marts.project_health: the project rows of marts.health with the reasons as a list and the figures a
-- status line needs (current milestone, blockers, item counts). The verdicts and their rules live in
-- marts.health_reasons; this table only gathers them per project, so there is one verdict, not two.
CREATE OR REPLACE TABLE marts.project_health AS
WITH params AS (SELECT getvariable('as_of')::TIMESTAMPTZ AS as_of),
health AS (SELECT * FROM marts.health WHERE level = 'project'),
reasons AS (  -- what to read: a stale project's freshness first, then the red, amber and unknown
              -- reasons worst first; when everything is green, every dimension's summary
    SELECT program_id, project_key,
           coalesce(list(sentence ORDER BY dimension <> 'freshness', reason_rank)
                        FILTER (WHERE verdict <> 'green' AND dimension NOT IN ('overall', 'critical_path')
                                AND NOT (dimension = 'forecast' AND verdict = 'unknown')),
                    list(sentence ORDER BY reason_rank) FILTER (WHERE is_summary AND dimension <> 'overall')) AS reasons
    FROM marts.health_reasons WHERE level = 'project'
    GROUP BY program_id, project_key
),
current_milestone AS (  -- the open milestone due soonest with open work (overdue ones first)
    SELECT * FROM (
        SELECT m.*, row_number() OVER (PARTITION BY m.site, m.project_key ORDER BY m.due_date, m.name) AS rn
        FROM core.milestones m
        WHERE m.state = 'open' AND m.due_date IS NOT NULL AND m.items > 0
    ) WHERE rn = 1
),
milestone_scope AS (
    SELECT w.milestone_id,
           count(*) FILTER (WHERE w.status_category <> 'done'
                              AND w.created_at >= (SELECT as_of FROM params) - INTERVAL 30 DAY) AS open_added_30d
    FROM core.work_items w WHERE w.item_type <> 'epic' GROUP BY w.milestone_id
),
blockers AS (
    SELECT program_id, blocked_project_key AS project_key, count(*) AS open_blockers,
           count(*) FILTER (WHERE is_late) AS late_blockers
    FROM marts.dependency_risk WHERE reach <> 'in_project' GROUP BY ALL
),
counts AS (
    SELECT site, project_key, count(*) AS items,
           count(*) FILTER (WHERE status_category = 'done') AS items_done,
           count(*) FILTER (WHERE status_category = 'in_progress') AS items_in_progress,
           count(*) FILTER (WHERE status_category = 'todo') AS items_todo
    FROM core.work_items WHERE item_type <> 'epic' GROUP BY site, project_key
),
freshness AS (  -- the latest attempt per project, and the last one that succeeded
    SELECT site, project_key, arg_max(status, finished_at) = 'failed' AS stale, arg_max(error, finished_at) AS sync_error,
           max(finished_at) FILTER (WHERE status = 'succeeded') AS last_synced_at
    FROM meta.source_syncs GROUP BY site, project_key
)
SELECT p.program_id, p.site, p.project_key, p.project_name, p.source, (SELECT as_of FROM params) AS as_of,
       coalesce(h.health, 'unknown') AS health, r.reasons,
       coalesce(f.stale, false) AS stale, f.last_synced_at, CASE WHEN f.stale THEN f.sync_error END AS sync_error,
       h.schedule_health, h.dependencies_health AS dependency_health, h.scope_health,
       h.forecast_health, h.slip_health, h.blocked_stale_health, h.aging_wip_health, h.people_health,
       h.signals_health, h.critical_path_health,
       m.name AS milestone_name, m.due_date AS milestone_due, round(m.done_items / m.items, 4) AS pct_done,
       round(greatest(0.0, least(1.0,
           date_diff('second', coalesce(m.start_date::TIMESTAMPTZ, m.first_item_created_at), (SELECT as_of FROM params))
           / nullif(date_diff('second', coalesce(m.start_date::TIMESTAMPTZ, m.first_item_created_at), m.due_date::TIMESTAMPTZ), 0)
       )), 4) AS pct_time_elapsed,
       coalesce(b.open_blockers, 0) AS open_cross_project_blockers, coalesce(b.late_blockers, 0) AS late_cross_project_blockers,
       s.open_added_30d AS milestone_open_added_30d,
       coalesce(c.items, 0) AS items, coalesce(c.items_done, 0) AS items_done,
       coalesce(c.items_in_progress, 0) AS items_in_progress, coalesce(c.items_todo, 0) AS items_todo
FROM core.projects p
LEFT JOIN health h ON h.program_id = p.program_id AND h.project_key = p.project_key
LEFT JOIN reasons r ON r.program_id = p.program_id AND r.project_key = p.project_key
LEFT JOIN current_milestone m ON m.site = p.site AND m.project_key = p.project_key
LEFT JOIN milestone_scope s ON s.milestone_id = m.milestone_id
LEFT JOIN blockers b ON b.program_id = p.program_id AND b.project_key = p.project_key
LEFT JOIN counts c ON c.site = p.site AND c.project_key = p.project_key
LEFT JOIN freshness f ON f.site = p.site AND f.project_key = p.project_key;

COMMENT ON TABLE marts.project_health IS 'One row per project: its health from marts.health (rules and roll-up documented on marts.health_reasons) with the reasons as a list, worst first, and the figures of its current milestone. Recomputed at each run.';
COMMENT ON COLUMN marts.project_health.program_id IS 'Program of the project.';
COMMENT ON COLUMN marts.project_health.site IS 'Tracker site name from program.yaml.';
COMMENT ON COLUMN marts.project_health.project_key IS 'Jira project key or GitHub owner/name.';
COMMENT ON COLUMN marts.project_health.project_name IS 'Project name (core.projects).';
COMMENT ON COLUMN marts.project_health.source IS 'jira or github.';
COMMENT ON COLUMN marts.project_health.as_of IS 'The instant the verdict describes (UTC).';
COMMENT ON COLUMN marts.project_health.health IS 'marts.health.health of the project: red, amber, green or unknown (unknown when stale: its latest sync failed). Never greener than its critical path.';
COMMENT ON COLUMN marts.project_health.reasons IS 'Sentences with their numbers and keys (marts.health_reasons): a stale project''s freshness first, then the red, amber and unknown reasons worst first; every dimension''s summary when all is green. The one list column of the marts: BI tools read marts.health_reasons instead.';
COMMENT ON COLUMN marts.project_health.stale IS 'True when the project''s latest sync failed: its figures are those of its last good sync, and health is unknown.';
COMMENT ON COLUMN marts.project_health.last_synced_at IS 'When the project last synced successfully (UTC, meta.source_syncs); null if never.';
COMMENT ON COLUMN marts.project_health.sync_error IS 'For a stale project, the error its latest sync failed with (never contains credentials).';
COMMENT ON COLUMN marts.project_health.schedule_health IS 'marts.health.schedule_health: the current milestone''s expected minus actual percent complete, or past due with open work.';
COMMENT ON COLUMN marts.project_health.dependency_health IS 'marts.health.dependencies_health: a late, wrong-order or cyclic blocker red; an unscheduled or stale one amber.';
COMMENT ON COLUMN marts.project_health.scope_health IS 'marts.health.scope_health: scope added in the window, or still growing near the due date.';
COMMENT ON COLUMN marts.project_health.forecast_health IS 'marts.health.forecast_health: P(on time) of the project''s forecast.';
COMMENT ON COLUMN marts.project_health.slip_health IS 'marts.health.slip_health: due-date moves of its open milestones.';
COMMENT ON COLUMN marts.project_health.blocked_stale_health IS 'marts.health.blocked_stale_health: open items blocked, or in progress untouched, for days.';
COMMENT ON COLUMN marts.project_health.aging_wip_health IS 'marts.health.aging_wip_health: work in progress older than the P85 / P95 cycle time.';
COMMENT ON COLUMN marts.project_health.people_health IS 'marts.health.people_health: people here split across too many projects.';
COMMENT ON COLUMN marts.project_health.signals_health IS 'marts.health.signals_health: open items flagged or labelled at risk.';
COMMENT ON COLUMN marts.project_health.critical_path_health IS 'marts.health.critical_path_health: the worst own verdict of the milestones its finish waits on.';
COMMENT ON COLUMN marts.project_health.milestone_name IS 'Current milestone: the open, dated milestone with work that is due soonest (overdue first).';
COMMENT ON COLUMN marts.project_health.milestone_due IS 'Its due date.';
COMMENT ON COLUMN marts.project_health.pct_done IS 'Share of the current milestone''s items (epics excluded) that are done, 0 to 1.';
COMMENT ON COLUMN marts.project_health.pct_time_elapsed IS 'Share of the time from the milestone''s start (or its first item''s creation) to its due date that has passed at as_of, 0 to 1.';
COMMENT ON COLUMN marts.project_health.open_cross_project_blockers IS 'Open dependencies where an item of this project is blocked by an item of another project (marts.dependency_risk).';
COMMENT ON COLUMN marts.project_health.late_cross_project_blockers IS 'Of those, the ones whose blocker is overdue.';
COMMENT ON COLUMN marts.project_health.milestone_open_added_30d IS 'Open items of the current milestone created in the 30 days before as_of.';
COMMENT ON COLUMN marts.project_health.items IS 'Work items of the project, epics excluded.';
COMMENT ON COLUMN marts.project_health.items_done IS 'Of items, status category done.';
COMMENT ON COLUMN marts.project_health.items_in_progress IS 'Of items, status category in_progress.';
COMMENT ON COLUMN marts.project_health.items_todo IS 'Of items, status category todo.';
