-- staging.jira_issues: each Jira issue's JSON parsed once, into the typed columns the core tables
-- read. One json_extract_string with a list of paths parses a payload once for all of them (one
-- path at a time parses it once per path); {{JIRA_CUSTOM_FIELD_PATHS}} is the list of the sites'
-- custom field paths (story points, epic link, sprint: raw.jira_sites.field_roles), filled in by
-- transforms/build.py from field ids it has checked, and {{JIRA_CUSTOM_FIELD_IDS}} their ids in the
-- same order. Incremental: only issues whose raw row was landed again, is new or is gone, or whose
-- site's field roles changed, are deleted and parsed again.
CREATE OR REPLACE TEMP TABLE _staging_jira_roles AS
SELECT site, md5(coalesce(field_roles::VARCHAR, '')) AS roles_hash,
       field_roles->>'story_points' AS points_field, field_roles->>'epic_link' AS epic_field,
       field_roles->>'sprint' AS sprint_field
FROM raw.jira_sites;

CREATE OR REPLACE TEMP TABLE _staging_jira_changed AS
SELECT coalesce(r.site, s.site) AS site, coalesce(r.issue_id, s.issue_id) AS issue_id
FROM (SELECT i.site, i.issue_id, i.synced_at, ro.roles_hash
      FROM raw.jira_issues i LEFT JOIN _staging_jira_roles ro ON ro.site = i.site) r
FULL JOIN staging.jira_issues s ON s.site = r.site AND s.issue_id = r.issue_id
WHERE r.site IS NULL OR s.site IS NULL OR r.synced_at <> s.issue_synced_at
   OR r.roles_hash IS DISTINCT FROM s.roles_hash;

DELETE FROM staging.jira_issues s
WHERE EXISTS (SELECT 1 FROM _staging_jira_changed c WHERE c.site = s.site AND c.issue_id = s.issue_id);

INSERT INTO staging.jira_issues BY NAME
WITH parsed AS (
    SELECT i.site, i.issue_id, i.project_key, i.issue_key, i.synced_at AS issue_synced_at, ro.roles_hash,
           ro.points_field, ro.epic_field, ro.sprint_field,
           json_extract_string(i.payload, [
               '$.fields.project.name', '$.fields.summary', '$.fields.issuetype.name', '$.fields.status.name',
               '$.fields.status.statusCategory.key', '$.fields.resolution.name', '$.fields.priority.name',
               '$.fields.labels', '$.fields.components', '$.fields.assignee.displayName',
               '$.fields.assignee.accountId', '$.fields.assignee.name', '$.fields.reporter.displayName',
               '$.fields.reporter.accountId', '$.fields.reporter.name', '$.fields.created', '$.fields.updated',
               '$.fields.resolutiondate', '$.fields.duedate', '$.fields.parent.key', '$.fields.fixVersions',
               '$.fields.issuelinks', '$.fields.description'{{JIRA_CUSTOM_FIELD_PATHS}}]) AS v
    FROM raw.jira_issues i
    JOIN _staging_jira_changed c ON c.site = i.site AND c.issue_id = i.issue_id
    LEFT JOIN _staging_jira_roles ro ON ro.site = i.site
),
custom AS (  -- the custom fields' values by the role the issue's site gives them (23 paths precede them)
    SELECT *, [{{JIRA_CUSTOM_FIELD_IDS}}]::VARCHAR[] AS custom_ids FROM parsed
)
SELECT site, issue_id, project_key, issue_key, issue_synced_at, roles_hash,
       v[1] AS project_name, v[2] AS summary, v[3] AS issue_type, v[4] AS status, v[5] AS status_category_key,
       v[6] AS resolution, v[7] AS priority,
       coalesce(json_extract_string(v[8], '$[*]'), []) AS labels,
       coalesce(json_extract_string(v[9], '$[*].name'), []) AS components,
       v[10] AS assignee, coalesce(v[11], v[12]) AS assignee_id,
       v[13] AS reporter, coalesce(v[14], v[15]) AS reporter_id,
       v[16]::TIMESTAMPTZ AS created_at, v[17]::TIMESTAMPTZ AS updated_at, v[18]::TIMESTAMPTZ AS resolved_at,
       TRY_CAST(v[19] AS DATE) AS due_date,
       TRY_CAST(v[23 + list_position(custom_ids, points_field)] AS DOUBLE) AS story_points,
       v[20] AS parent_key,
       v[23 + list_position(custom_ids, epic_field)] AS epic_link,
       json_extract_string(v[21], '$[0].id') AS first_fix_version_id,
       coalesce(json_extract_string(v[21], '$[*].name'), []) AS fix_versions,
       CAST(json_extract(v[23 + list_position(custom_ids, sprint_field)], '$[*]') AS JSON[]) AS sprints,
       coalesce(CAST(json_extract(v[22], '$[*]') AS JSON[]), []) AS issuelinks,
       CASE WHEN v[23] IS NULL THEN NULL
            -- ADF (Cloud, API v3), a JSON object: its text and smart-link urls in order
            WHEN starts_with(v[23], '{') AND json_valid(v[23]) AND json_type(v[23]) = 'OBJECT' THEN
                array_to_string(regexp_extract_all(v[23], '"(?:text|url)"\s*:\s*"((?:[^"\\]|\\.)*)"', 1), ' ')
            ELSE v[23]   -- wiki text (Server/DC, API v2)
       END AS description_text
FROM custom;
