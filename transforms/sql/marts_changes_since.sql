-- marts.changes_since: what changed in the 7 days before as_of, one row per change, for the status
-- report's "since last week": verdicts that moved (marts.health_history), blockers that appeared or
-- went away (core.item_history blocked spells), due dates that moved (meta.milestone_snapshots),
-- items that joined or left a milestone, and items done. Freshness is left out: a stale project is
-- the sync report's news, not the week's.
CREATE OR REPLACE TABLE marts.changes_since AS
WITH params AS (SELECT getvariable('as_of')::TIMESTAMPTZ AS as_of,
                       getvariable('as_of')::TIMESTAMPTZ - INTERVAL 7 DAY AS since),
now_day AS (SELECT max(day) AS day FROM marts.health_history WHERE day <= (SELECT as_of::DATE FROM params)),
then_day AS (SELECT max(day) AS day FROM marts.health_history WHERE day <= (SELECT since::DATE FROM params)),
verdicts AS (  -- each target's overall and dimension verdicts then and now, one row per dimension
    SELECT h.day, h.target_id, h.level, h.program_id, h.project_key, h.milestone_id, h.name, d.dimension, d.verdict
    FROM marts.health_history h,
         LATERAL (VALUES ('overall', h.health), ('forecast', h.forecast_health), ('schedule', h.schedule_health),
                         ('slip', h.slip_health), ('dependencies', h.dependencies_health),
                         ('blocked_stale', h.blocked_stale_health), ('aging_wip', h.aging_wip_health),
                         ('scope', h.scope_health), ('people', h.people_health), ('signals', h.signals_health),
                         ('critical_path', h.critical_path_health)) AS d(dimension, verdict)
    WHERE h.day IN ((SELECT day FROM now_day), (SELECT day FROM then_day))
),
moved AS (
    SELECT n.level, n.program_id, n.project_key, n.milestone_id, n.name, n.dimension,
           t.verdict AS before, n.verdict AS after, t.day AS then_day
    FROM verdicts n
    JOIN verdicts t ON t.target_id = n.target_id AND t.dimension = n.dimension AND t.day = (SELECT day FROM then_day)
    WHERE n.day = (SELECT day FROM now_day) AND (SELECT day FROM then_day) < (SELECT day FROM now_day)
      AND t.verdict IS DISTINCT FROM n.verdict
),
pieces AS (  -- core.item_history cuts one blocked spell wherever the blocker's status changes
    SELECT item_id, value_id, value, valid_from, valid_to,
           coalesce(valid_from > lag(valid_to) OVER (PARTITION BY item_id, value_id ORDER BY valid_from), true) AS starts
    FROM core.item_history WHERE field = 'blocked' AND valid_from < coalesce(valid_to, 'infinity'::TIMESTAMPTZ)
),
spells AS (  -- the pieces joined back into spells: a spell starts where a piece does not follow on
    SELECT item_id, value_id, any_value(value) AS blocker_key, min(valid_from) AS valid_from,
           CASE WHEN bool_or(valid_to IS NULL) THEN NULL ELSE max(valid_to) END AS valid_to
    FROM (SELECT *, sum(starts::INT) OVER (PARTITION BY item_id, value_id ORDER BY valid_from) AS spell FROM pieces)
    GROUP BY item_id, value_id, spell
),
blocker_spells AS (
    SELECT s.item_id, s.blocker_key, s.valid_from, s.valid_to, w.key, w.program_id, w.project_key, w.milestone_id
    FROM spells s JOIN core.work_items w USING (item_id)
),
slips AS (  -- a snapshot whose due date differs from the one before it
    SELECT * FROM (
        SELECT s.*, lag(s.due_date) OVER (PARTITION BY s.milestone_id ORDER BY s.observed_at, s.recorded_at) AS due_before,
               row_number() OVER (PARTITION BY s.milestone_id ORDER BY s.observed_at, s.recorded_at) AS n
        FROM meta.milestone_snapshots s
    ) WHERE n > 1 AND due_before IS DISTINCT FROM due_date
      AND observed_at > (SELECT since FROM params) AND observed_at <= (SELECT as_of FROM params)
),
membership AS (  -- items joining or leaving a milestone in the window
    SELECT h.item_id, h.value_id AS milestone_id, h.value AS milestone, h.valid_from, h.valid_to,
           coalesce(w.key, t.key_before) AS key, coalesce(w.program_id, t.program_id) AS program_id,
           coalesce(w.project_key, t.project_before) AS project_key
    FROM core.item_history h
    LEFT JOIN core.work_items w USING (item_id)
    LEFT JOIN (SELECT * FROM core.tombstones WHERE is_last) t USING (item_id)
    WHERE h.field = 'milestone'
),
finished AS (
    SELECT t.item_id, t.changed_at, w.key, w.program_id, w.project_key, w.milestone_id, w.resolution
    FROM core.status_transitions t JOIN core.work_items w USING (item_id)
    WHERE t.to_category = 'done' AND coalesce(t.from_category, '') <> 'done'
      AND t.changed_at > (SELECT since FROM params) AND t.changed_at <= (SELECT as_of FROM params)
),
changes AS (
    SELECT level, program_id, project_key, milestone_id, name, 'verdict' AS change, dimension, NULL AS key,
           before, after, NULL::DOUBLE AS figure,
           format('{}''s {} went from {} to {} since {}.', name,
                  CASE dimension WHEN 'overall' THEN 'health' ELSE replace(dimension, '_', ' ') || ' verdict' END,
                  coalesce(before, 'none'), coalesce(after, 'none'), strftime(then_day, '%Y-%m-%d')) AS sentence
    FROM moved
    UNION ALL
    SELECT 'item', program_id, project_key, milestone_id, NULL, 'blocker_new', 'dependencies', key, NULL, blocker_key,
           NULL, format('{} became blocked by {} on {}.', key, blocker_key, strftime(valid_from, '%Y-%m-%d'))
    FROM blocker_spells
    WHERE valid_from > (SELECT since FROM params) AND valid_from <= (SELECT as_of FROM params)
    UNION ALL
    SELECT 'item', program_id, project_key, milestone_id, NULL, 'blocker_resolved', 'dependencies', key, blocker_key, NULL,
           date_diff('day', valid_from, valid_to)::DOUBLE,
           format('{} is no longer blocked by {} (since {}, after {} days).', key, blocker_key,
                  strftime(valid_to, '%Y-%m-%d'), date_diff('day', valid_from, valid_to))
    FROM blocker_spells
    WHERE valid_to > (SELECT since FROM params) AND valid_to <= (SELECT as_of FROM params)
    UNION ALL
    SELECT 'milestone', program_id, project_key, milestone_id, name, 'slip', 'slip', NULL,
           strftime(due_before, '%Y-%m-%d'), strftime(due_date, '%Y-%m-%d'),
           date_diff('day', due_before, due_date)::DOUBLE,
           format('{}''s due date moved from {} to {} ({}{} days) on {}.', name, coalesce(strftime(due_before, '%Y-%m-%d'), 'none'),
                  coalesce(strftime(due_date, '%Y-%m-%d'), 'none'),
                  CASE WHEN date_diff('day', due_before, due_date) > 0 THEN '+' ELSE '' END,
                  coalesce(date_diff('day', due_before, due_date)::VARCHAR, '?'), strftime(observed_at, '%Y-%m-%d'))
    FROM slips
    UNION ALL
    SELECT 'item', program_id, project_key, milestone_id, milestone, 'scope_added', 'scope', key, NULL, milestone, NULL,
           format('{} joined {} on {}.', key, milestone, strftime(valid_from, '%Y-%m-%d'))
    FROM membership WHERE valid_from > (SELECT since FROM params) AND valid_from <= (SELECT as_of FROM params)
    UNION ALL
    SELECT 'item', program_id, project_key, milestone_id, milestone, 'scope_removed', 'scope', key, milestone, NULL, NULL,
           format('{} left {} on {}.', key, milestone, strftime(valid_to, '%Y-%m-%d'))
    FROM membership WHERE valid_to > (SELECT since FROM params) AND valid_to <= (SELECT as_of FROM params)
    UNION ALL
    SELECT 'item', program_id, project_key, milestone_id, NULL, 'done', NULL, key, NULL, resolution, NULL,
           format('{} was done on {}{}.', key, strftime(changed_at, '%Y-%m-%d'), coalesce(' (' || resolution || ')', ''))
    FROM finished
)
SELECT (SELECT as_of FROM params) AS as_of, (SELECT since FROM params) AS since, c.*
FROM changes c;

