-- marts.flow: flow figures per project and program as of as_of (METRICS.md "Flow"): cycle and
-- lead time percentiles over the window, throughput, WIP, aging, blocked, flagged and stale work.
CREATE OR REPLACE TABLE marts.flow AS
WITH settings AS (SELECT * FROM meta.metric_settings),
items AS (
    SELECT 'project' AS level, program_id, project_key, * EXCLUDE (program_id, project_key) FROM marts.item_flow
    UNION ALL
    SELECT 'program', program_id, NULL, * EXCLUDE (program_id, project_key) FROM marts.item_flow
),
figures AS (
    SELECT level, program_id, project_key,
           count(*) FILTER (WHERE done_in_window)                                     AS done_in_window,
           count(cycle_time_days) FILTER (WHERE done_in_window)                       AS cycle_timed_items,
           quantile_cont(cycle_time_days, [0.5, 0.85, 0.95]) FILTER (WHERE done_in_window) AS cycle,
           quantile_cont(lead_time_days, [0.5, 0.85, 0.95]) FILTER (WHERE done_in_window)  AS lead,
           count(*) FILTER (WHERE is_wip)                                             AS wip_items,
           count(*) FILTER (WHERE is_aging)                                           AS aging_wip_items,
           count(is_aging) FILTER (WHERE is_wip)                                      AS judged_wip_items,
           max(age_days)                                                              AS oldest_wip_days,
           count(*) FILTER (WHERE is_blocked)                                         AS blocked_items,
           count(*) FILTER (WHERE is_flagged AND status_category <> 'done')           AS flagged_items,
           count(*) FILTER (WHERE is_stale)                                           AS stale_items,
           sum(blocked_days) FILTER (WHERE done_in_window)                            AS blocked_days_done
    FROM items GROUP BY ALL
),
weekly AS (
    SELECT level, program_id, project_key, avg(done_items) AS mean_weekly, count(*) AS weeks,
           count(*) FILTER (WHERE done_items > 0) AS weeks_with_done
    FROM marts.throughput GROUP BY ALL
),
levels AS (
    SELECT 'project' AS level, program_id, project_key FROM core.projects
    UNION ALL
    SELECT 'program', program_id, NULL FROM core.programs
)
SELECT l.level, l.program_id, l.project_key, getvariable('as_of') AS as_of,
       (SELECT flow_window_days FROM settings) AS window_days,
       coalesce(f.done_in_window, 0) AS done_in_window,
       -- fewer than 5 items: no percentile, not a guess
       CASE WHEN f.cycle_timed_items >= 5 THEN f.cycle[1] END AS cycle_time_p50_days,
       CASE WHEN f.cycle_timed_items >= 5 THEN f.cycle[2] END AS cycle_time_p85_days,
       CASE WHEN f.cycle_timed_items >= 5 THEN f.cycle[3] END AS cycle_time_p95_days,
       CASE WHEN f.done_in_window >= 5 THEN f.lead[1] END AS lead_time_p50_days,
       CASE WHEN f.done_in_window >= 5 THEN f.lead[2] END AS lead_time_p85_days,
       CASE WHEN f.done_in_window >= 5 THEN f.lead[3] END AS lead_time_p95_days,
       w.mean_weekly AS throughput_per_week,
       coalesce(w.weeks, 0) AS throughput_weeks,
       coalesce(w.weeks_with_done, 0) AS throughput_weeks_with_done,
       coalesce(f.wip_items, 0) AS wip_items,
       CASE WHEN f.judged_wip_items > 0 OR coalesce(f.wip_items, 0) = 0 THEN coalesce(f.aging_wip_items, 0) END AS aging_wip_items,
       f.oldest_wip_days,
       coalesce(f.blocked_items, 0) AS blocked_items,
       coalesce(f.flagged_items, 0) AS flagged_items,
       coalesce(f.stale_items, 0) AS stale_items,
       coalesce(f.blocked_days_done, 0) AS blocked_days_of_done
FROM levels l
LEFT JOIN figures f ON f.level = l.level AND f.program_id = l.program_id AND f.project_key IS NOT DISTINCT FROM l.project_key
LEFT JOIN weekly w ON w.level = l.level AND w.program_id = l.program_id AND w.project_key IS NOT DISTINCT FROM l.project_key;

COMMENT ON TABLE marts.flow IS 'Flow per project and program as of as_of (METRICS.md "Flow"): cycle and lead time P50/P85/P95 over items done in the window (linear interpolation, quantile_cont; null with fewer than 5 items), weekly throughput, WIP, aging WIP, blocked, flagged and stale items. Item detail: marts.item_flow; weeks: marts.throughput.';
COMMENT ON COLUMN marts.flow.level IS 'project or program.';
COMMENT ON COLUMN marts.flow.program_id IS 'core.programs.program_id.';
COMMENT ON COLUMN marts.flow.project_key IS 'Jira project key or GitHub owner/name; null on program rows.';
COMMENT ON COLUMN marts.flow.as_of IS 'The instant the figures describe.';
COMMENT ON COLUMN marts.flow.window_days IS 'The window of the percentiles: items done in this many days before as_of (meta.metric_settings.flow_window_days, default 90).';
COMMENT ON COLUMN marts.flow.done_in_window IS 'Items done in the window, not discarded.';
COMMENT ON COLUMN marts.flow.cycle_time_p50_days IS 'Median cycle time (done_at - started_at) of items done in the window, in days; null with fewer than 5 such items with a start.';
COMMENT ON COLUMN marts.flow.cycle_time_p85_days IS '85th percentile cycle time in days: the aging-WIP line (METRICS.md).';
COMMENT ON COLUMN marts.flow.cycle_time_p95_days IS '95th percentile cycle time in days.';
COMMENT ON COLUMN marts.flow.lead_time_p50_days IS 'Median lead time (done_at - created_at) of items done in the window, in days; null with fewer than 5 items.';
COMMENT ON COLUMN marts.flow.lead_time_p85_days IS '85th percentile lead time in days.';
COMMENT ON COLUMN marts.flow.lead_time_p95_days IS '95th percentile lead time in days.';
COMMENT ON COLUMN marts.flow.throughput_per_week IS 'Mean items done per full ISO week over marts.throughput''s weeks (zero weeks included).';
COMMENT ON COLUMN marts.flow.throughput_weeks IS 'Weeks the throughput is over (meta.metric_settings.throughput_weeks).';
COMMENT ON COLUMN marts.flow.throughput_weeks_with_done IS 'Of those weeks, the ones in which something was done: 0 means no forecast is possible.';
COMMENT ON COLUMN marts.flow.wip_items IS 'Items in progress now (METRICS.md WIP).';
COMMENT ON COLUMN marts.flow.aging_wip_items IS 'Items in progress longer than their project''s P85 cycle time (METRICS.md aging WIP), counted over the items whose project has a P85; null when items are in progress and none of their projects has one (fewer than 5 cycle times in the window): unknown, not zero.';
COMMENT ON COLUMN marts.flow.oldest_wip_days IS 'Age in days of the oldest item in progress; null when nothing is.';
COMMENT ON COLUMN marts.flow.blocked_items IS 'Items not done that have a blocker not done now.';
COMMENT ON COLUMN marts.flow.flagged_items IS 'Items not done with the Jira Flagged field set now.';
COMMENT ON COLUMN marts.flow.stale_items IS 'Items in progress not updated for meta.metric_settings.stale_days (METRICS.md stale).';
COMMENT ON COLUMN marts.flow.blocked_days_of_done IS 'Blocked days summed over the items done in the window: time lost to dependencies.';
