-- marts.health_reasons: why each open milestone, project and program is red, amber, green or unknown,
-- one sentence per row so a BI tool lists them without unnest. For every target and dimension one
-- summary row carries the dimension's verdict; risky dependencies add a row each; a row with
-- dimension 'critical_path' carries the worst verdict among the milestones that decide the target's
-- finish (marts.critical_path); a row with dimension 'overall' carries the rolled-up verdict
-- (marts.health pivots these rows). Thresholds: meta.health_thresholds (program.yaml health:).
--
-- Roll-up (issue #14): red if a dimension on the critical path (forecast, schedule, dependencies, or
-- a milestone the finish waits for) is red, or two dimensions are red; amber if one is red elsewhere,
-- two are amber, or a critical one is amber; unknown when nothing is red or amber but something is
-- unknown (a missing forecast is not counted where the schedule is known: the schedule decides); a
-- project whose latest sync failed, and what it feeds, is unknown. Unknown is never shown as green.
CREATE OR REPLACE TABLE marts.health_reasons AS
WITH params AS (SELECT getvariable('as_of')::TIMESTAMPTZ AS as_of, getvariable('as_of')::TIMESTAMPTZ::DATE AS today),
rank AS (SELECT * FROM (VALUES ('red', 4), ('amber', 3), ('unknown', 2), ('green', 1)) AS r(verdict, severity)),
reading_order AS (  -- within one verdict, what decides the finish first
    SELECT * FROM (VALUES ('overall', 0), ('critical_path', 1), ('forecast', 2), ('schedule', 3), ('dependencies', 4),
                          ('slip', 5), ('scope', 6), ('blocked_stale', 7), ('aging_wip', 8), ('people', 9),
                          ('signals', 10), ('freshness', 11)) AS o(dimension, position)
),
forecast_targets AS (
    SELECT f.*, CASE f.level WHEN 'milestone' THEN f.milestone_id
                             WHEN 'project' THEN 'project:' || f.program_id || '|' || f.project_key
                             ELSE 'program:' || f.program_id END AS target_id
    FROM marts.forecasts f
),
targets AS (  -- what gets a verdict: open milestones, every project, every program
    SELECT 'milestone' AS level, p.program_id, p.project_key, p.milestone_id, p.name, p.due_date,
           p.milestone_id AS target_id
    FROM marts.progress p WHERE p.level = 'milestone' AND p.state = 'open'
    UNION ALL
    SELECT 'project', p.program_id, p.project_key, NULL, p.project_name, f.due_date,
           'project:' || p.program_id || '|' || p.project_key
    FROM core.projects p LEFT JOIN forecast_targets f ON f.target_id = 'project:' || p.program_id || '|' || p.project_key
    UNION ALL
    SELECT 'program', g.program_id, NULL, NULL, g.name, f.due_date, 'program:' || g.program_id
    FROM core.programs g LEFT JOIN forecast_targets f ON f.target_id = 'program:' || g.program_id
    UNION ALL  -- program milestones of program.yaml: milestones with no project of their own
    SELECT 'milestone', pm.program_id, NULL, pm.milestone_id, pm.name, pm.due_date, pm.milestone_id
    FROM meta.program_milestones pm
),
program_milestone_members AS (  -- the open milestones a program milestone's items are in
    SELECT DISTINCT i.milestone_id AS target_id, h.value_id AS member_id
    FROM core.program_milestone_items i
    JOIN core.item_history h ON h.item_id = i.item_id AND h.field = 'milestone' AND h.valid_to IS NULL
    JOIN marts.progress p ON p.level = 'milestone' AND p.state = 'open' AND p.milestone_id = h.value_id
),
th AS (SELECT * FROM meta.health_thresholds),
members AS (  -- open work items (epics excluded) of each target
    SELECT t.target_id, h.item_id
    FROM targets t JOIN core.item_history h ON h.field = 'milestone' AND h.valid_to IS NULL AND h.value_id = t.milestone_id
    WHERE t.level = 'milestone'
    UNION ALL
    SELECT milestone_id, item_id FROM core.program_milestone_items
    UNION ALL
    SELECT 'project:' || w.program_id || '|' || w.project_key, w.item_id FROM core.work_items w
    UNION ALL
    SELECT 'program:' || w.program_id, w.item_id FROM core.work_items w
),
item_facts AS (  -- per open item: how long blocked now, how long untouched while in progress, WIP age
    SELECT f.item_id, f.key, f.project_key, f.is_wip, f.age_days, f.project_p85_cycle_days, fl.cycle_time_p95_days,
           f.is_flagged, coalesce(w.at_risk, false) AS at_risk, b.blocked_days_now,
           CASE WHEN f.is_wip THEN date_diff('day', f.updated_at, (SELECT as_of FROM params)) END AS idle_days
    FROM marts.item_flow f
    JOIN core.work_items w USING (item_id)
    LEFT JOIN marts.flow fl ON fl.level = 'project' AND fl.program_id = f.program_id AND fl.project_key = f.project_key
    LEFT JOIN (SELECT blocked_item_id AS item_id, max(blocked_age_days) AS blocked_days_now
               FROM marts.dependency_risk GROUP BY ALL) b USING (item_id)
    WHERE f.status_category <> 'done' AND f.item_type <> 'epic'
),
target_items AS (SELECT m.target_id, i.* FROM members m JOIN item_facts i USING (item_id)),

