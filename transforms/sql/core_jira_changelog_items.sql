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

-- from_json reads each payload once into typed lists of structs: no history or change is turned
-- back into JSON text to be parsed again.
INSERT INTO core.jira_changelog_items BY NAME
WITH histories AS (
    SELECT site, issue_id, h FROM (
        SELECT i.site, i.issue_id,
               unnest(from_json(i.payload, '{"changelog": {"histories": [{"id": "VARCHAR", "created": "VARCHAR", "author": {"displayName": "VARCHAR", "name": "VARCHAR"}, "items": [{"fieldtype": "VARCHAR", "fieldId": "VARCHAR", "field": "VARCHAR", "from": "VARCHAR", "fromString": "VARCHAR", "to": "VARCHAR", "toString": "VARCHAR"}]}]}}').changelog.histories) AS h
        FROM raw.jira_issues i JOIN _changelog_changed c ON c.site = i.site AND c.issue_id = i.issue_id
        UNION ALL
        SELECT l.site, l.issue_id, from_json(l.payload, '{"id": "VARCHAR", "created": "VARCHAR", "author": {"displayName": "VARCHAR", "name": "VARCHAR"}, "items": [{"fieldtype": "VARCHAR", "fieldId": "VARCHAR", "field": "VARCHAR", "from": "VARCHAR", "fromString": "VARCHAR", "to": "VARCHAR", "toString": "VARCHAR"}]}') AS h
        FROM raw.jira_changelogs l JOIN _changelog_changed c ON c.site = l.site AND c.issue_id = l.issue_id
    )
    QUALIFY row_number() OVER (PARTITION BY site, issue_id, h.id ORDER BY site) = 1
),
changes AS (
    SELECT site, issue_id, h.id AS history_id, h.created, coalesce(h.author.displayName, h.author.name) AS author,
           unnest(h.items) AS c
    FROM histories
)
SELECT site, issue_id, 'jira:' || site || ':' || issue_id AS item_id, history_id,
       created::TIMESTAMPTZ AS changed_at, author,
       c.fieldtype, c.fieldId AS field_id, c.field, c."from" AS from_id, c.fromString AS from_value,
       c."to" AS to_id, c.toString AS to_value
FROM changes;

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
