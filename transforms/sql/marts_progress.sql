-- marts.progress: how far each milestone, project and program is, by count and by points, as of
-- as_of (METRICS.md "Scope and progress"). Scope leaves out epics (containers of the work, not work)
-- and discarded items (done with a resolution in meta.discarded_resolutions). Points are summed
-- over estimated items only; unestimated items are counted and shown apart, never as zero points.
-- A milestone's items are those whose history holds it now (core.item_history), so every fix
-- version of a Jira issue counts, as the burn-up does; its last day agrees with this table. A
-- program milestone of program.yaml has the items it spans now (core.program_milestone_items).
CREATE OR REPLACE TABLE marts.progress AS
WITH items AS (
    SELECT w.item_id, w.program_id, w.project_key, w.status_category, w.story_points,
           coalesce(w.status_category = 'done' AND lower(w.resolution) IN (SELECT resolution FROM meta.discarded_resolutions), false)
               AS discarded  -- done without a resolution: not discarded (NULL would drop it from every count)
    FROM core.work_items w
    WHERE w.item_type IS DISTINCT FROM 'epic'
),
members AS (  -- each item at every level it counts in
    SELECT 'milestone' AS level, m.program_id, m.project_key, m.milestone_id, i.*
    FROM items i
    JOIN core.item_history h ON h.item_id = i.item_id AND h.field = 'milestone' AND h.valid_to IS NULL
    JOIN core.milestones m ON m.milestone_id = h.value_id
    UNION ALL  -- program milestones: their members' items and their epics' children, once each
    SELECT 'milestone', pm.program_id, NULL, pm.milestone_id, i.*
    FROM items i JOIN core.program_milestone_items pm ON pm.item_id = i.item_id
    UNION ALL
    SELECT 'project', program_id, project_key, NULL, * FROM items
    UNION ALL
    SELECT 'program', program_id, NULL, NULL, * FROM items
),
figures AS (
    SELECT level, program_id, project_key, milestone_id,
           count(*) FILTER (WHERE NOT discarded)                                        AS scope_items,
           count(*) FILTER (WHERE NOT discarded AND status_category = 'done')           AS done_items,
           count(*) FILTER (WHERE status_category = 'in_progress')                      AS in_progress_items,
           count(*) FILTER (WHERE discarded)                                            AS discarded_items,
           count(*) FILTER (WHERE NOT discarded AND story_points IS NOT NULL)           AS estimated_items,
           count(*) FILTER (WHERE NOT discarded AND story_points IS NULL)               AS unestimated_items,
           coalesce(sum(story_points) FILTER (WHERE NOT discarded), 0)                  AS scope_points,
           coalesce(sum(story_points) FILTER (WHERE NOT discarded AND status_category = 'done'), 0) AS done_points
    FROM members
    GROUP BY ALL
),
levels AS (  -- every milestone, project and program, also those without items
    SELECT 'milestone' AS level, program_id, project_key, milestone_id, name, due_date, state FROM core.milestones
    UNION ALL  -- a program milestone has a date from program.yaml and no tracker state
    SELECT 'milestone', program_id, NULL, milestone_id, name, due_date, NULL FROM meta.program_milestones
    UNION ALL
    SELECT 'project', program_id, project_key, NULL, project_name, NULL, NULL FROM core.projects
    UNION ALL
    SELECT 'program', program_id, NULL, NULL, name, NULL, NULL FROM core.programs
)
SELECT l.level, l.program_id, l.project_key, l.milestone_id, l.name, l.due_date, l.state,
       getvariable('as_of')                                             AS as_of,
       coalesce(f.scope_items, 0)                                       AS scope_items,
       coalesce(f.done_items, 0)                                        AS done_items,
       coalesce(f.scope_items, 0) - coalesce(f.done_items, 0)           AS open_items,
       coalesce(f.in_progress_items, 0)                                 AS in_progress_items,
       coalesce(f.discarded_items, 0)                                   AS discarded_items,
       CAST(f.done_items AS DOUBLE) / nullif(f.scope_items, 0)          AS progress_by_count,
       coalesce(f.estimated_items, 0)                                   AS estimated_items,
       coalesce(f.unestimated_items, 0)                                 AS unestimated_items,
       CAST(f.unestimated_items AS DOUBLE) / nullif(f.scope_items, 0)   AS unestimated_share,
       CAST(coalesce(f.scope_points, 0) AS DOUBLE)                      AS scope_points,
       CAST(coalesce(f.done_points, 0) AS DOUBLE)                       AS done_points,
       f.done_points / nullif(f.scope_points, 0)                        AS progress_by_points
