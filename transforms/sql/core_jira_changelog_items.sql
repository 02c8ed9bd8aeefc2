-- core.jira_changelog_items: every item of every Jira changelog history, for the tables that read
-- history (core.status_transitions, core.item_changes). A search result embeds at most 100
-- histories (Cloud), parsed with the issue into staging.jira_issues.histories; the rest are paged
-- into raw.jira_changelogs and parsed here, once per landed version; a history found in both is
-- kept once (as embedded: both are the same history). Item-scoped: in_scope() is every issue on a full build, else the night's changed ones.
-- [rows]
CREATE OR REPLACE TEMP VIEW _rows AS
WITH paged AS (  -- histories beyond those embedded, of issues held
    SELECT l.site, l.issue_id, l.history_id, l.payload
    FROM raw.jira_changelogs l
    WHERE in_scope('jira:' || l.site || ':' || l.issue_id)
      AND EXISTS (SELECT 1 FROM staging.jira_issues i WHERE i.site = l.site AND i.issue_id = l.issue_id)
),
embedded_of_paged AS (  -- a history may be both embedded and paged: it is kept once, as embedded
    SELECT i.site, i.issue_id, unnest(i.histories).id AS history_id
    FROM staging.jira_issues i
    WHERE EXISTS (SELECT 1 FROM paged p WHERE p.site = i.site AND p.issue_id = i.issue_id)
),
histories AS (
    SELECT i.site, i.issue_id, unnest(i.histories) AS h
    FROM staging.jira_issues i
    WHERE in_scope('jira:' || i.site || ':' || i.issue_id)
    UNION ALL
    SELECT p.site, p.issue_id, from_json(p.payload, '{"id": "VARCHAR", "created": "VARCHAR", "author": {"displayName": "VARCHAR", "name": "VARCHAR"}, "items": [{"fieldtype": "VARCHAR", "fieldId": "VARCHAR", "field": "VARCHAR", "from": "VARCHAR", "fromString": "VARCHAR", "to": "VARCHAR", "toString": "VARCHAR"}]}') AS h
    FROM paged p
    WHERE NOT EXISTS (SELECT 1 FROM embedded_of_paged e
                      WHERE e.site = p.site AND e.issue_id = p.issue_id AND e.history_id = p.history_id)
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

-- [comments]
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
