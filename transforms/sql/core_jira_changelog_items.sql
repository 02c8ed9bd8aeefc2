-- core.jira_changelog_items: every item of every Jira changelog history, parsed from JSON once per
-- build for the tables that read history (core.status_transitions, core.item_changes). A search
-- result embeds at most 100 histories (Cloud); the rest are paged into raw.jira_changelogs; a
-- history found in both is kept once.
CREATE OR REPLACE TABLE core.jira_changelog_items AS
WITH histories AS (
    SELECT site, issue_id, history FROM (
        SELECT site, issue_id, unnest(json_extract(payload, '$.changelog.histories[*]')) AS history
        FROM raw.jira_issues
        UNION ALL
        SELECT c.site, c.issue_id, c.payload FROM raw.jira_changelogs c
    )
    QUALIFY row_number() OVER (PARTITION BY site, issue_id, history->>'id' ORDER BY site) = 1
),
items AS (
    SELECT site, issue_id, history->>'id' AS history_id, (history->>'created')::TIMESTAMPTZ AS changed_at,
           coalesce(history->>'$.author.displayName', history->>'$.author.name') AS author,
           unnest(json_extract(history, '$.items[*]')) AS change
    FROM histories
)
SELECT site, issue_id, 'jira:' || site || ':' || issue_id AS item_id, history_id, changed_at, author,
       change->>'fieldtype' AS fieldtype, change->>'fieldId' AS field_id, change->>'field' AS field,
       change->>'from' AS from_id, change->>'fromString' AS from_value,
       change->>'to' AS to_id, change->>'toString' AS to_value
FROM items;

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