COMMENT ON TABLE marts.changes_since IS 'What changed in the 7 days before as_of, one row per change, for the report''s "since last week": health and dimension verdicts that moved (marts.health_history, compared with the latest day on or before since), blockers that appeared or were resolved (core.item_history blocked spells), due dates that moved (meta.milestone_snapshots), items that joined or left a milestone (deleted and moved ones too), and items done.';
COMMENT ON COLUMN marts.changes_since.as_of IS 'End of the window (UTC): the build''s as_of.';
COMMENT ON COLUMN marts.changes_since.since IS 'Start of the window: as_of minus 7 days.';
COMMENT ON COLUMN marts.changes_since.level IS 'milestone, project or program for a verdict or a slip; item for what happened to one item.';
COMMENT ON COLUMN marts.changes_since.program_id IS 'Program.';
COMMENT ON COLUMN marts.changes_since.project_key IS 'Project; null for a program.';
COMMENT ON COLUMN marts.changes_since.milestone_id IS 'Milestone concerned (the item''s milestone for item rows); null when none.';
COMMENT ON COLUMN marts.changes_since.name IS 'Name of the milestone, project or program (verdicts, slips) or of the milestone joined or left.';
COMMENT ON COLUMN marts.changes_since.change IS 'verdict, blocker_new, blocker_resolved, slip, scope_added, scope_removed or done.';
COMMENT ON COLUMN marts.changes_since.dimension IS 'The health dimension the change bears on (overall for the rolled-up verdict); null for done.';
COMMENT ON COLUMN marts.changes_since.key IS 'The item''s key for item rows; null otherwise.';
COMMENT ON COLUMN marts.changes_since.before IS 'The value before: the verdict, the blocker key (resolved), the due date, the milestone left.';
COMMENT ON COLUMN marts.changes_since.after IS 'The value after: the verdict, the blocker key (new), the due date, the milestone joined, the resolution.';
COMMENT ON COLUMN marts.changes_since.figure IS 'A number where one helps: days a resolved blocker held, days a due date moved.';
COMMENT ON COLUMN marts.changes_since.sentence IS 'The change as a sentence with keys and dates.';