FROM levels l
LEFT JOIN figures f ON f.level = l.level AND f.program_id = l.program_id
                   AND f.project_key IS NOT DISTINCT FROM l.project_key
                   AND f.milestone_id IS NOT DISTINCT FROM l.milestone_id;

COMMENT ON TABLE marts.progress IS 'Progress of every milestone, project and program as of as_of, by count and by points (METRICS.md "Scope and progress": progress by count = done / scope; by points = done points / estimated points in scope). Scope: work items other than epics, not discarded. One row per level entity: level milestone (Jira fix version or GitHub milestone; an item in several fix versions counts in each; and each program milestone of program.yaml, with no project, over the items it spans now: core.program_milestone_items), project, program.';
COMMENT ON COLUMN marts.progress.level IS 'milestone, project or program.';
COMMENT ON COLUMN marts.progress.program_id IS 'core.programs.program_id.';
COMMENT ON COLUMN marts.progress.project_key IS 'Jira project key or GitHub owner/name; null on program rows and on program milestone rows.';
COMMENT ON COLUMN marts.progress.milestone_id IS 'core.milestones.milestone_id on milestone rows, or program:<program id>:<name> for a program milestone of program.yaml (meta.program_milestones); null otherwise.';
COMMENT ON COLUMN marts.progress.name IS 'Milestone, project or program name (tracker text: escape before rendering).';
COMMENT ON COLUMN marts.progress.due_date IS 'Milestone due date (Jira releaseDate, GitHub due_on; a program milestone''s from program.yaml); null on project and program rows and when not set.';
COMMENT ON COLUMN marts.progress.state IS 'Milestone state (Jira open, released or archived; GitHub open or closed); null on project and program rows and on program milestone rows (program.yaml gives them a date, no state).';
COMMENT ON COLUMN marts.progress.as_of IS 'The instant the figures describe (METRICS.md "Time and status").';
COMMENT ON COLUMN marts.progress.scope_items IS 'Items in scope: not epics, not discarded (METRICS.md "Discarded": done with a resolution in meta.discarded_resolutions).';
COMMENT ON COLUMN marts.progress.done_items IS 'Of scope_items, those whose status category is done.';
COMMENT ON COLUMN marts.progress.open_items IS 'scope_items minus done_items: the work left.';
COMMENT ON COLUMN marts.progress.in_progress_items IS 'Items in the in_progress category now (WIP, METRICS.md "Flow").';
COMMENT ON COLUMN marts.progress.discarded_items IS 'Items done with a discarded resolution: out of scope, shown for the record.';
COMMENT ON COLUMN marts.progress.progress_by_count IS 'done_items / scope_items, in [0, 1]; null when the scope is empty.';
COMMENT ON COLUMN marts.progress.estimated_items IS 'Of scope_items, those with story points.';
COMMENT ON COLUMN marts.progress.unestimated_items IS 'Of scope_items, those without story points: not counted as zero points, shown apart.';
COMMENT ON COLUMN marts.progress.unestimated_share IS 'unestimated_items / scope_items; null when the scope is empty. A high share makes progress_by_points unreliable.';
COMMENT ON COLUMN marts.progress.scope_points IS 'Story points of the estimated items in scope.';
COMMENT ON COLUMN marts.progress.done_points IS 'Story points of the estimated items done.';
COMMENT ON COLUMN marts.progress.progress_by_points IS 'done_points / scope_points, in [0, 1]; null when no item in scope is estimated.';
