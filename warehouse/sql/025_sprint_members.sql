-- A program milestone's sprint member names the sprints of that name that are its project's
-- (core.program_milestone_sprints), not any sprint of that name on the site: boards number their
-- sprints alike. Only the comment changes.
COMMENT ON COLUMN meta.program_milestone_members.member_kind IS 'milestone (a Jira version or GitHub milestone of the project, by name), epic (by key: its children are the scope) or sprint (a Jira sprint by name: the project''s sprints of that name, core.program_milestone_sprints).';
