-- marts.burnup: a daily burn-up per milestone, project and program, reconstructed from field
-- history, so it exists on the first sync (METRICS.md "Burn-up"). What each item adds and takes
-- away on each day is core.burnup_events (item-scoped: a night recomputes only the items it
-- changed); here a running sum over the days on which something changed gives what was true at
-- each day's end, and each changing day's row is spread over the days until the next one
-- (unnest of a range): set-based, no per-day join of items and no join of days to changes.
--
-- Kept current from what changed (Step.incremental): a build rebuilds whole only when its
-- structure or core.burnup_events' was rebuilt; otherwise [merge] rebuilds the lines that are new
-- or whose first day moved (rebuilt(entity), _rows), drops the lines gone and the days past a line's
-- new end, appends the days as_of moved on by, and adds the changes core.burnup_events' merges
-- recorded (meta.burnup_changes) to the days from theirs on. Each event's points are DECIMAL(18, 6)
-- and their sums DECIMAL(38, 6), so adding a change gives what summing again would, to the last
-- bit of the DOUBLE the table keeps (at 1e12 points a day, a merged day can be one unit in that
-- last place apart: the merge reads the DOUBLE back as a decimal).

-- [rows]
CREATE OR REPLACE TEMP VIEW _burnup_events AS  -- core.burnup_events (pending: false) and the changes to
    -- it not applied yet (meta.burnup_changes, pending: true), each on its line: a milestone's program
    -- and project are core.milestones'; entity is the line's key, without nulls
SELECT concat_ws('|', level, program_id, project_key, milestone_id) AS entity, *
FROM (
    SELECT e.pending, e.level, coalesce(m.program_id, e.program_id) AS program_id,
           coalesce(m.project_key, e.project_key) AS project_key, e.milestone_id, e.day, e.scope, e.done,
           e.unestimated, e.wip, e.scope_points, e.done_points, e.added, e.removed
    FROM (SELECT false AS pending, level, program_id, project_key, milestone_id, day, scope, done, unestimated, wip,
                 CAST(scope_points AS DECIMAL(18, 6)) AS scope_points, CAST(done_points AS DECIMAL(18, 6)) AS done_points,
                 CAST(scope > 0 AS INTEGER) AS added, CAST(scope < 0 AS INTEGER) AS removed
          FROM core.burnup_events
          UNION ALL
          SELECT true, level, program_id, project_key, milestone_id, day, scope, done, unestimated, wip,
                 scope_points, done_points, added, removed
          FROM meta.burnup_changes) e
    LEFT JOIN core.milestones m ON e.level = 'milestone' AND m.milestone_id = e.milestone_id
    WHERE e.level <> 'milestone' OR m.milestone_id IS NOT NULL);

-- a line's days: a milestone's from its start date, else its first item's arrival, to as_of, or for
-- a released or closed one to its last change (or due date, or closing) when that is earlier; a
-- project's and a program's from their first item's creation to as_of (milestone columns null)
CREATE OR REPLACE TEMP MACRO burnup_first_day(start_date, first_event) AS coalesce(start_date, first_event);
CREATE OR REPLACE TEMP MACRO burnup_last_day(state, due_date, closed_at, last_event) AS
    CASE WHEN state IN ('released', 'closed', 'archived')
         THEN least(CAST(timezone('UTC', getvariable('as_of')) AS DATE),
                    greatest(last_event, due_date, CAST(timezone('UTC', closed_at) AS DATE)))
         ELSE CAST(timezone('UTC', getvariable('as_of')) AS DATE) END;

CREATE OR REPLACE TEMP VIEW _burnup_spans AS  -- every line's days as of now ([merge] compares them)
SELECT b.entity, b.level, b.program_id, b.project_key, b.milestone_id,
       burnup_first_day(m.start_date, b.first_event) AS first_day,
       burnup_last_day(m.state, m.due_date, m.closed_at, b.last_event) AS last_day
FROM (SELECT concat_ws('|', level, program_id, project_key, milestone_id) AS entity, *
      FROM (SELECT level, program_id, project_key, milestone_id, min(day) AS first_event, max(day) AS last_event
            FROM _burnup_events WHERE NOT pending GROUP BY level, program_id, project_key, milestone_id)) b
LEFT JOIN core.milestones m ON m.milestone_id = b.milestone_id;