-- forecast: P(on time) of the target's completion forecast (marts.forecasts)
forecast_dim AS (
    SELECT t.target_id, 'forecast' AS dimension,
           CASE WHEN f.status = 'done' THEN 'green'
                WHEN f.target_id IS NULL OR f.status <> 'forecast' OR f.p_on_time IS NULL THEN 'unknown'
                WHEN f.p_on_time > th.forecast_green_above THEN 'green'
                WHEN f.p_on_time > th.forecast_red_at_or_below THEN 'amber' ELSE 'red' END AS verdict,
           CASE WHEN f.target_id IS NULL THEN format('{}: no open milestone to forecast; the schedule decides.', t.name)
                WHEN f.status = 'done' THEN format('{}: nothing left to do.', t.name)
                WHEN f.status <> 'forecast' THEN format('{}: no forecast ({}{}); the schedule decides.', t.name, f.status,
                                                        coalesce(': ' || f.note, ''))
                WHEN f.due_date IS NULL THEN format('{} has no due date to forecast against (P85 {}).', t.name,
                                                    coalesce(strftime(f.p85_date, '%Y-%m-%d'), 'beyond the horizon'))
                ELSE format('{}: {}% chance of finishing by {} (P50 {}, P85 {}{}).', t.name,
                            round(100 * f.p_on_time)::INT, strftime(f.due_date, '%Y-%m-%d'),
                            coalesce(strftime(f.p50_date, '%Y-%m-%d'), 'beyond the horizon'),
                            coalesce(strftime(f.p85_date, '%Y-%m-%d'), 'beyond the horizon'),
                            CASE WHEN f.p85_date > f.due_date
                                 THEN format(', {} days after the due date', date_diff('day', f.due_date, f.p85_date))
                                 ELSE '' END) END AS sentence,
           NULL::VARCHAR AS keys, f.p_on_time AS figure, 'p_on_time' AS figure_name
    FROM targets t JOIN th USING (program_id) LEFT JOIN forecast_targets f USING (target_id)
),

-- schedule: expected (share of time elapsed) minus actual (share of items done) percent complete
milestone_schedule AS (
    SELECT t.target_id, t.program_id, t.project_key, t.name, t.due_date, p.progress_by_count AS pct_done,
           p.open_items, p.scope_items, p.done_items,
           greatest(0.0, least(1.0,
               date_diff('second', coalesce(m.start_date::TIMESTAMPTZ, m.first_item_created_at), (SELECT as_of FROM params))
               / nullif(date_diff('second', coalesce(m.start_date::TIMESTAMPTZ, m.first_item_created_at), t.due_date::TIMESTAMPTZ), 0)
           )) AS pct_time,
           date_diff('day', t.due_date, (SELECT today FROM params)) AS days_past_due
    FROM targets t
    JOIN marts.progress p ON p.level = 'milestone' AND p.milestone_id = t.milestone_id
    JOIN core.milestones m ON m.milestone_id = t.milestone_id
    WHERE t.level = 'milestone'
),
milestone_schedule_dim AS (
    SELECT s.target_id, 'schedule' AS dimension,
           CASE WHEN s.due_date IS NULL OR s.scope_items = 0 THEN 'unknown'
                WHEN s.days_past_due > 0 AND s.open_items > 0 THEN 'red'
                WHEN round(100 * (s.pct_time - coalesce(s.pct_done, 0)), 4) > th.schedule_red_points THEN 'red'
                WHEN round(100 * (s.pct_time - coalesce(s.pct_done, 0)), 4) >= th.schedule_amber_points THEN 'amber'
                ELSE 'green' END AS verdict,
           CASE WHEN s.due_date IS NULL THEN format('{} has no due date: schedule unknown.', s.name)
                WHEN s.scope_items = 0 THEN format('{} has no items: schedule unknown.', s.name)
                WHEN s.days_past_due > 0 AND s.open_items > 0 THEN
                    format('{} was due {} ({} days ago) and still has {} of {} items open.', s.name,
                           strftime(s.due_date, '%Y-%m-%d'), s.days_past_due, s.open_items, s.scope_items)
                ELSE format('{} is {}% done at {}% of its time to {} ({} of {} items done).', s.name,
                            round(100 * coalesce(s.pct_done, 0))::INT, round(100 * s.pct_time)::INT,
                            strftime(s.due_date, '%Y-%m-%d'), s.done_items, s.scope_items) END AS sentence,
           NULL::VARCHAR AS keys, round(100 * (s.pct_time - coalesce(s.pct_done, 0)), 1) AS figure,
           'points_behind' AS figure_name, s.program_id, s.project_key, s.due_date
    FROM milestone_schedule s JOIN th USING (program_id)
),
current_milestone AS (  -- a project's current milestone: its open, dated milestone with open work due soonest
    SELECT * FROM (
        SELECT d.*, row_number() OVER (PARTITION BY d.program_id, d.project_key ORDER BY d.due_date, d.target_id) AS rn
        FROM milestone_schedule_dim d JOIN milestone_schedule s USING (target_id)
        WHERE s.due_date IS NOT NULL AND s.open_items > 0
    ) WHERE rn = 1
),
project_schedule_dim AS (
    SELECT t.target_id, 'schedule' AS dimension, coalesce(c.verdict, 'unknown') AS verdict,
           coalesce('Current milestone ' || c.sentence, 'No open milestone with a due date and open work: schedule unknown.') AS sentence,
           NULL::VARCHAR AS keys, c.figure, 'points_behind' AS figure_name
    FROM targets t LEFT JOIN current_milestone c ON c.program_id = t.program_id AND c.project_key = t.project_key
    WHERE t.level = 'project'
),
program_schedule_dim AS (  -- the program's worst project schedule speaks for it
    SELECT 'program:' || t.program_id AS target_id, 'schedule' AS dimension,
           arg_max(p.verdict, r.severity * 1000 + coalesce(p.figure, 0)) AS verdict,
           format('{} of {} projects behind schedule; worst: {}', count(*) FILTER (WHERE p.verdict IN ('red', 'amber')), count(*),
                  arg_min(t.name || ': ' || p.sentence, (-(r.severity * 1000 + coalesce(p.figure, 0)), t.name || ': ' || p.sentence))
                      FILTER (WHERE r.severity IS NOT NULL)) AS sentence,
           NULL::VARCHAR AS keys, max(p.figure) AS figure, 'points_behind' AS figure_name
    FROM targets t JOIN project_schedule_dim p USING (target_id) JOIN rank r USING (verdict)
    GROUP BY t.program_id
),

