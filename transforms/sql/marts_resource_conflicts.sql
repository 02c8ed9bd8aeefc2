-- marts.resource_conflicts: people split too thin as of as_of: work in progress (METRICS.md WIP:
-- in_progress now, epics left out) in meta.people_settings.conflict_min_projects projects or more,
-- or more items in progress than conflict_wip_limit. An item is the person's whose identity it is
-- assigned to (core.person_identities), on whichever tracker.
CREATE OR REPLACE TABLE marts.resource_conflicts AS
WITH settings AS (SELECT * FROM meta.people_settings),
wip AS (
    SELECT i.person_id, f.item_id, f.program_id, w.site, f.project_key, f.age_days
    FROM marts.item_flow f
    JOIN core.work_items w USING (item_id)
    JOIN core.person_identities i ON i.site = w.site AND i.identity_id = w.assignee_id
    WHERE f.is_wip
),
per_project AS (
    SELECT person_id, site, project_key, program_id, count(*)::INTEGER AS items FROM wip GROUP BY ALL
),
per_person AS (
    SELECT person_id, sum(items)::INTEGER AS wip_items, count(*)::INTEGER AS wip_projects,
           count(DISTINCT program_id)::INTEGER AS wip_programs,
           string_agg(project_key || ' (' || items || ')', ', ' ORDER BY items DESC, project_key) AS projects,
           string_agg(DISTINCT program_id, ', ' ORDER BY program_id) AS programs
    FROM per_project GROUP BY person_id
),
judged AS (
    SELECT pp.*, p.display_name, s.conflict_min_projects AS min_projects, s.conflict_wip_limit AS wip_limit,
           pp.wip_projects >= s.conflict_min_projects AS in_too_many_projects,
           pp.wip_items > s.conflict_wip_limit AS over_wip_limit,
           (SELECT max(age_days) FROM wip WHERE wip.person_id = pp.person_id) AS oldest_wip_days
    FROM per_person pp JOIN core.people p USING (person_id), settings s
)
SELECT person_id, display_name AS person_name, getvariable('as_of') AS as_of, wip_items, wip_projects, projects,
       wip_programs, programs, in_too_many_projects, over_wip_limit, min_projects, wip_limit, oldest_wip_days,
       display_name || ' has ' || wip_items || CASE WHEN wip_items = 1 THEN ' item' ELSE ' items' END || ' in progress'
       || CASE WHEN over_wip_limit THEN ' (limit ' || wip_limit || ')' ELSE '' END
       || ' in ' || wip_projects || CASE WHEN wip_projects = 1 THEN ' project' ELSE ' projects' END
       || CASE WHEN in_too_many_projects THEN ' (' || min_projects || ' or more is a conflict)' ELSE '' END
       || ': ' || projects || '; ' || CASE WHEN wip_programs = 1 THEN 'program ' ELSE 'programs ' END || programs
       || '.' AS reason
FROM judged
WHERE in_too_many_projects OR over_wip_limit;

COMMENT ON TABLE marts.resource_conflicts IS 'People split too thin as of as_of, one row each: work in progress (METRICS.md WIP: in_progress now, epics left out) in meta.people_settings.conflict_min_projects projects or more (default 3), or more items in progress than conflict_wip_limit (default 5); program.yaml people.resource_conflicts sets both. A person is one across trackers (core.people). Their items: marts.resource_conflict_items.';
COMMENT ON COLUMN marts.resource_conflicts.person_id IS 'core.people.person_id.';
COMMENT ON COLUMN marts.resource_conflicts.person_name IS 'core.people.display_name (tracker text: escape before rendering).';
COMMENT ON COLUMN marts.resource_conflicts.as_of IS 'The instant the figures describe.';
COMMENT ON COLUMN marts.resource_conflicts.wip_items IS 'Items assigned to the person and in progress now (METRICS.md WIP), on every tracker.';
COMMENT ON COLUMN marts.resource_conflicts.wip_projects IS 'Projects (site and project key) in which the person has work in progress.';
COMMENT ON COLUMN marts.resource_conflicts.projects IS 'Those projects with the person''s items in progress in each, most first: PAY (3), acme/web (1).';
COMMENT ON COLUMN marts.resource_conflicts.wip_programs IS 'Programs the person''s work in progress is split across.';
COMMENT ON COLUMN marts.resource_conflicts.programs IS 'Those programs'' ids (core.programs.program_id), comma-separated.';
COMMENT ON COLUMN marts.resource_conflicts.in_too_many_projects IS 'The projects rule fired: wip_projects >= min_projects.';
COMMENT ON COLUMN marts.resource_conflicts.over_wip_limit IS 'The WIP limit rule fired: wip_items > wip_limit.';
COMMENT ON COLUMN marts.resource_conflicts.min_projects IS 'The projects threshold applied (meta.people_settings.conflict_min_projects, default 3).';
COMMENT ON COLUMN marts.resource_conflicts.wip_limit IS 'The WIP limit applied (meta.people_settings.conflict_wip_limit, default 5).';
COMMENT ON COLUMN marts.resource_conflicts.oldest_wip_days IS 'Age in days of the person''s oldest item in progress (METRICS.md age: as_of - started_at).';
COMMENT ON COLUMN marts.resource_conflicts.reason IS 'One sentence with the numbers: items in progress against the limit, projects with their items against the threshold, programs.';
