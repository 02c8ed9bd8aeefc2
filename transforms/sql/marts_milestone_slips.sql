-- marts.milestone_slips: each milestone's baseline against now (METRICS.md "Scope and progress":
-- baseline, moves, scope change). Jira versions, GitHub milestones, Jira sprints and the program
-- milestones of program.yaml, one row each. Neither tracker keeps a history of due dates, so the
-- baseline and the moves come from meta.milestone_snapshots (appended by every build, never
-- rebuilt); snapshots observed after as_of are left out, so a past as_of shows what was known then.
-- Scope at a configured commitment day is rebuilt from field history (core.item_history).
CREATE OR REPLACE TABLE marts.milestone_slips AS
WITH live AS (  -- milestones the trackers and the config still have
    SELECT milestone_id FROM core.milestones
    UNION ALL SELECT sprint_id FROM core.sprints
    UNION ALL SELECT milestone_id FROM meta.program_milestones
),
snaps AS (
    SELECT s.*, row_number() OVER (PARTITION BY s.milestone_id ORDER BY s.observed_at, s.recorded_at) AS n,
           lag(s.due_date) OVER (PARTITION BY s.milestone_id ORDER BY s.observed_at, s.recorded_at) AS previous_due
    FROM meta.milestone_snapshots s
    WHERE s.observed_at <= getvariable('as_of') AND s.milestone_id IN (SELECT milestone_id FROM live)
),
history AS (
    SELECT milestone_id,
           count(*)                                                                        AS snapshots,
           min(observed_at)                                                                AS first_seen_at,
           count(*) FILTER (WHERE previous_due IS NOT NULL AND due_date IS DISTINCT FROM previous_due) AS due_date_moves,
           max(observed_at) FILTER (WHERE previous_due IS NOT NULL AND due_date IS DISTINCT FROM previous_due) AS last_moved_at,
           max(n)                                                                          AS last_n,
           -- the baseline snapshot: the first that had a due date, else the first
           coalesce(min(n) FILTER (WHERE due_date IS NOT NULL), 1)                         AS baseline_n
    FROM snaps GROUP BY milestone_id
),
at_commitment AS (  -- a program milestone's scope at the end of its configured commitment day
    SELECT p.milestone_id, CAST(p.committed_on + INTERVAL 1 DAY AS TIMESTAMPTZ) AS t
    FROM meta.program_milestones p WHERE p.committed_on IS NOT NULL
),
then_members AS (
    SELECT a.milestone_id, a.t, h.item_id
    FROM at_commitment a
    JOIN meta.program_milestone_members pm USING (milestone_id)
    LEFT JOIN core.milestones cm ON pm.member_kind = 'milestone' AND cm.site = pm.site
                                AND cm.project_key = pm.project_key AND cm.name = pm.member_name
    LEFT JOIN core.program_milestone_sprints s ON pm.member_kind = 'sprint' AND s.milestone_id = pm.milestone_id
          AND s.site = pm.site AND s.project_key = pm.project_key AND s.member_name = pm.member_name
    JOIN core.item_history h ON h.field IN ('milestone', 'sprint') AND h.value_id = coalesce(cm.milestone_id, s.sprint_id)
                            AND h.valid_from <= a.t AND (h.valid_to IS NULL OR h.valid_to > a.t)
    UNION
    SELECT a.milestone_id, a.t, w.item_id
    FROM at_commitment a
    JOIN meta.program_milestone_members pm USING (milestone_id)
    JOIN core.work_items w ON pm.member_kind = 'epic' AND w.site = pm.site AND w.parent_key = pm.member_name
    WHERE w.created_at <= a.t
),
then_scope AS (  -- counted as marts.burnup counts a day's end: not epics, not discarded that day
    SELECT m.milestone_id, count(DISTINCT m.item_id) AS scope_items
    FROM then_members m
    JOIN core.work_items w ON w.item_id = m.item_id AND w.item_type IS DISTINCT FROM 'epic'
    LEFT JOIN core.item_history c ON c.item_id = m.item_id AND c.field = 'status_category'
                                 AND c.valid_from <= m.t AND (c.valid_to IS NULL OR c.valid_to > m.t)
    LEFT JOIN core.item_history r ON r.item_id = m.item_id AND r.field = 'resolution'
                                 AND r.valid_from <= m.t AND (r.valid_to IS NULL OR r.valid_to > m.t)
    WHERE NOT coalesce(c.value = 'done' AND lower(r.value) IN (SELECT resolution FROM meta.discarded_resolutions), false)
    GROUP BY m.milestone_id
),
members AS (  -- a program milestone's members, and how many of them the trackers have
    SELECT pm.milestone_id, count(*) AS members,
           count(*) FILTER (WHERE cm.milestone_id IS NULL AND s.found IS NULL AND e.item_id IS NULL) AS unresolved_members
    FROM meta.program_milestone_members pm
    LEFT JOIN core.milestones cm ON pm.member_kind = 'milestone' AND cm.site = pm.site
                                AND cm.project_key = pm.project_key AND cm.name = pm.member_name
    LEFT JOIN (SELECT DISTINCT milestone_id, site, project_key, member_name, true AS found
               FROM core.program_milestone_sprints) s  -- a member may name several (two boards' "Sprint 1")
           ON pm.member_kind = 'sprint' AND s.milestone_id = pm.milestone_id AND s.site = pm.site
          AND s.project_key = pm.project_key AND s.member_name = pm.member_name
    LEFT JOIN core.work_items e ON pm.member_kind = 'epic' AND e.site = pm.site AND e.key = pm.member_name
    GROUP BY pm.milestone_id
),
created AS (  -- GitHub says when a milestone was created; Jira versions and sprints do not
    SELECT 'github:' || site || ':' || repo || ':milestone:' || number AS milestone_id,
           TRY_CAST(payload->>'created_at' AS TIMESTAMPTZ) AS tracker_created_at
    FROM raw.github_milestones
)
SELECT cur.milestone_id,
       cur.kind,
       cur.program_id,
       cur.site,
       cur.project_key,
       cur.name,
       cur.state,
       cur.start_date,
       cur.due_date,
       coalesce(p.baseline_due, base.due_date)                                        AS baseline_due_date,
       CASE WHEN p.baseline_due IS NOT NULL THEN 'config' ELSE 'first_seen' END        AS baseline_source,
       CAST(cur.due_date - coalesce(p.baseline_due, base.due_date) AS INTEGER)       AS slip_days,
       CAST(h.due_date_moves AS INTEGER)                                              AS due_date_moves,
       h.last_moved_at,
       h.first_seen_at,
       c.tracker_created_at,
       CAST(h.snapshots AS INTEGER)                                                   AS snapshots,
       p.committed_on,
       CAST(CASE WHEN p.committed_on IS NOT NULL THEN coalesce(ts.scope_items, 0)
                 ELSE base.scope_items END AS INTEGER)                                AS baseline_scope_items,
       cur.scope_items,
       cur.done_items,
       CAST(cur.scope_items - CASE WHEN p.committed_on IS NOT NULL THEN coalesce(ts.scope_items, 0)
                                   ELSE base.scope_items END AS INTEGER)              AS scope_change_items,
       CAST(cur.scope_items - CASE WHEN p.committed_on IS NOT NULL THEN coalesce(ts.scope_items, 0)
                                   ELSE base.scope_items END AS DOUBLE)
           / nullif(CASE WHEN p.committed_on IS NOT NULL THEN coalesce(ts.scope_items, 0)
                         ELSE base.scope_items END, 0)                                AS scope_change_ratio,
       CAST(mb.members AS INTEGER)                                                    AS members,
       CAST(mb.unresolved_members AS INTEGER)                                         AS unresolved_members,
       getvariable('as_of')                                                           AS as_of
FROM history h
JOIN snaps cur ON cur.milestone_id = h.milestone_id AND cur.n = h.last_n
JOIN snaps base ON base.milestone_id = h.milestone_id AND base.n = h.baseline_n
LEFT JOIN meta.program_milestones p ON p.milestone_id = h.milestone_id
LEFT JOIN then_scope ts ON ts.milestone_id = h.milestone_id
LEFT JOIN members mb ON mb.milestone_id = h.milestone_id
LEFT JOIN created c ON c.milestone_id = h.milestone_id;

COMMENT ON TABLE marts.milestone_slips IS 'One row per milestone: Jira version, GitHub milestone, Jira sprint, or program milestone from program.yaml. Its baseline (the configured one, else its due date and scope at the first sync that saw it with a due date) against now: slip in days, how many times its due date moved, scope change (METRICS.md "Scope and progress"). Neither tracker keeps a history of due dates: baseline and moves come from meta.milestone_snapshots, which every sync appends to, so they begin with the first sync that saw the milestone. Forecasts: marts.forecasts ON milestone_id (level milestone); program milestones carry the id a program-milestone forecast will use.';
COMMENT ON COLUMN marts.milestone_slips.milestone_id IS 'core.milestones.milestone_id, core.sprints.sprint_id, or program:<program id>:<name> (meta.program_milestones). The join key to marts.forecasts, marts.progress and marts.burnup (milestone rows).';
COMMENT ON COLUMN marts.milestone_slips.kind IS 'version (Jira), milestone (GitHub), sprint (Jira sprint used as a milestone: due = planned end) or program (program.yaml).';
COMMENT ON COLUMN marts.milestone_slips.program_id IS 'core.programs.program_id; a sprint''s is the program of most of its items, else (no item in it yet) that of the project whose board lists it; null when neither is known.';
COMMENT ON COLUMN marts.milestone_slips.site IS 'Tracker site name from program.yaml; null for program milestones.';
COMMENT ON COLUMN marts.milestone_slips.project_key IS 'Jira project key or GitHub owner/name; a sprint''s is the project of most of its items, else (no item in it yet) the project whose board lists it (core.sprints.board_project_key); null for program milestones.';
COMMENT ON COLUMN marts.milestone_slips.name IS 'Version name, milestone title, sprint name (tracker text) or program milestone name.';
COMMENT ON COLUMN marts.milestone_slips.state IS 'Jira version: open, released or archived; GitHub: open or closed; sprint: future, active or closed; program: open.';
COMMENT ON COLUMN marts.milestone_slips.start_date IS 'Jira version startDate or sprint start (UTC date); null for GitHub and program milestones.';
COMMENT ON COLUMN marts.milestone_slips.due_date IS 'Current due date, as the latest snapshot up to as_of saw it: Jira releaseDate, GitHub due_on, sprint planned end, or the configured due of a program milestone.';
COMMENT ON COLUMN marts.milestone_slips.baseline_due_date IS 'The committed due date: program.yaml''s baseline when given, else the due date at the first sync that saw the milestone with one.';
COMMENT ON COLUMN marts.milestone_slips.baseline_source IS 'config (program.yaml milestones[].baseline) or first_seen (meta.milestone_snapshots).';
COMMENT ON COLUMN marts.milestone_slips.slip_days IS 'due_date - baseline_due_date in days: positive = later than committed, negative = earlier; null when either is unknown.';
COMMENT ON COLUMN marts.milestone_slips.due_date_moves IS 'Times the due date changed between consecutive snapshots (a due date set for the first time is not a move; one cleared is). Syncs that did not run cannot see moves in between.';
COMMENT ON COLUMN marts.milestone_slips.last_moved_at IS 'observed_at of the snapshot that saw the latest move; null when it never moved.';
COMMENT ON COLUMN marts.milestone_slips.first_seen_at IS 'as_of of the first build that saw the milestone (its first snapshot): history starts here.';
COMMENT ON COLUMN marts.milestone_slips.tracker_created_at IS 'GitHub milestone created_at; null for Jira versions and sprints (the APIs give none) and program milestones. Its due date before first_seen_at is unknown: no API keeps it.';
COMMENT ON COLUMN marts.milestone_slips.snapshots IS 'Snapshots up to as_of (meta.milestone_snapshots rows): first sight and every change seen since.';
COMMENT ON COLUMN marts.milestone_slips.committed_on IS 'Program milestones: the day program.yaml says the plan was agreed (milestones[].committed_on); the scope baseline is taken at its end. Null otherwise.';
COMMENT ON COLUMN marts.milestone_slips.baseline_scope_items IS 'Items in scope at the baseline: at the end of committed_on, rebuilt from field history (core.item_history), when configured; else at the baseline snapshot. Not epics, not discarded.';
COMMENT ON COLUMN marts.milestone_slips.scope_items IS 'Items in scope now (latest snapshot): not epics, not discarded. A sprint''s: the items whose Sprint field names it (a closed sprint keeps those carried over from it). A program milestone''s: the distinct items of its members (project milestones, children of epics, sprints).';
COMMENT ON COLUMN marts.milestone_slips.done_items IS 'Of scope_items, those done.';
COMMENT ON COLUMN marts.milestone_slips.scope_change_items IS 'scope_items - baseline_scope_items (METRICS.md "Scope change").';
COMMENT ON COLUMN marts.milestone_slips.scope_change_ratio IS 'scope_change_items / baseline_scope_items; null when the baseline scope was zero.';
COMMENT ON COLUMN marts.milestone_slips.members IS 'Program milestones: members program.yaml names; null otherwise.';
COMMENT ON COLUMN marts.milestone_slips.unresolved_members IS 'Program milestones: members not found in the warehouse (a misspelt name, a sprint no synced issue names, an epic not synced); null otherwise.';
COMMENT ON COLUMN marts.milestone_slips.as_of IS 'The instant the figures describe.';