-- dependencies: the open dependencies whose blocked item is in the target (marts.dependency_risk)
target_dependencies AS (  -- an open dependency counts where its blocked item is (every fix version)
    SELECT m.target_id, d.* FROM members m JOIN marts.dependency_risk d ON d.blocked_item_id = m.item_id
),
dependencies_dim AS (
    SELECT t.target_id, 'dependencies' AS dimension,
           CASE WHEN count(d.blocked_key) FILTER (WHERE d.risk = 'red') > 0 THEN 'red'
                WHEN count(d.blocked_key) FILTER (WHERE d.risk = 'amber') > 0 THEN 'amber' ELSE 'green' END AS verdict,
           CASE WHEN count(d.blocked_key) = 0 THEN 'No open dependencies hold this work up.'
                ELSE format('{} open dependenc{} hold{} this work up: {} late, {} in the wrong order, {} in a cycle, {} unscheduled, {} stale.',
                            count(d.blocked_key), CASE WHEN count(d.blocked_key) = 1 THEN 'y' ELSE 'ies' END,
                            CASE WHEN count(d.blocked_key) = 1 THEN 's' ELSE '' END,
                            count(*) FILTER (WHERE d.is_late), count(*) FILTER (WHERE d.is_wrong_order AND NOT d.is_late),
                            count(*) FILTER (WHERE d.in_cycle), count(*) FILTER (WHERE d.is_unscheduled),
                            count(*) FILTER (WHERE d.is_stale)) END AS sentence,
           NULL::VARCHAR AS keys, count(d.blocked_key) FILTER (WHERE d.risk = 'red')::DOUBLE AS figure,
           'red_dependencies' AS figure_name
    FROM targets t LEFT JOIN target_dependencies d USING (target_id)
    GROUP BY t.target_id
),
dependency_details AS (  -- each red or amber dependency, as its own reason
    SELECT target_id, 'dependencies' AS dimension, risk AS verdict, reason AS sentence,
           blocker_key || ', ' || blocked_key AS keys, blocked_age_days::DOUBLE AS figure, 'blocked_age_days' AS figure_name
    FROM target_dependencies WHERE risk <> 'green'
),

-- blocked and stale: open items blocked now, or in progress and untouched, for days
blocked_stale_dim AS (
    SELECT t.target_id, 'blocked_stale' AS dimension,
           CASE WHEN count(i.item_id) FILTER (WHERE greatest(i.blocked_days_now, i.idle_days) >= th.blocked_red_days) > 0 THEN 'red'
                WHEN count(i.item_id) FILTER (WHERE greatest(i.blocked_days_now, i.idle_days) >= th.blocked_amber_days) > 0 THEN 'amber'
                ELSE 'green' END AS verdict,
           CASE WHEN count(i.item_id) FILTER (WHERE greatest(i.blocked_days_now, i.idle_days) >= th.blocked_amber_days) = 0
                THEN format('No open item blocked, or in progress untouched, for {} days or more.', any_value(th.blocked_amber_days))
                ELSE format('{} open item{} blocked or untouched for {}+ days ({} for {}+ days): {}.',
                            count(i.item_id) FILTER (WHERE greatest(i.blocked_days_now, i.idle_days) >= th.blocked_amber_days),
                            CASE WHEN count(i.item_id) FILTER (WHERE greatest(i.blocked_days_now, i.idle_days) >= th.blocked_amber_days) = 1
                                 THEN '' ELSE 's' END,
                            any_value(th.blocked_amber_days),
                            count(i.item_id) FILTER (WHERE greatest(i.blocked_days_now, i.idle_days) >= th.blocked_red_days),
                            any_value(th.blocked_red_days),
                            array_to_string(list(i.key || CASE WHEN i.blocked_days_now >= coalesce(i.idle_days, -1)
                                                               THEN ' blocked ' || i.blocked_days_now || ' days'
                                                               ELSE ' untouched ' || i.idle_days || ' days' END
                                                 ORDER BY greatest(i.blocked_days_now, i.idle_days) DESC, i.key)
                                            FILTER (WHERE greatest(i.blocked_days_now, i.idle_days) >= th.blocked_amber_days)[1:5], ', ')
                            || CASE WHEN count(i.item_id) FILTER (WHERE greatest(i.blocked_days_now, i.idle_days) >= th.blocked_amber_days) > 5
                                    THEN ', ...' ELSE '' END) END AS sentence,
           array_to_string(list(i.key ORDER BY greatest(i.blocked_days_now, i.idle_days) DESC, i.key)
                           FILTER (WHERE greatest(i.blocked_days_now, i.idle_days) >= th.blocked_amber_days)[1:5], ', ') AS keys,
           max(greatest(i.blocked_days_now, i.idle_days))::DOUBLE AS figure, 'longest_days' AS figure_name
    FROM targets t JOIN th USING (program_id) LEFT JOIN target_items i USING (target_id)
    GROUP BY t.target_id, th.blocked_amber_days, th.blocked_red_days
),

