-- core.projects: the configured projects (meta.configured_projects, written from program.yaml)
-- with the names their trackers give them.
CREATE OR REPLACE TABLE core.projects AS
WITH jira_names AS (  -- the name on the most recently updated issue: after a rename, the new one
    SELECT site, project_key, arg_max(project_name, (updated_at, project_name)) AS tracker_name
    FROM staging.jira_issues GROUP BY site, project_key
),
github_names AS (
    SELECT site, repo AS project_key, payload->>'full_name' AS tracker_name,
           payload->>'html_url' AS url
    FROM raw.github_repos
)
SELECT c.program_id, c.site, c.source, c.project_key,
       coalesce(c.configured_name, j.tracker_name, g.tracker_name, c.project_key) AS project_name,
       CASE WHEN c.source = 'jira' THEN (s.server_info->>'baseUrl') || '/browse/' || c.project_key ELSE g.url END AS url
FROM meta.configured_projects c
LEFT JOIN jira_names j ON c.source = 'jira' AND j.site = c.site AND j.project_key = c.project_key
LEFT JOIN github_names g ON c.source = 'github' AND g.site = c.site AND g.project_key = c.project_key
LEFT JOIN raw.jira_sites s ON c.source = 'jira' AND s.site = c.site;

COMMENT ON TABLE core.projects IS 'One row per configured project or repository (program.yaml), with the name its tracker gives it.';
COMMENT ON COLUMN core.projects.program_id IS 'Program the project belongs to (core.programs.program_id).';
COMMENT ON COLUMN core.projects.site IS 'Tracker site name from program.yaml.';
COMMENT ON COLUMN core.projects.source IS 'jira or github.';
COMMENT ON COLUMN core.projects.project_key IS 'Jira project key or GitHub owner/name.';
COMMENT ON COLUMN core.projects.project_name IS 'Name from program.yaml, else the Jira project name as its most recently updated issue shows it (after a rename, the new one), or the GitHub full name.';
COMMENT ON COLUMN core.projects.url IS 'Link to the project in its tracker.';
