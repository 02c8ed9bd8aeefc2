-- core.program_milestone_sprints: the sprints each sprint member of a program milestone names. A
-- member names a sprint by its name on its project's site, and boards number their sprints alike
-- ("Sprint 1" on every board): it is the sprints of that name that belong to its project (the
-- project's board lists them, or items of the project are in them), else every sprint of that
-- name on the site (a board shared with other projects names its sprints for no one project). One
-- place, so the program milestone's items, its snapshots and its slips read the same sprints.
CREATE OR REPLACE TABLE core.program_milestone_sprints AS
WITH sprint_projects AS (  -- the projects a sprint belongs to: its board's, and those of the items in it
    SELECT DISTINCT ws.sprint_id, w.project_key FROM core.work_item_sprints ws JOIN core.work_items w USING (item_id)
    UNION SELECT sprint_id, board_project_key FROM core.sprints WHERE board_project_key IS NOT NULL
)
SELECT DISTINCT pm.program_id, pm.milestone_id, pm.site, pm.project_key, pm.member_name, s.sprint_id,
       o.sprint_id IS NOT NULL AS in_project
FROM meta.program_milestone_members pm
JOIN core.sprints s ON s.site = pm.site AND s.name = pm.member_name
LEFT JOIN sprint_projects o ON o.sprint_id = s.sprint_id AND o.project_key = pm.project_key
WHERE pm.member_kind = 'sprint'
QUALIFY (o.sprint_id IS NOT NULL) = bool_or(o.sprint_id IS NOT NULL)
            OVER (PARTITION BY pm.milestone_id, pm.site, pm.project_key, pm.member_name);

COMMENT ON TABLE core.program_milestone_sprints IS 'One row per sprint member of a program milestone (meta.program_milestone_members, kind sprint) and sprint it names: the sprints of that name on the member''s site that belong to its project (its board lists them or its items are in them), else, when none does, every sprint of that name on the site. A member that names no sprint has no row. Read by core.program_milestone_items, meta.milestone_snapshots and marts.milestone_slips.';
COMMENT ON COLUMN core.program_milestone_sprints.program_id IS 'Program of the program milestone.';
COMMENT ON COLUMN core.program_milestone_sprints.milestone_id IS 'program:<program id>:<name> (meta.program_milestones.milestone_id).';
COMMENT ON COLUMN core.program_milestone_sprints.site IS 'Site of the member''s project.';
COMMENT ON COLUMN core.program_milestone_sprints.project_key IS 'The member''s project (program.yaml members[].project).';
COMMENT ON COLUMN core.program_milestone_sprints.member_name IS 'The sprint name the member gives (program.yaml members[].sprint).';
COMMENT ON COLUMN core.program_milestone_sprints.sprint_id IS 'core.sprints.sprint_id of a sprint of that name.';
COMMENT ON COLUMN core.program_milestone_sprints.in_project IS 'True when the sprint belongs to the member''s project; false when no sprint of that name does and every one on the site is taken.';