-- aging WIP: items in progress older than their project's P85 / P95 cycle time (marts.item_flow, marts.flow)
aging_wip_dim AS (
    SELECT t.target_id, 'aging_wip' AS dimension,
           CASE WHEN count(i.item_id) FILTER (WHERE i.is_wip) = 0 THEN 'green'
                WHEN count(i.item_id) FILTER (WHERE i.is_wip AND i.project_p85_cycle_days IS NOT NULL) = 0 THEN 'unknown'
                WHEN count(i.item_id) FILTER (WHERE i.is_wip AND i.age_days > i.project_p85_cycle_days)
                     > any_value(th.aging_red_share) * count(i.item_id) FILTER (WHERE i.is_wip) THEN 'red'
                WHEN count(i.item_id) FILTER (WHERE i.is_wip AND i.age_days > i.cycle_time_p95_days) > 0 THEN 'amber'
                ELSE 'green' END AS verdict,
           CASE WHEN count(i.item_id) FILTER (WHERE i.is_wip) = 0 THEN 'No work in progress.'
                WHEN count(i.item_id) FILTER (WHERE i.is_wip AND i.project_p85_cycle_days IS NOT NULL) = 0
                    THEN format('{} items in progress, but no cycle times in the window to age them against.',
                                count(i.item_id) FILTER (WHERE i.is_wip))
                ELSE format('{} of {} items in progress ({}%) are older than their project''s P85 cycle time, {} older than the P95{}.',
                            count(i.item_id) FILTER (WHERE i.is_wip AND i.age_days > i.project_p85_cycle_days),
                            count(i.item_id) FILTER (WHERE i.is_wip),
                            round(100.0 * count(i.item_id) FILTER (WHERE i.is_wip AND i.age_days > i.project_p85_cycle_days)
                                  / count(i.item_id) FILTER (WHERE i.is_wip))::INT,
                            count(i.item_id) FILTER (WHERE i.is_wip AND i.age_days > i.cycle_time_p95_days),
                            coalesce(': ' || array_to_string(list(i.key || ' ' || round(i.age_days)::INT || ' days'
                                                                  ORDER BY i.age_days DESC, i.key)
                                                             FILTER (WHERE i.is_wip AND i.age_days > i.cycle_time_p95_days)[1:5], ', '), ''))
           END AS sentence,
           array_to_string(list(i.key ORDER BY i.age_days DESC, i.key)
                           FILTER (WHERE i.is_wip AND i.age_days > i.project_p85_cycle_days)[1:5], ', ') AS keys,
           round(count(i.item_id) FILTER (WHERE i.is_wip AND i.age_days > i.project_p85_cycle_days)
                 / nullif(count(i.item_id) FILTER (WHERE i.is_wip), 0), 4) AS figure, 'share_over_p85' AS figure_name
    FROM targets t JOIN th USING (program_id) LEFT JOIN target_items i USING (target_id)
    GROUP BY t.target_id
),

-- scope: additions over the window (marts.burnup: moved in or created in counts as added)
burnup_target AS (
    SELECT CASE b.level WHEN 'milestone' THEN b.milestone_id
                        WHEN 'project' THEN 'project:' || b.program_id || '|' || b.project_key
                        ELSE 'program:' || b.program_id END AS target_id, b.*
    FROM marts.burnup b
),
scope_figures AS (
    SELECT t.target_id, t.name, t.due_date, any_value(th.scope_window_days) AS window_days,
           any_value(th.scope_amber_share) AS amber_share, any_value(th.scope_red_days_to_due) AS red_days_to_due,
           coalesce(sum(b.scope_added_items) FILTER (WHERE b.day > (SELECT today FROM params) - to_days(th.scope_window_days)), 0) AS added,
           coalesce(sum(b.scope_added_items - b.scope_removed_items) FILTER (WHERE b.day > (SELECT today FROM params) - INTERVAL 14 DAY), 0) AS net_added_14d,
           arg_max(b.scope_items - b.done_items, b.day) AS open_now,
           date_diff('day', (SELECT today FROM params), t.due_date) AS days_to_due
    FROM targets t JOIN th USING (program_id) LEFT JOIN burnup_target b USING (target_id)
    GROUP BY t.target_id, t.name, t.due_date, th.scope_window_days
),
scope_dim AS (
    SELECT target_id, 'scope' AS dimension,
           CASE WHEN open_now IS NULL THEN 'unknown'
                WHEN open_now = 0 THEN 'green'
                WHEN days_to_due <= red_days_to_due AND net_added_14d > 0 THEN 'red'
                WHEN added > amber_share * open_now THEN 'amber' ELSE 'green' END AS verdict,
           CASE WHEN open_now IS NULL THEN format('{}: no burn-up to read scope from.', name)
                ELSE format('{}: {} items added in the last {} days, {}% of its {} open items; {} net added in the last 14 days{}.',
                            name, added, window_days, round(100.0 * added / nullif(open_now, 0))::INT, open_now, net_added_14d,
                            CASE WHEN days_to_due IS NULL THEN ''
                                 WHEN days_to_due < 0 THEN format(', {} days past its due date', -days_to_due)
                                 ELSE format(', {} days before its due date', days_to_due) END) END AS sentence,
           NULL::VARCHAR AS keys, round(added / nullif(open_now, 0), 4) AS figure, 'added_share' AS figure_name
    FROM scope_figures
),

