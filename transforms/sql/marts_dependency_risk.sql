-- marts.dependency_risk: every open dependency with what its blocker's dates and forecast mean for the
-- work it blocks. A blocker is judged against the blocked work's due date (the item's own, else its
-- milestone's): late when the blocker's date has passed, wrong order when it is due or forecast (P85)
-- after the blocked work is due, unscheduled when it has no date at all (an unknown risk, never fine),
-- stale when the blocker has not changed for meta.metric_settings.stale_days, and in a cycle when the
-- blocked item, through open dependencies, blocks its own blocker (members listed).
CREATE OR REPLACE TABLE marts.dependency_risk AS
WITH params AS (SELECT getvariable('as_of')::TIMESTAMPTZ AS as_of, getvariable('as_of')::TIMESTAMPTZ::DATE AS today,
                       (SELECT stale_days FROM meta.metric_settings) AS stale_days),
open_deps AS (
    SELECT d.*, row_number() OVER (ORDER BY d.blocker_item_id, d.blocked_item_id) AS dependency_no
    FROM core.dependencies d WHERE d.is_open
),
-- Cycles: an open dependency is in a cycle when its blocked item reaches its blocker again. Only
-- items that both block and are blocked can be on one, so the closure runs over those alone.
inner_nodes AS (
    SELECT blocker_item_id AS item_id FROM open_deps INTERSECT SELECT blocked_item_id FROM open_deps
),
inner_edges AS (
    SELECT DISTINCT blocker_item_id AS src, blocked_item_id AS dst FROM open_deps
    WHERE blocker_item_id IN (SELECT item_id FROM inner_nodes) AND blocked_item_id IN (SELECT item_id FROM inner_nodes)
),
reach AS (
    WITH RECURSIVE walk(src, dst) AS (
        SELECT src, dst FROM inner_edges
        UNION
        SELECT w.src, e.dst FROM walk w JOIN inner_edges e ON e.src = w.dst
    ) SELECT * FROM walk
),
cycle_members AS (  -- an item on a cycle, and its cycle: the smallest item id it shares one with
    SELECT a.src AS item_id, min(a.dst) AS cycle_id
    FROM reach a JOIN reach b ON b.src = a.dst AND b.dst = a.src
    GROUP BY a.src
),
cycles AS (
    SELECT c.cycle_id, count(*) AS members,
           string_agg(coalesce(w.key, c.item_id), ', ' ORDER BY coalesce(w.key, c.item_id)) AS member_keys
    FROM cycle_members c LEFT JOIN core.work_items w USING (item_id)
    GROUP BY c.cycle_id
),
milestone_forecast AS (
    SELECT milestone_id, p85_date, status AS forecast_status FROM marts.forecasts WHERE level = 'milestone'
),
pieces AS (  -- core.item_history cuts one blocked spell wherever the blocker's status changes
    SELECT item_id, value_id, valid_from, valid_to,
           coalesce(valid_from > lag(valid_to) OVER (PARTITION BY item_id, value_id ORDER BY valid_from), true) AS starts
    FROM core.item_history WHERE field = 'blocked' AND valid_from < coalesce(valid_to, 'infinity'::TIMESTAMPTZ)
),
blocked_since AS (  -- where the open spell of this blocker on this item began, its pieces joined
    SELECT item_id, value_id AS blocker_item_id, max(valid_from) FILTER (WHERE starts) AS since
    FROM pieces GROUP BY item_id, value_id
    HAVING bool_or(valid_to IS NULL)
),
facts AS (
    SELECT d.dependency_no, b.program_id, d.blocked_item_id, d.blocked_key, d.blocked_project_key,
           b.status AS blocked_status, bm.milestone_id AS blocked_milestone_id, bm.name AS blocked_milestone,
           coalesce(b.due_date, bm.due_date) AS blocked_due_date,
           d.blocker_item_id, d.blocker_key, d.blocker_project_key, a.program_id AS blocker_program_id,
           a.item_id IS NOT NULL AS blocker_synced, a.status AS blocker_status,
           d.blocker_status_category, am.milestone_id AS blocker_milestone_id, am.name AS blocker_milestone,
           a.due_date AS blocker_item_due_date, am.due_date AS blocker_milestone_due_date,
           coalesce(a.due_date, am.due_date) AS blocker_due_date, af.p85_date AS blocker_p85_date,
           af.forecast_status AS blocker_forecast_status,
           CASE WHEN NOT d.cross_project THEN 'in_project' WHEN d.cross_program THEN 'cross_program'
                ELSE 'cross_project' END AS reach, d.cross_tracker, d.source, d.link_type,
           coalesce(s.since, greatest(a.created_at, b.created_at), b.created_at) AS blocked_since,
           a.updated_at AS blocker_updated_at,
           cy.cycle_id, cy.members AS cycle_size, cy.member_keys AS cycle_member_keys
    FROM open_deps d
    JOIN core.work_items b ON b.item_id = d.blocked_item_id
    LEFT JOIN core.milestones bm ON bm.milestone_id = b.milestone_id
    LEFT JOIN core.work_items a ON a.item_id = d.blocker_item_id
    LEFT JOIN core.milestones am ON am.milestone_id = a.milestone_id
    LEFT JOIN milestone_forecast af ON af.milestone_id = a.milestone_id
    LEFT JOIN blocked_since s ON s.item_id = d.blocked_item_id AND s.blocker_item_id = d.blocker_item_id
    LEFT JOIN cycle_members cb ON cb.item_id = d.blocked_item_id
    LEFT JOIN cycle_members ca ON ca.item_id = d.blocker_item_id
    LEFT JOIN cycles cy ON cy.cycle_id = cb.cycle_id AND cb.cycle_id = ca.cycle_id
),
judged AS (
    SELECT f.*,
           f.blocker_due_date < p.today AS is_late,
           f.blocked_due_date IS NOT NULL
               AND (f.blocker_due_date > f.blocked_due_date
                    -- the forecast of the blocked work's own milestone is the forecast dimension's business
                    OR (f.blocker_p85_date > f.blocked_due_date
                        AND f.blocker_milestone_id IS DISTINCT FROM f.blocked_milestone_id)) AS is_wrong_order,
           f.blocker_due_date IS NULL AS is_unscheduled,
           f.blocker_synced AND f.blocker_updated_at < p.as_of - to_days(p.stale_days) AS is_stale,
           f.cycle_id IS NOT NULL AS in_cycle,
           date_diff('day', f.blocked_since, p.as_of) AS blocked_age_days,
           date_diff('day', f.blocker_updated_at, p.as_of) AS blocker_idle_days,
           date_diff('day', p.today, f.blocked_due_date) AS days_to_blocked_due,
           p.as_of, p.stale_days
    FROM facts f, params p
)
SELECT j.as_of, j.program_id, j.blocked_project_key, j.blocked_key, j.blocked_item_id, j.blocked_status,
       j.blocked_milestone_id, j.blocked_milestone, j.blocked_due_date, j.days_to_blocked_due,
       j.blocker_program_id, j.blocker_project_key, j.blocker_key, j.blocker_item_id, j.blocker_synced,
       j.blocker_status, j.blocker_status_category, j.blocker_milestone_id, j.blocker_milestone,
       j.blocker_due_date, j.blocker_p85_date, j.blocker_forecast_status,
       j.reach, j.cross_tracker, j.source, j.link_type, j.blocked_since, j.blocked_age_days,
       j.blocker_updated_at, j.blocker_idle_days,
       coalesce(j.is_late, false) AS is_late, coalesce(j.is_wrong_order, false) AS is_wrong_order,
       j.is_unscheduled, coalesce(j.is_stale, false) AS is_stale, j.in_cycle, j.cycle_id, j.cycle_size,
       j.cycle_member_keys,
       CASE WHEN j.is_late OR j.is_wrong_order OR j.in_cycle THEN 'red'
            WHEN j.is_unscheduled OR j.is_stale THEN 'amber' ELSE 'green' END AS risk,
       -- the sentence a reader acts on: what the blocker is, then what it holds back and how soon
       format('{} ({}) blocks {}{}{}.',
              j.blocker_key,
              concat_ws('; ',
                  CASE WHEN j.in_cycle THEN format('in a dependency cycle of {}: {}', j.cycle_size, j.cycle_member_keys) END,
                  CASE WHEN j.is_late THEN format('late: {} was due {}',
                           coalesce(CASE WHEN j.blocker_item_due_date IS NOT NULL THEN 'it' END, j.blocker_milestone),
                           strftime(j.blocker_due_date, '%Y-%m-%d')) END,
                  CASE WHEN j.is_wrong_order AND NOT coalesce(j.is_late, false) THEN
                       CASE WHEN j.blocker_due_date > j.blocked_due_date
                            THEN format('wrong order: due {}{}', strftime(j.blocker_due_date, '%Y-%m-%d'),
                                        CASE WHEN j.blocker_milestone IS NOT NULL AND j.blocker_item_due_date IS NULL
                                             THEN ' with ' || j.blocker_milestone ELSE '' END)
                            ELSE format('wrong order: {} forecast {} at P85', j.blocker_milestone,
                                        strftime(j.blocker_p85_date, '%Y-%m-%d')) END END,
                  CASE WHEN NOT j.blocker_synced THEN 'not in a synced project: no date, unknown risk'
                       WHEN j.is_unscheduled THEN 'unscheduled: no milestone or due date, unknown risk' END,
                  CASE WHEN j.is_stale THEN format('no change for {} days', j.blocker_idle_days) END,
                  CASE WHEN NOT (coalesce(j.is_late, false) OR coalesce(j.is_wrong_order, false) OR j.in_cycle
                                 OR j.is_unscheduled OR coalesce(j.is_stale, false))
                       THEN format('{}due {}', coalesce(j.blocker_milestone || ', ', ''),
                                   strftime(j.blocker_due_date, '%Y-%m-%d')) END),
              j.blocked_key,
              CASE WHEN j.blocked_milestone IS NOT NULL THEN ' in ' || j.blocked_milestone ELSE '' END,
              CASE WHEN j.blocked_due_date IS NULL THEN ', which has no due date'
                   WHEN j.days_to_blocked_due < 0 THEN format(', due {}, {} days ago',
                        strftime(j.blocked_due_date, '%Y-%m-%d'), -j.days_to_blocked_due)
                   ELSE format(', due {}, {} day{} away', strftime(j.blocked_due_date, '%Y-%m-%d'),
                        j.days_to_blocked_due, CASE WHEN j.days_to_blocked_due = 1 THEN '' ELSE 's' END) END
       ) AS reason
