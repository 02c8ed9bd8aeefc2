-- core.program_milestone_sprints: the sprints each sprint member of a program milestone names. A
-- member names a sprint by its name and its project, and boards number their sprints alike
-- ("Sprint 1" on every board of a site): it is the sprints of that name that are its project's.
-- A sprint is the project's whose boards list it (a board shared by projects lists it under each:
-- raw.jira_board_sprints), else, once no board lists it (a closed sprint), the project holding
-- most of its items (ties by key), as meta.milestone_snapshots homes a sprint. A member whose
-- project has no sprint of that name names none: marts.milestone_slips counts it unresolved.
-- One place, so the program milestone's items, its snapshots and its slips read the same sprints.
CREATE OR REPLACE TABLE core.program_milestone_sprints AS
WITH listed AS (
    SELECT DISTINCT 'jira:' || site || ':sprint:' || sprint_id AS sprint_id, project_key FROM raw.jira_board_sprints
),
held AS (
    SELECT sprint_id, project_key
    FROM (SELECT ws.sprint_id, w.project_key, count(*) AS items
          FROM core.work_item_sprints ws JOIN core.work_items w USING (item_id) GROUP BY ALL)
    QUALIFY row_number() OVER (PARTITION BY sprint_id ORDER BY items DESC, project_key) = 1
),
owners AS (
    SELECT sprint_id, project_key FROM listed
    UNION ALL
    SELECT sprint_id, project_key FROM held WHERE sprint_id NOT IN (SELECT sprint_id FROM listed)
)
SELECT DISTINCT pm.program_id, pm.milestone_id, pm.site, pm.project_key, pm.member_name, s.sprint_id
FROM meta.program_milestone_members pm
JOIN core.sprints s ON s.site = pm.site AND s.name = pm.member_name
JOIN owners o ON o.sprint_id = s.sprint_id AND o.project_key = pm.project_key
WHERE pm.member_kind = 'sprint';

COMMENT ON TABLE core.program_milestone_sprints IS 'One row per sprint member of a program milestone (meta.program_milestone_members, kind sprint) and sprint it names: the sprints of that name on the member''s site that are its project''s, i.e. a board of the project lists them (raw.jira_board_sprints: open sprints; a shared board lists them under each of its projects), or, once no board lists them, the project holds most of their items. A member whose project has no sprint of that name has no row (marts.milestone_slips.unresolved_members counts it). Read by core.program_milestone_items, meta.milestone_snapshots and marts.milestone_slips.';
COMMENT ON COLUMN core.program_milestone_sprints.program_id IS 'Program of the program milestone.';
COMMENT ON COLUMN core.program_milestone_sprints.milestone_id IS 'program:<program id>:<name> (meta.program_milestones.milestone_id).';
COMMENT ON COLUMN core.program_milestone_sprints.site IS 'Site of the member''s project.';
COMMENT ON COLUMN core.program_milestone_sprints.project_key IS 'The member''s project (program.yaml members[].project).';
COMMENT ON COLUMN core.program_milestone_sprints.member_name IS 'The sprint name the member gives (program.yaml members[].sprint).';
COMMENT ON COLUMN core.program_milestone_sprints.sprint_id IS 'core.sprints.sprint_id of a sprint of that name that is the project''s.';