-- a program milestone's schedule and scope: those of its worst open member milestone
program_milestone_dims AS (
    SELECT pm.milestone_id AS target_id, dim.dimension,
           coalesce(arg_max(d.verdict, r.severity * 1000000 + coalesce(d.figure, 0)), 'unknown') AS verdict,
           coalesce(format('{} of {} member milestones {}; worst: {}',
                           count(d.target_id) FILTER (WHERE d.verdict IN ('red', 'amber')), count(d.target_id),
                           CASE dim.dimension WHEN 'schedule' THEN 'behind schedule' ELSE 'with scope growing' END,
                           arg_min(d.sentence, (-(r.severity * 1000000 + coalesce(d.figure, 0)), d.sentence))
                               FILTER (WHERE r.severity IS NOT NULL)),
                    format('{}: no open member milestone to judge its {} by.', any_value(pm.name), dim.dimension)) AS sentence,
           NULL::VARCHAR AS keys, max(d.figure) AS figure,
           CASE dim.dimension WHEN 'schedule' THEN 'points_behind' ELSE 'added_share' END AS figure_name
    FROM meta.program_milestones pm
    CROSS JOIN (VALUES ('schedule'), ('scope')) AS dim(dimension)
    LEFT JOIN program_milestone_members m ON m.target_id = pm.milestone_id
    LEFT JOIN (SELECT target_id, dimension, verdict, sentence, figure FROM milestone_schedule_dim
               UNION ALL SELECT target_id, dimension, verdict, sentence, figure FROM scope_dim) d
           ON d.target_id = m.member_id AND d.dimension = dim.dimension
    LEFT JOIN rank r ON r.verdict = d.verdict
    GROUP BY pm.milestone_id, dim.dimension
),

-- slip: due dates moved since the baseline (marts.milestone_slips); a project or program is its worst open milestone.
-- Where several are worst alike, the sentence names the first of them by its text (here and in the
-- schedule roll-ups): arg_max alone would pick any, and a rebuild could name another. A row of no
-- known verdict is passed over, as arg_max passes over a null score.
slips AS (
    SELECT s.*, greatest(date_diff('day', coalesce(s.start_date, s.tracker_created_at::DATE, s.first_seen_at::DATE),
                                   s.baseline_due_date), 1) AS planned_days
    FROM marts.milestone_slips s WHERE s.state = 'open' AND s.kind IN ('milestone', 'version', 'program')
),
slip_judged AS (
    SELECT s.*, CASE WHEN coalesce(s.slip_days, 0) = 0 AND coalesce(s.due_date_moves, 0) = 0 THEN 'green'
                     WHEN s.due_date_moves >= th.slip_red_moves OR s.slip_days > th.slip_amber_share * s.planned_days THEN 'red'
                     ELSE 'amber' END AS verdict,
           format('{} {}: {} due-date move{}, due {} against a baseline of {} ({}{} days, {}% of its planned {} days).',
                  CASE s.kind WHEN 'program' THEN 'Program milestone' ELSE 'Milestone' END, s.name,
                  coalesce(s.due_date_moves, 0), CASE WHEN s.due_date_moves = 1 THEN '' ELSE 's' END,
                  coalesce(strftime(s.due_date, '%Y-%m-%d'), 'none'), coalesce(strftime(s.baseline_due_date, '%Y-%m-%d'), 'none'),
                  CASE WHEN s.slip_days > 0 THEN '+' ELSE '' END, coalesce(s.slip_days, 0),
                  round(100.0 * coalesce(s.slip_days, 0) / s.planned_days)::INT, s.planned_days) AS sentence
    FROM slips s JOIN th USING (program_id)
),
target_slips AS (
    SELECT t.target_id, j.* FROM targets t JOIN slip_judged j ON j.milestone_id = t.milestone_id WHERE t.level = 'milestone'
    UNION ALL
    SELECT 'project:' || j.program_id || '|' || j.project_key, j.* FROM slip_judged j WHERE j.kind IN ('milestone', 'version')
    UNION ALL
    SELECT 'program:' || j.program_id, j.* FROM slip_judged j
),
slip_dim AS (
    SELECT t.target_id, 'slip' AS dimension,
           coalesce(arg_max(s.verdict, r.severity * 100000 + coalesce(s.slip_days, 0)), 'unknown') AS verdict,
           coalesce(CASE WHEN count(s.milestone_id) > 1
                         THEN format('{} of {} open milestones slipped; worst: ', count(*) FILTER (WHERE s.verdict <> 'green'),
                                     count(s.milestone_id)) ELSE '' END
                    || arg_min(s.sentence, (-(r.severity * 100000 + coalesce(s.slip_days, 0)), s.sentence))
                       FILTER (WHERE r.severity IS NOT NULL),
                    'No open milestone with a due date history: slip unknown.') AS sentence,
           NULL::VARCHAR AS keys, max(s.slip_days)::DOUBLE AS figure, 'slip_days' AS figure_name
    FROM targets t LEFT JOIN target_slips s USING (target_id) LEFT JOIN rank r ON r.verdict = s.verdict
    GROUP BY t.target_id
),