CREATE OR REPLACE TEMP VIEW _rows AS  -- the rows of the lines rebuilt(entity) names (a whole build: all)
-- Two ways to the same rows, one planned per build (the other's filter on the variable is false):
-- a whole line (entity_days, whole_spans, whole_changes) or, where getvariable('burnup_days_from')
-- is set (a health-history replay: transforms/history.py), only the days the health reads
-- (recent_spans, recent_changes), whose earlier changes sum into one row per line: at 1M items
-- that sums 8.2M events into 0.4M line-days instead of 3.0M (3.1-3.6 s against 6.9-7.9).
WITH entity_days AS (  -- every item's events summed per line and day (the key made once a line-day);
    -- the counts back to 64 bits (sum widens them to 128), which the running sums below add faster;
    -- the points stay as sum gives them: a day's points of one line may pass DECIMAL(18, 6)
    SELECT * FROM (
        SELECT concat_ws('|', level, program_id, project_key, milestone_id) AS entity, * FROM (
            SELECT level, program_id, project_key, milestone_id, day,
                   CAST(sum(scope) AS BIGINT) AS scope, CAST(sum(done) AS BIGINT) AS done,
                   CAST(sum(unestimated) AS BIGINT) AS unestimated, CAST(sum(wip) AS BIGINT) AS wip,
                   sum(scope_points) AS scope_points, sum(done_points) AS done_points,
                   CAST(sum(added) AS BIGINT) AS added, CAST(sum(removed) AS BIGINT) AS removed
            FROM _burnup_events WHERE NOT pending
            GROUP BY level, program_id, project_key, milestone_id, day))
    WHERE rebuilt(entity) AND getvariable('burnup_days_from') IS NULL
),
whole_spans AS (  -- as _burnup_spans, from the days summed already; eid: a dense integer key per line,
    -- so the window below sorts integers
    SELECT *, row_number() OVER () AS eid FROM (
        SELECT d.entity, any_value(d.level) AS level, any_value(d.program_id) AS program_id,
               any_value(d.project_key) AS project_key, any_value(d.milestone_id) AS milestone_id,
               burnup_first_day(any_value(m.start_date), min(d.day)) AS first_day,
               burnup_last_day(any_value(m.state), any_value(m.due_date), any_value(m.closed_at), max(d.day)) AS last_day
        FROM entity_days d LEFT JOIN core.milestones m ON m.milestone_id = d.milestone_id
        GROUP BY d.entity)
),
whole_changes AS (  -- days before the first day fold into it (scope added and removed count only from
    -- it); every span has a row on its first day (before its first change, nothing). The days that
    -- fold, and the empty first day, come first on that day: the window below counts them into its
    -- running sums, and the day's own changes (last) carry its figures and what it added.
    SELECT s.eid, greatest(d.day, s.first_day) AS day, d.day >= s.first_day AS own,
           d.scope, d.done, d.unestimated, d.wip, d.scope_points, d.done_points,
           CASE WHEN d.day >= s.first_day THEN d.added ELSE 0 END AS added,
           CASE WHEN d.day >= s.first_day THEN d.removed ELSE 0 END AS removed
    FROM entity_days d JOIN whole_spans s USING (entity)
    WHERE d.day <= s.last_day
    UNION ALL
    SELECT eid, first_day, false, 0, 0, 0, 0, 0, 0, 0, 0 FROM whole_spans WHERE first_day <= last_day
),
recent_spans AS (  -- as whole_spans, from the events; fold_day: the first day kept, burnup_days_from
    -- (or the line's last day when that is earlier, or its first day when that is later). Not read
    -- from _burnup_spans, the same rule over the four key columns: grouped by the events' own key,
    -- which the join below needs anyway, this took 2.8-3.1 s of _rows at 1M items against 3.4-3.6 s;
    -- and _burnup_spans grouped by that key took 0.66-0.80 s alone for [merge] against 0.45-0.56 s
    SELECT *, greatest(first_day, least(getvariable('burnup_days_from'), last_day)) AS fold_day FROM (
        SELECT *, row_number() OVER () AS eid FROM (
            SELECT e.entity, any_value(e.level) AS level, any_value(e.program_id) AS program_id,
                   any_value(e.project_key) AS project_key, any_value(e.milestone_id) AS milestone_id,
                   burnup_first_day(any_value(m.start_date), min(e.day)) AS first_day,
                   burnup_last_day(any_value(m.state), any_value(m.due_date), any_value(m.closed_at), max(e.day)) AS last_day
            FROM _burnup_events e LEFT JOIN core.milestones m ON m.milestone_id = e.milestone_id
            WHERE NOT e.pending AND rebuilt(e.entity) AND getvariable('burnup_days_from') IS NOT NULL
            GROUP BY e.entity))
),
recent_changes AS (  -- as whole_changes, summed per line and day from the events: every day before
    -- the fold day folds into it (its running sums, not its scope added and removed), so the sums
    -- hash integers (eid) and most lines' past is one row; counts to 64 bits as in entity_days
    SELECT s.eid, greatest(e.day, s.fold_day) AS day, e.day >= s.fold_day AS own,
           CAST(sum(e.scope) AS BIGINT) AS scope, CAST(sum(e.done) AS BIGINT) AS done,
           CAST(sum(e.unestimated) AS BIGINT) AS unestimated, CAST(sum(e.wip) AS BIGINT) AS wip,
           sum(e.scope_points) AS scope_points, sum(e.done_points) AS done_points,
           CAST(coalesce(sum(e.added) FILTER (WHERE e.day >= s.fold_day), 0) AS BIGINT) AS added,
           CAST(coalesce(sum(e.removed) FILTER (WHERE e.day >= s.fold_day), 0) AS BIGINT) AS removed
    FROM _burnup_events e JOIN recent_spans s USING (entity)
    WHERE NOT e.pending AND e.day <= s.last_day
    GROUP BY s.eid, greatest(e.day, s.fold_day), e.day >= s.fold_day
    UNION ALL
    SELECT eid, fold_day, false, 0, 0, 0, 0, 0, 0, 0, 0 FROM recent_spans WHERE first_day <= last_day
),
spans AS (
    SELECT eid, level, program_id, project_key, milestone_id, last_day FROM whole_spans
    UNION ALL
    SELECT eid, level, program_id, project_key, milestone_id, last_day FROM recent_spans
),
day_changes AS (SELECT * FROM whole_changes UNION ALL SELECT * FROM recent_changes),
running AS (  -- what is true at each changing day's end, until the next one (one window: one sort)
    SELECT eid, day, added, removed, lead(day) OVER w AS next_day,
           sum(scope) OVER w AS scope, sum(done) OVER w AS done, sum(unestimated) OVER w AS unestimated,
           sum(wip) OVER w AS wip, sum(scope_points) OVER w AS scope_points, sum(done_points) OVER w AS done_points
    FROM day_changes
    WINDOW w AS (PARTITION BY eid ORDER BY day, own ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
),
held AS (  -- each changing day's figures hold on every day until the next changing day, or the span's end;
    -- where getvariable('burnup_days_from') is set (the health-history replay: transforms/history.py),
    -- only from that day on, and a line's last day always: the days the health reads
    SELECT s.level, s.program_id, s.project_key, s.milestone_id, r.*,
           unnest(range(greatest(0, least(coalesce(getvariable('burnup_days_from'), r.day), s.last_day) - r.day),
                        least(coalesce(r.next_day, s.last_day + 1), s.last_day + 1) - r.day)) AS k
    FROM running r JOIN spans s USING (eid)
)
SELECT level, program_id, project_key, milestone_id, day + CAST(k AS INTEGER) AS day,
       CAST(scope AS INTEGER)                                  AS scope_items,
       CAST(done AS INTEGER)                                   AS done_items,
       CAST(scope_points AS DOUBLE)                            AS scope_points,
       CAST(done_points AS DOUBLE)                             AS done_points,
       CAST(unestimated AS INTEGER)                            AS unestimated_items,
       CAST(wip AS INTEGER)                                    AS wip_items,
       CAST(CASE WHEN k = 0 THEN added ELSE 0 END AS INTEGER)  AS scope_added_items,
       CAST(CASE WHEN k = 0 THEN removed ELSE 0 END AS INTEGER) AS scope_removed_items
FROM held;

-- [merge]
-- The lines as the table holds them and as they are now; a line is kept when it still exists and
-- its first day is the same (held_last: the last day the table holds of it), else rebuilt whole
-- (_rebuilt: the lines _rows gives). Lines are matched by their key (entity); the table's rows,
-- which have no key column, by their four key columns.
CREATE OR REPLACE TEMP TABLE _spans AS SELECT * FROM _burnup_spans WHERE first_day <= last_day;
CREATE OR REPLACE TEMP TABLE _held AS
SELECT concat_ws('|', level, program_id, project_key, milestone_id) AS entity, *
FROM (SELECT level, program_id, project_key, milestone_id, min(day) AS first_day, max(day) AS held_last
      FROM marts.burnup GROUP BY level, program_id, project_key, milestone_id);
CREATE OR REPLACE TEMP TABLE _kept AS
SELECT n.*, h.held_last FROM _spans n JOIN _held h ON h.entity = n.entity AND h.first_day = n.first_day;
INSERT INTO _rebuilt SELECT entity FROM _spans EXCEPT SELECT entity FROM _kept;

-- the rows of lines gone or rebuilt (all their days), and of days after a kept line's new end
-- (a milestone released); a night that ends no line deletes nothing
DELETE FROM marts.burnup b
USING (SELECT h.level, h.program_id, h.project_key, h.milestone_id, k.last_day AS keep_until
       FROM _held h LEFT JOIN _kept k USING (entity)
       WHERE k.entity IS NULL OR k.last_day < h.held_last) d
WHERE b.level = d.level AND b.program_id IS NOT DISTINCT FROM d.program_id
  AND b.project_key IS NOT DISTINCT FROM d.project_key AND b.milestone_id IS NOT DISTINCT FROM d.milestone_id
  AND (d.keep_until IS NULL OR b.day > d.keep_until);
-- (a variable, so that a night that rebuilds no line plans no scan of the events for one)
SET VARIABLE burnup_rebuilds = (SELECT count(*) > 0 FROM _rebuilt);
INSERT INTO marts.burnup BY NAME SELECT * FROM _rows WHERE getvariable('burnup_rebuilds');

-- the days a kept line now runs on by (as_of moved): its last held day's figures, nothing added
-- or removed yet; the changes below add what happened on them
INSERT INTO marts.burnup BY NAME
SELECT b.* EXCLUDE (day, scope_added_items, scope_removed_items), b.day + CAST(k.n AS INTEGER) AS day,
       0 AS scope_added_items, 0 AS scope_removed_items
FROM marts.burnup b
JOIN (SELECT *, unnest(range(1, last_day - held_last + 1)) AS n FROM _kept WHERE last_day > held_last) k
  ON b.level = k.level AND b.program_id IS NOT DISTINCT FROM k.program_id
 AND b.project_key IS NOT DISTINCT FROM k.project_key AND b.milestone_id IS NOT DISTINCT FROM k.milestone_id
 AND b.day = k.held_last;

-- What changed on each kept line: the recorded changes on the days the table held, and every event
-- of the days it did not; days before the first fold into it (added and removed count only from
-- it), as in [rows]. Running sums give what each day from a change's day on gains.
-- a constant, so that the scan below reads only the events after the earliest day a line grows from
-- (null, and nothing, when none grows); each line's own bound is the join's e.day > k.held_last
SET VARIABLE burnup_held_from = (SELECT min(held_last) FROM _kept WHERE last_day > held_last);
CREATE OR REPLACE TEMP TABLE _steps AS
WITH changes AS (
    SELECT c.entity, c.day, c.scope, c.done, c.unestimated, c.wip, c.scope_points, c.done_points, c.added, c.removed
    FROM _burnup_events c JOIN _kept k USING (entity)
    WHERE c.pending AND c.day <= least(k.held_last, k.last_day)
    UNION ALL
    SELECT e.entity, e.day, e.scope, e.done, e.unestimated, e.wip, e.scope_points, e.done_points, e.added, e.removed
    FROM _burnup_events e JOIN _kept k USING (entity)
    WHERE NOT e.pending AND e.day > k.held_last AND e.day <= k.last_day
      AND e.day > getvariable('burnup_held_from')
),
by_day AS (
    SELECT c.entity, greatest(c.day, k.first_day) AS day,
           sum(c.scope) AS scope, sum(c.done) AS done, sum(c.unestimated) AS unestimated, sum(c.wip) AS wip,
           coalesce(sum(c.scope_points), 0) AS scope_points, coalesce(sum(c.done_points), 0) AS done_points,
           sum(CASE WHEN c.day >= k.first_day THEN c.added ELSE 0 END) AS added,
           sum(CASE WHEN c.day >= k.first_day THEN c.removed ELSE 0 END) AS removed
    FROM changes c JOIN _kept k USING (entity)
    GROUP BY c.entity, greatest(c.day, k.first_day)
)
SELECT k.level, k.program_id, k.project_key, k.milestone_id, d.day, lead(d.day) OVER w AS next_day,
       sum(d.scope) OVER w AS scope, sum(d.done) OVER w AS done, sum(d.unestimated) OVER w AS unestimated,
       sum(d.wip) OVER w AS wip, sum(d.scope_points) OVER w AS scope_points,
       sum(d.done_points) OVER w AS done_points, d.added, d.removed
FROM by_day d JOIN _kept k USING (entity)
WINDOW w AS (PARTITION BY d.entity ORDER BY d.day ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW);

UPDATE marts.burnup b SET
    scope_items = b.scope_items + s.scope,
    done_items = b.done_items + s.done,
    unestimated_items = b.unestimated_items + s.unestimated,
    wip_items = b.wip_items + s.wip,
    scope_points = CAST(CAST(b.scope_points AS DECIMAL(38, 6)) + s.scope_points AS DOUBLE),
    done_points = CAST(CAST(b.done_points AS DECIMAL(38, 6)) + s.done_points AS DOUBLE),
    scope_added_items = b.scope_added_items + CASE WHEN b.day = s.day THEN s.added ELSE 0 END,
    scope_removed_items = b.scope_removed_items + CASE WHEN b.day = s.day THEN s.removed ELSE 0 END
FROM _steps s
WHERE b.level = s.level AND b.program_id IS NOT DISTINCT FROM s.program_id
  AND b.project_key IS NOT DISTINCT FROM s.project_key AND b.milestone_id IS NOT DISTINCT FROM s.milestone_id
  AND b.day >= s.day AND (s.next_day IS NULL OR b.day < s.next_day)
  AND (s.scope <> 0 OR s.done <> 0 OR s.unestimated <> 0 OR s.wip <> 0 OR s.scope_points <> 0 OR s.done_points <> 0
       OR (b.day = s.day AND (s.added <> 0 OR s.removed <> 0)));

-- what the merge did (merge_incremental returns it): the lines rebuilt whole or changed beyond the
-- days appended with their last figures
SET VARIABLE burnup_lines = (SELECT (SELECT count(*) FROM _rebuilt)
                                    + (SELECT count(DISTINCT (level, program_id, project_key, milestone_id)) FROM _steps));
DROP TABLE _spans;
DROP TABLE _held;
DROP TABLE _kept;
DROP TABLE _steps;
SELECT getvariable('burnup_lines');

-- [comments]
COMMENT ON TABLE marts.burnup IS 'Daily burn-up per milestone, project and program (METRICS.md "Burn-up"): for each UTC day from the start to as_of''s day, scope and done by count and by points at that day''s end, reconstructed from field history (core.item_history: what each item added and took away each day is core.burnup_events), so it exists on the first sync and a past day shows what the trackers showed then. Scope: items other than epics, not discarded; a milestone''s scope is the items that held it that day (an item moved in is scope added, moved out or discarded is scope removed). An item deleted or moved out of the synced projects (core.tombstones) counts on the days it existed and is scope removed on the day a sync found it gone (vanished_at); one moved to another synced project leaves its old milestone as its history says, and its old project on the day it moved (scope removed there, added in the new one). The last day (as_of''s) agrees with marts.progress.';
COMMENT ON COLUMN marts.burnup.level IS 'milestone, project or program.';
COMMENT ON COLUMN marts.burnup.program_id IS 'core.programs.program_id.';
COMMENT ON COLUMN marts.burnup.project_key IS 'Jira project key or GitHub owner/name; null on program rows.';
COMMENT ON COLUMN marts.burnup.milestone_id IS 'core.milestones.milestone_id on milestone rows; null otherwise.';
COMMENT ON COLUMN marts.burnup.day IS 'UTC day. The first is the milestone''s start date, else the day its first item arrived (the project''s or program''s first item''s creation). The last is as_of''s day (as of as_of), or for a released, archived or closed milestone its last change, due date or closing, whichever is latest (not after as_of): after that its line is flat.';
COMMENT ON COLUMN marts.burnup.scope_items IS 'Items in scope at the day''s end: not epics, not discarded (METRICS.md "Scope and progress").';
COMMENT ON COLUMN marts.burnup.done_items IS 'Of scope_items, those done at the day''s end. Falls only when an item reopens or leaves the scope.';
COMMENT ON COLUMN marts.burnup.scope_points IS 'Story points of the estimated items in scope at the day''s end (the estimate they had that day).';
COMMENT ON COLUMN marts.burnup.done_points IS 'Story points of the estimated items done at the day''s end.';
COMMENT ON COLUMN marts.burnup.unestimated_items IS 'Of scope_items, those without story points that day: never counted as zero points.';
COMMENT ON COLUMN marts.burnup.wip_items IS 'Items in the in_progress category at the day''s end (WIP per day, METRICS.md "Flow").';
COMMENT ON COLUMN marts.burnup.scope_added_items IS 'Items that entered the scope that day: created, moved into the milestone (or into the project from another, core.tombstones), or back from discarded. Items already in scope before the first day are not counted as added.';
COMMENT ON COLUMN marts.burnup.scope_removed_items IS 'Items that left the scope that day: moved out of the milestone, discarded, or deleted, or moved out of the project or the synced projects (core.tombstones.vanished_at).';
