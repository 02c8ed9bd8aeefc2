-- marts.program_health: the program rows of marts.health with their reasons as a list and the
-- counts of their projects' verdicts. A program is never greener than its critical path (the roll-up
-- in marts.health_reasons) nor than a project whose reasons it repeats here.
CREATE OR REPLACE TABLE marts.program_health AS
WITH health AS (SELECT * FROM marts.health WHERE level = 'program'),
reasons AS (
    SELECT program_id,
           coalesce(list(sentence ORDER BY dimension <> 'freshness', reason_rank)
                        FILTER (WHERE verdict <> 'green' AND dimension NOT IN ('overall')
                                AND NOT (dimension = 'forecast' AND verdict = 'unknown')),
                    list(sentence ORDER BY reason_rank) FILTER (WHERE is_summary AND dimension <> 'overall')) AS reasons
    FROM marts.health_reasons WHERE level = 'program'
    GROUP BY program_id
),
projects AS (
    SELECT program_id, count(*) AS projects,
           count(*) FILTER (WHERE health = 'red') AS projects_red,
           count(*) FILTER (WHERE health = 'amber') AS projects_amber,
           count(*) FILTER (WHERE health = 'green') AS projects_green,
           count(*) FILTER (WHERE health = 'unknown') AS projects_unknown,
           CAST(sum(items) AS BIGINT) AS items, CAST(sum(items_done) AS BIGINT) AS items_done
    FROM marts.project_health GROUP BY program_id
),
cross_program AS (  -- open dependencies where this program's work waits on another program
    SELECT program_id, count(*) AS open_blockers_from_other_programs
    FROM marts.dependency_risk WHERE reach = 'cross_program' GROUP BY program_id
)
SELECT g.program_id, g.name AS program_name, (SELECT max(as_of) FROM marts.project_health) AS as_of,
       coalesce(CASE WHEN coalesce(p.projects, 0) = 0 THEN 'unknown' END, h.health, 'unknown') AS health,
       CASE WHEN coalesce(p.projects, 0) = 0 THEN ['No projects synced for this program.'] ELSE r.reasons END AS reasons,
       coalesce(p.projects, 0) AS projects, coalesce(p.projects_red, 0) AS projects_red,
       coalesce(p.projects_amber, 0) AS projects_amber, coalesce(p.projects_green, 0) AS projects_green,
       coalesce(p.projects_unknown, 0) AS projects_unknown,
       coalesce(c.open_blockers_from_other_programs, 0) AS open_blockers_from_other_programs,
       coalesce(p.items, 0) AS items, coalesce(p.items_done, 0) AS items_done
FROM core.programs g
LEFT JOIN health h USING (program_id)
LEFT JOIN reasons r USING (program_id)
LEFT JOIN projects p USING (program_id)
LEFT JOIN cross_program c USING (program_id);

COMMENT ON TABLE marts.program_health IS 'One row per program: its health from marts.health (rolled up from its own dimensions and its critical path; rules on marts.health_reasons) with the reasons as a list, and its projects'' verdicts counted.';
COMMENT ON COLUMN marts.program_health.program_id IS 'Program id from program.yaml.';
COMMENT ON COLUMN marts.program_health.program_name IS 'Program name from program.yaml.';
COMMENT ON COLUMN marts.program_health.as_of IS 'The instant the verdict describes (UTC).';
COMMENT ON COLUMN marts.program_health.health IS 'marts.health.health of the program: red, amber, green or unknown; unknown when no project has data or one is stale. Never greener than its critical path.';
COMMENT ON COLUMN marts.program_health.reasons IS 'Sentences (marts.health_reasons): stale projects first, then the red, amber and unknown reasons worst first, critical path included; every summary when all is green. BI tools read marts.health_reasons instead.';
COMMENT ON COLUMN marts.program_health.projects IS 'Projects in the program.';
COMMENT ON COLUMN marts.program_health.projects_red IS 'Projects whose health is red.';
COMMENT ON COLUMN marts.program_health.projects_amber IS 'Projects whose health is amber.';
COMMENT ON COLUMN marts.program_health.projects_green IS 'Projects whose health is green.';
COMMENT ON COLUMN marts.program_health.projects_unknown IS 'Projects whose health is unknown.';
COMMENT ON COLUMN marts.program_health.open_blockers_from_other_programs IS 'Open dependencies where work of this program is blocked by work of another program, or by an item outside the synced projects (marts.dependency_risk reach cross_program).';
COMMENT ON COLUMN marts.program_health.items IS 'Work items (epics excluded) across the program''s projects.';
COMMENT ON COLUMN marts.program_health.items_done IS 'Of items, those done.';