-- people: someone with work in progress here is split across too many projects (marts.resource_conflicts,
-- meta.people_settings.conflict_min_projects: program.yaml people.resource_conflicts.min_projects)
target_people AS (
    SELECT DISTINCT m.target_id, c.person_id, c.person_name, c.wip_projects, c.projects, c.wip_items, c.over_wip_limit
    FROM members m JOIN marts.resource_conflict_items i USING (item_id) JOIN marts.resource_conflicts c USING (person_id)
),
people_dim AS (
    SELECT t.target_id, 'people' AS dimension,
           CASE WHEN count(p.person_id) FILTER (WHERE p.wip_projects >= ps.conflict_min_projects) > 0 THEN 'amber' ELSE 'green' END AS verdict,
           CASE WHEN count(p.person_id) FILTER (WHERE p.wip_projects >= ps.conflict_min_projects) > 0
                THEN format('{} {} work in progress here and in {} or more projects: {}.',
                            count(p.person_id) FILTER (WHERE p.wip_projects >= ps.conflict_min_projects),
                            CASE WHEN count(p.person_id) FILTER (WHERE p.wip_projects >= ps.conflict_min_projects) = 1 THEN 'person has' ELSE 'people have' END,
                            ps.conflict_min_projects,
                            string_agg(p.person_name || ' (' || p.projects || ')', '; ' ORDER BY p.wip_projects DESC, p.person_name, p.person_id)
                                FILTER (WHERE p.wip_projects >= ps.conflict_min_projects))
                ELSE format('Nobody working here has work in progress in {} or more projects{}.', ps.conflict_min_projects,
                            CASE WHEN count(p.person_id) FILTER (WHERE p.over_wip_limit) > 0
                                 THEN format(' ({} over their WIP limit: {})', count(p.person_id) FILTER (WHERE p.over_wip_limit),
                                             string_agg(p.person_name || ' ' || p.wip_items, ', ' ORDER BY p.wip_items DESC, p.person_name, p.person_id)
                                                 FILTER (WHERE p.over_wip_limit))
                                 ELSE '' END) END AS sentence,
           string_agg(p.person_id, ', ' ORDER BY p.person_id) FILTER (WHERE p.wip_projects >= ps.conflict_min_projects) AS keys,
           count(p.person_id) FILTER (WHERE p.wip_projects >= ps.conflict_min_projects)::DOUBLE AS figure,
           'split_people' AS figure_name
    FROM targets t CROSS JOIN meta.people_settings ps LEFT JOIN target_people p USING (target_id)
    GROUP BY t.target_id, ps.conflict_min_projects
),

-- signals: open items flagged, or labelled at risk (the label rule), speak for themselves
signals_dim AS (
    SELECT t.target_id, 'signals' AS dimension,
           CASE WHEN count(i.item_id) FILTER (WHERE i.is_flagged OR i.at_risk) > 0 THEN 'amber' ELSE 'green' END AS verdict,
           CASE WHEN count(i.item_id) FILTER (WHERE i.is_flagged OR i.at_risk) = 0 THEN 'No open item is flagged or labelled at risk.'
                ELSE format('{} open item{} flagged or labelled at risk: {}{}.', count(i.item_id) FILTER (WHERE i.is_flagged OR i.at_risk),
                            CASE WHEN count(i.item_id) FILTER (WHERE i.is_flagged OR i.at_risk) = 1 THEN '' ELSE 's' END,
                            array_to_string(list(i.key ORDER BY i.key) FILTER (WHERE i.is_flagged OR i.at_risk)[1:5], ', '),
                            CASE WHEN count(i.item_id) FILTER (WHERE i.is_flagged OR i.at_risk) > 5 THEN ', ...' ELSE '' END) END AS sentence,
           array_to_string(list(i.key ORDER BY i.key) FILTER (WHERE i.is_flagged OR i.at_risk)[1:5], ', ') AS keys,
           count(i.item_id) FILTER (WHERE i.is_flagged OR i.at_risk)::DOUBLE AS figure, 'signalled_items' AS figure_name
    FROM targets t LEFT JOIN target_items i USING (target_id)
    GROUP BY t.target_id
),