FROM judged j;

COMMENT ON TABLE marts.dependency_risk IS 'One row per open dependency (core.dependencies.is_open: neither end done), in-project, cross-project, cross-program or cross-tracker: the blocker''s due date and P85 forecast against the blocked work''s due date, with the risk they mean (METRICS.md "Health"; issue #14). Rebuilt at each run as of as_of.';
COMMENT ON COLUMN marts.dependency_risk.as_of IS 'The instant the risk describes (UTC).';
COMMENT ON COLUMN marts.dependency_risk.program_id IS 'Program of the blocked item.';
COMMENT ON COLUMN marts.dependency_risk.blocked_project_key IS 'Project of the blocked item.';
COMMENT ON COLUMN marts.dependency_risk.blocked_key IS 'Key of the blocked item, e.g. CART-90.';
COMMENT ON COLUMN marts.dependency_risk.blocked_item_id IS 'core.work_items.item_id of the blocked item.';
COMMENT ON COLUMN marts.dependency_risk.blocked_status IS 'Status of the blocked item.';
COMMENT ON COLUMN marts.dependency_risk.blocked_milestone_id IS 'Milestone of the blocked item (core.work_items.milestone_id); null when it has none.';
COMMENT ON COLUMN marts.dependency_risk.blocked_milestone IS 'Its name, e.g. CART 3.0.';
COMMENT ON COLUMN marts.dependency_risk.blocked_due_date IS 'When the blocked work is due: the item''s own due date, else its milestone''s; null when neither is set.';
COMMENT ON COLUMN marts.dependency_risk.days_to_blocked_due IS 'blocked_due_date minus the as_of date in days (negative: overdue).';
COMMENT ON COLUMN marts.dependency_risk.blocker_program_id IS 'Program of the blocker; null when the blocker is not synced.';
COMMENT ON COLUMN marts.dependency_risk.blocker_project_key IS 'Project of the blocker.';
COMMENT ON COLUMN marts.dependency_risk.blocker_key IS 'Key of the blocker, e.g. ID-133.';
COMMENT ON COLUMN marts.dependency_risk.blocker_item_id IS 'core.work_items.item_id of the blocker (may be outside the synced projects).';
COMMENT ON COLUMN marts.dependency_risk.blocker_synced IS 'True when the blocker is a work item of a configured project; false: nothing is known of its dates (unknown risk).';
COMMENT ON COLUMN marts.dependency_risk.blocker_status IS 'Status of the blocker; null when not synced.';
COMMENT ON COLUMN marts.dependency_risk.blocker_status_category IS 'todo or in_progress (open dependencies only); null when not synced.';
COMMENT ON COLUMN marts.dependency_risk.blocker_milestone_id IS 'Milestone of the blocker; null when it has none.';
COMMENT ON COLUMN marts.dependency_risk.blocker_milestone IS 'Its name, e.g. ID 2.0.';
COMMENT ON COLUMN marts.dependency_risk.blocker_due_date IS 'When the blocker is due: its own due date, else its milestone''s; null when it has neither (unscheduled).';
COMMENT ON COLUMN marts.dependency_risk.blocker_p85_date IS 'P85 completion forecast of the blocker''s milestone (marts.forecasts); null without a milestone or a forecast.';
COMMENT ON COLUMN marts.dependency_risk.blocker_forecast_status IS 'marts.forecasts.status of the blocker''s milestone (forecast, insufficient data, ...); null without one.';
COMMENT ON COLUMN marts.dependency_risk.reach IS 'in_project, cross_project (another project of the same program) or cross_program (another program, or a blocker outside the synced projects).';
COMMENT ON COLUMN marts.dependency_risk.cross_tracker IS 'True when the two items live on different tracker sites.';
COMMENT ON COLUMN marts.dependency_risk.source IS 'Where the dependency was read (core.dependencies.source: jira, github, remote_link, text).';
COMMENT ON COLUMN marts.dependency_risk.link_type IS 'Link type or phrase (core.dependencies.link_type).';
COMMENT ON COLUMN marts.dependency_risk.blocked_since IS 'Start of the blocked spell (core.item_history field blocked): the Jira link''s changelog time, else the later creation of the two items.';
COMMENT ON COLUMN marts.dependency_risk.blocked_age_days IS 'Whole days from blocked_since to as_of (METRICS.md "Blocked").';
COMMENT ON COLUMN marts.dependency_risk.blocker_updated_at IS 'When the blocker last changed (core.work_items.updated_at).';
COMMENT ON COLUMN marts.dependency_risk.blocker_idle_days IS 'Whole days since the blocker last changed.';
COMMENT ON COLUMN marts.dependency_risk.is_late IS 'The blocker is overdue: its due date (own, else its milestone''s) is before the as_of date and it is not done.';
COMMENT ON COLUMN marts.dependency_risk.is_wrong_order IS 'The blocker is due, or its milestone forecast at P85, after the blocked work''s due date: it cannot land in time as planned. The forecast counts only when the blocker''s milestone is another one than the blocked item''s (a milestone late on its own is marts.health''s forecast dimension).';
COMMENT ON COLUMN marts.dependency_risk.is_unscheduled IS 'The blocker has no due date and no dated milestone (or is not synced): it can never be late, so its risk is unknown, never fine.';
COMMENT ON COLUMN marts.dependency_risk.is_stale IS 'The blocker has not changed for meta.metric_settings.stale_days days (default 14).';
COMMENT ON COLUMN marts.dependency_risk.in_cycle IS 'Both items are on one dependency cycle: through open dependencies the blocked item blocks its own blocker, so neither can finish as linked.';
COMMENT ON COLUMN marts.dependency_risk.cycle_id IS 'The cycle: the smallest item_id among its members; null when not in a cycle.';
COMMENT ON COLUMN marts.dependency_risk.cycle_size IS 'Number of items on the cycle.';
COMMENT ON COLUMN marts.dependency_risk.cycle_member_keys IS 'Keys of the items on the cycle, comma-separated in key order.';
COMMENT ON COLUMN marts.dependency_risk.risk IS 'red (late, wrong order or in a cycle), amber (unscheduled or stale) or green.';
COMMENT ON COLUMN marts.dependency_risk.reason IS 'The dependency as a sentence with its keys, dates and consequence, e.g. ID-133 (late: ID 2.0 was due 2026-11-12) blocks CART-90 in CART 3.0, due 2026-12-15, 12 days away.';
