-- marts.throughput: items done per ISO week per project and program, over the last
-- meta.metric_settings.throughput_weeks full weeks before as_of's week, weeks with zero included
-- (METRICS.md "Throughput"). What the forecasts draw from.
CREATE OR REPLACE TABLE marts.throughput AS
WITH settings AS (SELECT * FROM meta.metric_settings),
weeks AS (  -- full ISO weeks (Monday) before the week as_of falls in
    SELECT CAST(g.week AS DATE) AS week_start
    FROM settings,
    LATERAL generate_series(
        CAST(date_trunc('week', timezone('UTC', getvariable('as_of'))) AS TIMESTAMP) - to_weeks(throughput_weeks),
        CAST(date_trunc('week', timezone('UTC', getvariable('as_of'))) AS TIMESTAMP) - INTERVAL 7 DAY,
        INTERVAL 7 DAY) AS g(week)
),
done AS (
    SELECT program_id, project_key, CAST(date_trunc('week', timezone('UTC', done_at)) AS DATE) AS week_start
    FROM marts.item_flow
    WHERE done_at IS NOT NULL AND NOT discarded
),
levels AS (
    SELECT 'project' AS level, program_id, project_key FROM core.projects
    UNION ALL
    SELECT 'program', program_id, NULL FROM core.programs
)
SELECT l.level, l.program_id, l.project_key, w.week_start,
       CAST(count(d.week_start) AS INTEGER) AS done_items
FROM levels l CROSS JOIN weeks w
LEFT JOIN done d ON d.week_start = w.week_start AND d.program_id = l.program_id
                AND (l.level = 'program' OR d.project_key = l.project_key)
GROUP BY ALL;

COMMENT ON TABLE marts.throughput IS 'Weekly throughput (METRICS.md "Throughput"): items reaching done (the last entry into done, not discarded, epics left out) per ISO week, per project and program, over the last meta.metric_settings.throughput_weeks full weeks before as_of''s week (default 12), weeks with zero included. The forecasts (marts.forecasts) draw weeks from these.';
COMMENT ON COLUMN marts.throughput.level IS 'project or program.';
COMMENT ON COLUMN marts.throughput.program_id IS 'core.programs.program_id.';
COMMENT ON COLUMN marts.throughput.project_key IS 'Jira project key or GitHub owner/name; null on program rows.';
COMMENT ON COLUMN marts.throughput.week_start IS 'Monday of the ISO week (UTC).';
COMMENT ON COLUMN marts.throughput.done_items IS 'Items whose done_at (marts.item_flow) falls in the week; 0 for a week without any.';