-- freshness: a project whose latest sync failed has data as old as its last good sync
freshness AS (
    SELECT site, project_key, arg_max(status, finished_at) = 'failed' AS stale, arg_max(error, finished_at) AS sync_error,
           arg_max(started_at, finished_at) AS attempted_at,
           max(finished_at) FILTER (WHERE status = 'succeeded') AS last_synced_at
    FROM meta.source_syncs GROUP BY site, project_key
),
stale_projects AS (
    SELECT p.program_id, p.project_key,
           CASE WHEN f.last_synced_at IS NULL THEN format('Never synced: the sync of {} failed: {}', p.project_key, f.sync_error)
                ELSE format('Stale: last synced {} before the latest sync of {}, which failed ({}); the other figures '
                            || 'are as of {} UTC.',
                            CASE WHEN date_diff('hour', f.last_synced_at, f.attempted_at) >= 48
                                     THEN date_diff('day', f.last_synced_at, f.attempted_at) || ' days'
                                 WHEN date_diff('minute', f.last_synced_at, f.attempted_at) >= 120
                                     THEN date_diff('hour', f.last_synced_at, f.attempted_at) || ' hours'
                                 ELSE greatest(date_diff('minute', f.last_synced_at, f.attempted_at), 0) || ' minutes' END,
                            p.project_key, f.sync_error, strftime(f.last_synced_at, '%Y-%m-%d %H:%M')) END AS sentence
    FROM core.projects p JOIN freshness f ON f.site = p.site AND f.project_key = p.project_key WHERE f.stale
),
freshness_dim AS (
    SELECT t.target_id, 'freshness' AS dimension,
           CASE WHEN count(s.project_key) > 0 THEN 'unknown' ELSE 'green' END AS verdict,
           coalesce(string_agg(s.sentence, ' ' ORDER BY s.project_key), 'Every project''s latest sync succeeded.') AS sentence,
           string_agg(s.project_key, ', ' ORDER BY s.project_key) AS keys,
           count(s.project_key)::DOUBLE AS figure, 'stale_projects' AS figure_name
    FROM targets t LEFT JOIN stale_projects s ON s.program_id = t.program_id
        AND (t.project_key IS NULL OR s.project_key = t.project_key)  -- a program (milestone): any of its projects
    GROUP BY t.target_id
),

dims AS (
    SELECT target_id, dimension, verdict, sentence, keys, figure, figure_name FROM forecast_dim
    UNION ALL SELECT target_id, dimension, verdict, sentence, keys, figure, figure_name FROM milestone_schedule_dim
    UNION ALL SELECT * FROM project_schedule_dim
    UNION ALL SELECT * FROM program_schedule_dim
    UNION ALL SELECT * FROM dependencies_dim
    UNION ALL SELECT * FROM blocked_stale_dim
    UNION ALL SELECT * FROM aging_wip_dim
    UNION ALL SELECT * FROM scope_dim WHERE target_id NOT IN (SELECT milestone_id FROM meta.program_milestones)
    UNION ALL SELECT * FROM program_milestone_dims
    UNION ALL SELECT * FROM signals_dim
    UNION ALL SELECT * FROM slip_dim
    UNION ALL SELECT * FROM people_dim
    UNION ALL SELECT * FROM freshness_dim
),
own AS (  -- the target's own verdict from its dimensions (before its critical path is looked at)
    SELECT d.target_id,
           count(*) FILTER (WHERE d.verdict = 'red') AS reds,
           count(*) FILTER (WHERE d.verdict = 'amber') AS ambers,
           max(r.severity) FILTER (WHERE d.dimension IN ('forecast', 'schedule', 'dependencies')) AS critical_severity,
           count(*) FILTER (WHERE d.verdict = 'unknown' AND d.dimension NOT IN ('forecast', 'freshness')) AS unknowns,
           bool_or(d.dimension = 'forecast' AND d.verdict = 'unknown') AS no_forecast,
           bool_or(d.dimension = 'schedule' AND d.verdict = 'unknown') AS no_schedule,
           bool_or(d.dimension = 'freshness' AND d.verdict = 'unknown') AS stale
    FROM dims d JOIN rank r USING (verdict)
    GROUP BY d.target_id
),
own_verdict AS (
    SELECT target_id, stale,
           CASE WHEN critical_severity = 4 OR reds >= 2 THEN 4
                WHEN reds = 1 OR ambers >= 2 OR critical_severity = 3 THEN 3
                WHEN unknowns > 0 OR (no_forecast AND no_schedule) THEN 2
                ELSE 1 END AS severity
    FROM own
),
path AS (  -- the milestones that decide the target's finish, and the worst own verdict among them
    SELECT t.target_id, max(v.severity) AS severity,
           arg_max(c.step_name, v.severity * 100 - c.step) AS worst_step,
           string_agg(c.step_name, ' <- ' ORDER BY c.step) AS chain,
           any_value(c.path_days) AS path_days, any_value(c.p85_date) AS p85_date
    FROM targets t
    JOIN marts.critical_path c ON c.program_id = t.program_id AND c.level = t.level
        AND c.project_key IS NOT DISTINCT FROM t.project_key AND c.milestone_id IS NOT DISTINCT FROM t.milestone_id
    JOIN own_verdict v ON v.target_id = c.step_milestone_id
    WHERE c.step >= 1 AND c.step_level = 'milestone'
    GROUP BY t.target_id
),
path_dim AS (
    SELECT p.target_id, 'critical_path' AS dimension, r.verdict,
           format('Its finish ({}) waits on {}: {} is {} on its own.',
                  coalesce(format('P85 {}, {} days away', strftime(p.p85_date, '%Y-%m-%d'), p.path_days), 'no forecast date'),
                  p.chain, p.worst_step, r.verdict) AS sentence,
           NULL::VARCHAR AS keys, p.path_days::DOUBLE AS figure, 'path_days' AS figure_name
    FROM path p JOIN rank r ON r.severity = p.severity
),
overall AS (
    SELECT t.target_id,
           CASE WHEN o.stale THEN 'unknown'
                ELSE (SELECT verdict FROM rank WHERE severity = greatest(o.severity, coalesce(p.severity, 1))) END AS verdict
    FROM targets t JOIN own_verdict o USING (target_id) LEFT JOIN path p USING (target_id)
),
overall_dim AS (
    SELECT o.target_id, 'overall' AS dimension, o.verdict,
           format('{} is {}{}.', t.name, o.verdict,
                  coalesce(': ' || string_agg(CASE WHEN d.verdict IN ('red', 'amber') THEN d.dimension || ' ' || d.verdict END, ', '
                                              ORDER BY r.severity DESC, ro.position), '')) AS sentence,
           NULL::VARCHAR AS keys, NULL::DOUBLE AS figure, NULL::VARCHAR AS figure_name
    FROM overall o JOIN targets t USING (target_id)
    JOIN (SELECT * FROM dims UNION ALL SELECT * FROM path_dim) d USING (target_id) JOIN rank r ON r.verdict = d.verdict
    JOIN reading_order ro ON ro.dimension = d.dimension
    GROUP BY o.target_id, o.verdict, t.name
),
all_rows AS (
    SELECT *, true AS is_summary FROM overall_dim
    UNION ALL SELECT *, true FROM path_dim
    UNION ALL SELECT *, true FROM dims
    UNION ALL SELECT *, false FROM dependency_details
)
SELECT (SELECT as_of FROM params) AS as_of, t.level, t.program_id, t.project_key, t.milestone_id, t.name AS target_name,
       a.dimension, a.verdict, r.severity, a.is_summary,
       row_number() OVER (PARTITION BY t.target_id
                          ORDER BY a.dimension <> 'overall', r.severity DESC, o.position, a.is_summary DESC,
                                   a.figure DESC NULLS LAST, a.keys)::INTEGER AS reason_rank,
       coalesce(a.sentence, format('{}: {} is {}.', t.name, a.dimension, a.verdict)) AS sentence,
       a.keys, a.figure, a.figure_name
