-- core.jira_changelog_items: every item of every Jira changelog history, parsed from JSON once per
-- build for the tables that read history (core.status_transitions, core.item_changes). A search
-- result embeds at most 100 histories (Cloud); the rest are paged into raw.jira_changelogs; a
-- history found in both is kept once.
-- Incremental: an issue's items are parsed again only when its version changed (its issue row was
-- landed again, or its paged histories were), as staging.jira_changelog_versions records it.
CREATE TABLE IF NOT EXISTS core.jira_changelog_items (
    site VARCHAR, issue_id VARCHAR, item_id VARCHAR, history_id VARCHAR, changed_at TIMESTAMPTZ, author VARCHAR,
    fieldtype VARCHAR, field_id VARCHAR, field VARCHAR, from_id VARCHAR, from_value VARCHAR, to_id VARCHAR,
    to_value VARCHAR);

CREATE OR REPLACE TEMP TABLE _changelog_versions AS
SELECT i.site, i.issue_id, i.synced_at AS issue_synced_at, c.changelog_synced_at, coalesce(c.changelog_rows, 0) AS changelog_rows
FROM raw.jira_issues i
LEFT JOIN (SELECT site, issue_id, max(synced_at) AS changelog_synced_at, count(*) AS changelog_rows
           FROM raw.jira_changelogs GROUP BY site, issue_id) c ON c.site = i.site AND c.issue_id = i.issue_id;

CREATE OR REPLACE TEMP TABLE _changelog_changed AS
SELECT coalesce(n.site, o.site) AS site, coalesce(n.issue_id, o.issue_id) AS issue_id
FROM _changelog_versions n
FULL JOIN staging.jira_changelog_versions o ON o.site = n.site AND o.issue_id = n.issue_id
WHERE n.site IS NULL OR o.site IS NULL OR n.issue_synced_at <> o.issue_synced_at
   OR n.changelog_synced_at IS DISTINCT FROM o.changelog_synced_at OR n.changelog_rows <> o.changelog_rows;

DELETE FROM core.jira_changelog_items t
WHERE EXISTS (SELECT 1 FROM _changelog_changed c WHERE c.site = t.site AND c.issue_id = t.issue_id);

INSERT INTO core.jira_changelog_items BY NAME
WITH histories AS (
    SELECT site, issue_id, history FROM (
        SELECT i.site, i.issue_id, unnest(json_extract(i.payload, '$.changelog.histories[*]')) AS history
        FROM raw.jira_issues i JOIN _changelog_changed c ON c.site = i.site AND c.issue_id = i.issue_id
        UNION ALL
        SELECT l.site, l.issue_id, l.payload
        FROM raw.jira_changelogs l JOIN _changelog_changed c ON c.site = l.site AND c.issue_id = l.issue_id
    )
),
parsed AS (  -- each history parsed once for its own fields, and its items once each below
    SELECT site, issue_id, history,
           json_extract_string(history, ['$.id', '$.created', '$.author.displayName', '$.author.name']) AS h
    FROM histories
    QUALIFY row_number() OVER (PARTITION BY site, issue_id, h[1] ORDER BY site) = 1
),
changes AS (
    SELECT site, issue_id, h, unnest(json_extract(history, '$.items[*]')) AS change FROM parsed
),
items AS (
    SELECT site, issue_id, h, json_extract_string(change,
               ['$.fieldtype', '$.fieldId', '$.field', '$.from', '$.fromString', '$.to', '$.toString']) AS c
    FROM changes
)
SELECT site, issue_id, 'jira:' || site || ':' || issue_id AS item_id, h[1] AS history_id,
       h[2]::TIMESTAMPTZ AS changed_at, coalesce(h[3], h[4]) AS author,
       c[1] AS fieldtype, c[2] AS field_id, c[3] AS field, c[4] AS from_id, c[5] AS from_value,
       c[6] AS to_id, c[7] AS to_value
FROM items;

DELETE FROM staging.jira_changelog_versions o
WHERE EXISTS (SELECT 1 FROM _changelog_changed c WHERE c.site = o.site AND c.issue_id = o.issue_id);
INSERT INTO staging.jira_changelog_versions BY NAME
SELECT n.* FROM _changelog_versions n JOIN _changelog_changed c ON c.site = n.site AND c.issue_id = n.issue_id;

COMMENT ON TABLE core.jira_changelog_items IS 'One row per item of every Jira changelog history (a history is one edit; its items are the fields it changed), embedded and paged histories merged once per history id. Every field the tracker recorded, unmapped: core.status_transitions and core.item_changes read from here.';
COMMENT ON COLUMN core.jira_changelog_items.site IS 'Jira site name from program.yaml.';
COMMENT ON COLUMN core.jira_changelog_items.issue_id IS 'Jira numeric issue id (raw.jira_issues.issue_id).';
COMMENT ON COLUMN core.jira_changelog_items.item_id IS 'core.work_items.item_id of the issue: jira:<site>:<issue id>.';
COMMENT ON COLUMN core.jira_changelog_items.history_id IS 'The changelog history (edit) the item belongs to.';
COMMENT ON COLUMN core.jira_changelog_items.changed_at IS 'When the edit was made (UTC).';
COMMENT ON COLUMN core.jira_changelog_items.author IS 'Display name (Cloud) or user name (Server/DC) of who made the edit; null for automation without a user.';
COMMENT ON COLUMN core.jira_changelog_items.fieldtype IS 'jira (a system field) or custom.';
COMMENT ON COLUMN core.jira_changelog_items.field_id IS 'The field''s id (e.g. status, customfield_10020); Server/DC and some Cloud items give none.';
COMMENT ON COLUMN core.jira_changelog_items.field IS 'The field''s name as the tracker wrote it (e.g. status, Sprint, Fix Version).';
COMMENT ON COLUMN core.jira_changelog_items.from_id IS 'Id of the value before (a status id, account id, version id, sprint ids); null or empty when none.';
COMMENT ON COLUMN core.jira_changelog_items.from_value IS 'The value before as displayed (tracker text); null or empty when none.';
COMMENT ON COLUMN core.jira_changelog_items.to_id IS 'Id of the value after; null or empty when none.';
COMMENT ON COLUMN core.jira_changelog_items.to_value IS 'The value after as displayed (tracker text); null or empty when none.';
