-- staging.jira_issues: each Jira issue's JSON parsed once, into the typed columns the core tables
-- read and its embedded changelog histories. One from_json with a typed schema reads a payload
-- once for every field (one path at a time parses it once per path). {{JIRA_CUSTOM_FIELDS_SCHEMA}}
-- adds the sites' custom fields (story points, epic link, sprint, flagged: raw.jira_sites.field_roles) to
-- the schema and jira_custom_field() picks the one a site gives a role; both are written by
-- transforms/build.py from field ids it has checked to be plain custom field ids.
-- Incremental: only issues whose raw row was landed again, is new or is gone, or whose site's
-- field roles changed, are deleted and parsed again, and recorded in meta.item_deltas.
CREATE OR REPLACE TEMP TABLE _staging_jira_roles AS
SELECT site, md5(coalesce(field_roles::VARCHAR, '')) AS roles_hash,
       field_roles->>'story_points' AS points_field, field_roles->>'epic_link' AS epic_field,
       field_roles->>'sprint' AS sprint_field, field_roles->>'flagged' AS flagged_field
FROM raw.jira_sites;

CREATE OR REPLACE TEMP TABLE _staging_jira_changed AS
SELECT coalesce(r.site, s.site) AS site, coalesce(r.issue_id, s.issue_id) AS issue_id, r.synced_at
FROM (SELECT i.site, i.issue_id, i.synced_at, ro.roles_hash
      FROM raw.jira_issues i LEFT JOIN _staging_jira_roles ro ON ro.site = i.site) r
FULL JOIN staging.jira_issues s ON s.site = r.site AND s.issue_id = r.issue_id
WHERE r.site IS NULL OR s.site IS NULL OR r.synced_at <> s.issue_synced_at
   OR r.roles_hash IS DISTINCT FROM s.roles_hash;

INSERT INTO meta.item_deltas SELECT getvariable('batch'), 'jira:' || site || ':' || issue_id FROM _staging_jira_changed;

DELETE FROM staging.jira_issues s
WHERE EXISTS (SELECT 1 FROM _staging_jira_changed c WHERE c.site = s.site AND c.issue_id = s.issue_id);

CREATE OR REPLACE TEMP MACRO jira_custom_field(f, id) AS CASE id {{JIRA_CUSTOM_FIELD_CASES}} END;

INSERT INTO staging.jira_issues BY NAME
WITH parsed AS (
    SELECT i.site, i.issue_id, i.project_key, i.issue_key, i.synced_at AS issue_synced_at, ro.roles_hash,
           ro.points_field, ro.epic_field, ro.sprint_field, ro.flagged_field,
           from_json(i.payload, '{"fields": {"project": {"name": "VARCHAR"}, "summary": "VARCHAR",
               "issuetype": {"name": "VARCHAR"}, "status": {"name": "VARCHAR", "statusCategory": {"key": "VARCHAR"}},
               "resolution": {"name": "VARCHAR"}, "priority": {"name": "VARCHAR"}, "labels": ["VARCHAR"],
               "components": [{"name": "VARCHAR"}],
               "assignee": {"displayName": "VARCHAR", "accountId": "VARCHAR", "name": "VARCHAR", "emailAddress": "VARCHAR"},
               "reporter": {"displayName": "VARCHAR", "accountId": "VARCHAR", "name": "VARCHAR", "emailAddress": "VARCHAR"},
               "created": "VARCHAR", "updated": "VARCHAR", "resolutiondate": "VARCHAR", "duedate": "VARCHAR",
               "parent": {"key": "VARCHAR"}, "fixVersions": [{"id": "VARCHAR", "name": "VARCHAR"}],
               "issuelinks": ["JSON"], "description": "JSON"{{JIRA_CUSTOM_FIELDS_SCHEMA}}},
             "changelog": {"total": "INTEGER", "histories": [{"id": "VARCHAR", "created": "VARCHAR",
               "author": {"displayName": "VARCHAR", "name": "VARCHAR"},
               "items": [{"fieldtype": "VARCHAR", "fieldId": "VARCHAR", "field": "VARCHAR", "from": "VARCHAR",
                          "fromString": "VARCHAR", "to": "VARCHAR", "toString": "VARCHAR"}]}]}}') AS j
    FROM raw.jira_issues i
    -- on synced_at too: DuckDB then skips the row groups of rows landed before the night's (store.upsert
    -- appends what changed), so a night reads only the payloads it parses
    JOIN _staging_jira_changed c ON c.site = i.site AND c.issue_id = i.issue_id AND c.synced_at = i.synced_at
    LEFT JOIN _staging_jira_roles ro ON ro.site = i.site
),
typed AS (
    SELECT *, j.fields AS f, jira_custom_field(j.fields, sprint_field) AS sprint_json FROM parsed
)
SELECT site, issue_id, project_key, issue_key, issue_synced_at, roles_hash,
       f.project.name AS project_name, f.summary, f.issuetype.name AS issue_type, f.status.name AS status,
       f.status.statusCategory.key AS status_category_key, f.resolution.name AS resolution,
       f.priority.name AS priority, coalesce(f.labels, []) AS labels,
       coalesce(list_transform(f.components, lambda c: c.name), []) AS components,
       f.assignee.displayName AS assignee, coalesce(f.assignee.accountId, f.assignee.name) AS assignee_id,
       f.reporter.displayName AS reporter, coalesce(f.reporter.accountId, f.reporter.name) AS reporter_id,
       nullif(trim(f.assignee.emailAddress), '') AS assignee_email, nullif(trim(f.reporter.emailAddress), '') AS reporter_email,
       f.created::TIMESTAMPTZ AS created_at, f.updated::TIMESTAMPTZ AS updated_at,
       f.resolutiondate::TIMESTAMPTZ AS resolved_at, TRY_CAST(f.duedate AS DATE) AS due_date,
       -- an estimate is a finite number below 1e9 (what points sums, exact to 6 decimals, hold): else none
       CASE WHEN abs(TRY_CAST(jira_custom_field(f, points_field)->>'$' AS DOUBLE)) < 1e9
            THEN TRY_CAST(jira_custom_field(f, points_field)->>'$' AS DOUBLE) END AS story_points,
       f.parent.key AS parent_key,
       jira_custom_field(f, epic_field)->>'$' AS epic_link,
       f.fixVersions[1].id AS first_fix_version_id,
       coalesce(list_transform(f.fixVersions, lambda v: v.name), []) AS fix_versions,
       coalesce(list_transform(f.fixVersions, lambda v: v.id), []) AS fix_version_ids,
       CASE WHEN flagged_field IS NOT NULL
            THEN coalesce(json_array_length(jira_custom_field(f, flagged_field)) > 0, false) END AS flagged,
       CASE WHEN json_type(sprint_json) = 'ARRAY' THEN CAST(json_extract(sprint_json, '$[*]') AS JSON[]) END AS sprints,
       coalesce(f.issuelinks, []) AS issuelinks,
       CASE WHEN f.description IS NULL OR json_type(f.description) = 'NULL' THEN NULL
            -- ADF (Cloud, API v3), a JSON object: its text and smart-link urls in order
            WHEN json_type(f.description) = 'OBJECT' THEN
                array_to_string(regexp_extract_all(f.description::VARCHAR, '"(?:text|url)"\s*:\s*"((?:[^"\\]|\\.)*)"', 1), ' ')
            ELSE f.description->>'$'   -- wiki text (Server/DC, API v2)
       END AS description_text,
       j.changelog.histories AS histories, j.changelog.total AS changelog_total
FROM typed;