FROM all_rows a JOIN targets t USING (target_id) JOIN rank r ON r.verdict = a.verdict
JOIN reading_order o ON o.dimension = a.dimension;

COMMENT ON TABLE marts.health_reasons IS 'Why each open milestone, project and program has its health: one row per reason, a sentence with its numbers and keys, so BI tools list them without unnest. Per target: a summary row per dimension (forecast, schedule, slip, dependencies, blocked_stale, aging_wip, scope, people, signals, freshness) with its verdict; a row per red or amber dependency; a critical_path row when milestones decide its finish; an overall row with the rolled-up verdict (marts.health). Thresholds: meta.health_thresholds (program.yaml health:). Every verdict that is not green has at least one row.';
COMMENT ON COLUMN marts.health_reasons.as_of IS 'The instant the reasons describe (UTC).';
COMMENT ON COLUMN marts.health_reasons.level IS 'milestone, project or program.';
COMMENT ON COLUMN marts.health_reasons.program_id IS 'Program id from program.yaml.';
COMMENT ON COLUMN marts.health_reasons.project_key IS 'Project; null for a program.';
COMMENT ON COLUMN marts.health_reasons.milestone_id IS 'Milestone; null for a project or program.';
COMMENT ON COLUMN marts.health_reasons.target_name IS 'Name of the milestone, project or program.';
COMMENT ON COLUMN marts.health_reasons.dimension IS 'overall, critical_path, forecast, schedule, slip, dependencies, blocked_stale, aging_wip, scope, people, signals or freshness.';
COMMENT ON COLUMN marts.health_reasons.verdict IS 'green, amber, red or unknown: the dimension''s verdict (summary rows) or the single dependency''s risk (detail rows).';
COMMENT ON COLUMN marts.health_reasons.severity IS '4 red, 3 amber, 2 unknown, 1 green: sort by it.';
COMMENT ON COLUMN marts.health_reasons.is_summary IS 'True for the one row per target and dimension that carries the dimension''s verdict; false for detail rows (one per red or amber dependency).';
COMMENT ON COLUMN marts.health_reasons.reason_rank IS 'Reading order within the target: 1 is the overall verdict, then worst first.';
COMMENT ON COLUMN marts.health_reasons.sentence IS 'The reason as a sentence with its numbers, keys and consequence.';
COMMENT ON COLUMN marts.health_reasons.keys IS 'Item keys (or person ids, project keys) the sentence names, comma-separated; null when none.';
COMMENT ON COLUMN marts.health_reasons.figure IS 'The number the verdict rests on (see figure_name).';
COMMENT ON COLUMN marts.health_reasons.figure_name IS 'What figure is: p_on_time (0-1), points_behind, slip_days, red_dependencies, blocked_age_days, longest_days, share_over_p85 (0-1), added_share (0-1), split_people, signalled_items, stale_projects or path_days.';
