-- marts.program_health: one verdict per program, never greener than its worst project, with the
-- reasons of the projects that decide it and the dependencies that cross its boundaries.
CREATE OR REPLACE TABLE marts.program_health AS
WITH rank AS (SELECT * FROM (VALUES ('red', 4), ('amber', 3), ('unknown', 2), ('green', 1)) AS r(health, severity)),
projects AS (
    SELECT h.*, r.severity FROM marts.project_health h JOIN rank r USING (health)
),
per_program AS (
    SELECT program_id, max(severity) AS severity, count(*) AS projects,
           count(*) FILTER (WHERE health = 'red') AS projects_red,
           count(*) FILTER (WHERE health = 'amber') AS projects_amber,
           count(*) FILTER (WHERE health = 'green') AS projects_green,
           count(*) FILTER (WHERE health = 'unknown') AS projects_unknown,
           CAST(sum(items) AS BIGINT) AS items, CAST(sum(items_done) AS BIGINT) AS items_done,
           list(format('{} ({}) is {}: {}', project_name, project_key, health, array_to_string(reasons, ' '))
                ORDER BY severity DESC, project_key) FILTER (WHERE health IN ('red', 'amber') OR stale) AS deciding,
           list(format('{} ({}) is {}.', project_name, project_key, health) ORDER BY project_key) AS summary
    FROM projects GROUP BY program_id
),
cross_program AS (  -- open dependencies where this program's work waits on another program
    SELECT b.program_id, count(*) AS open_blockers_from_other_programs,
           string_agg(format('{} blocks {}', d.blocker_key, d.blocked_key), '; ' ORDER BY d.blocker_key, d.blocked_key) AS pairs
    FROM core.dependencies d JOIN core.work_items b ON b.item_id = d.blocked_item_id
    WHERE d.is_open AND d.cross_program
    GROUP BY b.program_id
)
SELECT g.program_id, g.name AS program_name, (SELECT max(as_of) FROM marts.project_health) AS as_of,
       coalesce((SELECT health FROM rank WHERE severity = p.severity), 'unknown') AS health,
       coalesce(p.deciding, p.summary, ['No projects synced for this program.'])
           || CASE WHEN c.open_blockers_from_other_programs > 0 THEN
                  [format('{} open blocker{} from other programs: {}.', c.open_blockers_from_other_programs,
                          CASE WHEN c.open_blockers_from_other_programs = 1 THEN '' ELSE 's' END, c.pairs)]
              ELSE [] END AS reasons,
       coalesce(p.projects, 0) AS projects, coalesce(p.projects_red, 0) AS projects_red,
       coalesce(p.projects_amber, 0) AS projects_amber, coalesce(p.projects_green, 0) AS projects_green,
       coalesce(p.projects_unknown, 0) AS projects_unknown,
       coalesce(c.open_blockers_from_other_programs, 0) AS open_blockers_from_other_programs,
       coalesce(p.items, 0) AS items, coalesce(p.items_done, 0) AS items_done
FROM core.programs g
LEFT JOIN per_program p USING (program_id)
LEFT JOIN cross_program c USING (program_id);

COMMENT ON TABLE marts.program_health IS 'One row per program: health rolled up from its projects (never greener than the worst one) with the deciding reasons.';
COMMENT ON COLUMN marts.program_health.program_id IS 'Program id from program.yaml.';
COMMENT ON COLUMN marts.program_health.program_name IS 'Program name from program.yaml.';
COMMENT ON COLUMN marts.program_health.as_of IS 'The instant the verdict describes (UTC).';
COMMENT ON COLUMN marts.program_health.health IS 'Worst project health in the order red, amber, unknown, green; unknown when no project has data.';
COMMENT ON COLUMN marts.program_health.reasons IS 'For each red, amber or stale project, its verdict and reasons (all projects when every one is green), then the open blockers that come from other programs.';
COMMENT ON COLUMN marts.program_health.projects IS 'Projects in the program.';
COMMENT ON COLUMN marts.program_health.projects_red IS 'Projects whose health is red.';
COMMENT ON COLUMN marts.program_health.projects_amber IS 'Projects whose health is amber.';
COMMENT ON COLUMN marts.program_health.projects_green IS 'Projects whose health is green.';
COMMENT ON COLUMN marts.program_health.projects_unknown IS 'Projects whose health is unknown.';
COMMENT ON COLUMN marts.program_health.open_blockers_from_other_programs IS 'Open dependencies where work of this program is blocked by work of another program.';
COMMENT ON COLUMN marts.program_health.items IS 'Work items (epics excluded) across the program''s projects.';
COMMENT ON COLUMN marts.program_health.items_done IS 'Of items, those done.';
