-- staging.text_references: every dependency phrase in the text of a Jira issue (summary,
-- description) or GitHub issue (title, body; pull requests are not work items and are not read),
-- "blocked by X", "depends on X" or "blocks X", with each target X it names, parsed once per item
-- (the regular expressions are the costly part of core.dependencies). Which work item a target
-- is, and whether it is synced at all, is decided in core.dependencies (see there for the forms X
-- may take). Item-scoped: a night parses the texts of the items parsed again (meta.item_deltas).
-- [rows]
CREATE OR REPLACE TEMP VIEW _rows AS
WITH texts AS (
    SELECT 'jira:' || site || ':' || issue_id AS item_id, issue_key AS key, site, 'jira' AS source, project_key,
           unnest(['title', 'description']) AS field, unnest([summary, description_text]) AS body
    FROM staging.jira_issues
    WHERE in_scope('jira:' || site || ':' || issue_id)
    UNION ALL
    SELECT 'github:' || issue_id, repo || '#' || number, site, 'github', repo,
           unnest(['title', 'body']), unnest([title, body])
    FROM staging.github_issues
    WHERE NOT is_pull_request AND in_scope('github:' || issue_id)
),
phrases AS (  -- every "phrase X[, X and X]" outside code, e.g. 'Blocked by #3 and PAY-12'
    SELECT t.*, unnest(regexp_extract_all(
        regexp_replace(t.body, '(?s)```.*?```|`[^`]*`|\{code[^}]*\}.*?\{code\}|\{noformat[^}]*\}.*?\{noformat\}|\{\{.*?\}\}', ' ', 'g'),
        '(?i)\b(?:blocked\s+by|depends\s+on|blocks)\s*:?\s+\[?'
        || '(?:https?://\S+?/browse/[A-Za-z][A-Za-z0-9_]+-\d+|https?://[^\s/]+/[\w.-]+/[\w.-]+/issues/\d+|[\w.-]+/[\w.-]+#\d+|#\d+|[A-Za-z][A-Za-z0-9_]+-\d+)\b'
        || '(?:(?:\s*[,&]\s*|\s+and\s+|,\s+and\s+)\[?'
        || '(?:https?://\S+?/browse/[A-Za-z][A-Za-z0-9_]+-\d+|https?://[^\s/]+/[\w.-]+/[\w.-]+/issues/\d+|[\w.-]+/[\w.-]+#\d+|#\d+|[A-Za-z][A-Za-z0-9_]+-\d+)\b)*',
        0)) AS phrase
    FROM texts t
    WHERE t.body IS NOT NULL
),
refs AS (  -- one row per target named in a phrase
    SELECT p.*,
           regexp_matches(p.phrase, '(?i)^blocks\b') AS writer_blocks,
           lower(regexp_replace(regexp_extract(p.phrase, '(?i)^(blocked\s+by|depends\s+on|blocks)', 1), '\s+', '_', 'g')) AS verb,
           unnest(regexp_extract_all(p.phrase,
               'https?://\S+?/browse/[A-Za-z][A-Za-z0-9_]+-\d+|https?://[^\s/]+/[\w.-]+/[\w.-]+/issues/\d+|[\w.-]+/[\w.-]+#\d+|#\d+|[A-Za-z][A-Za-z0-9_]+-\d+', 0)) AS target
    FROM phrases p
),
targets AS (
    SELECT r.*,
           CASE WHEN target LIKE '%/browse/%' OR target NOT LIKE '%#%' AND target NOT LIKE '%/issues/%'
                THEN 'jira' ELSE 'github' END AS target_source,
           CASE WHEN target LIKE '%/browse/%' THEN upper(regexp_extract(target, '/browse/(.+)$', 1))
                WHEN target LIKE '%/issues/%' THEN regexp_replace(target, '^https?://[^/]+/(.+)/issues/(\d+)$', '\1#\2')
                WHEN target LIKE '#%' THEN CASE WHEN source = 'github' THEN project_key || target END
                WHEN target LIKE '%#%' THEN target
                ELSE upper(target)
           END AS target_key,
           CASE WHEN target LIKE '%/browse/%' THEN regexp_replace(lower(target), '^https?://', '') END AS target_url
    FROM refs r
)
SELECT item_id, key, site, source, project_key, field, phrase, writer_blocks, verb, target, target_source,
       target_key, target_url
FROM targets;

-- [comments]
COMMENT ON TABLE staging.text_references IS 'One row per target named in a dependency phrase ("blocked by X", "depends on X", "blocks X", outside code) of a Jira or GitHub issue''s text, parsed once per landed version of the issue: input to core.dependencies, which resolves each target to a synced work item or drops it.';
COMMENT ON COLUMN staging.text_references.item_id IS 'The issue whose text holds the phrase (core.work_items.item_id form).';
COMMENT ON COLUMN staging.text_references.key IS 'Its key: PAY-12 or owner/repo#3.';
COMMENT ON COLUMN staging.text_references.site IS 'Its site name from program.yaml.';
COMMENT ON COLUMN staging.text_references.source IS 'jira or github.';
COMMENT ON COLUMN staging.text_references.project_key IS 'Its Jira project key or GitHub owner/name.';
COMMENT ON COLUMN staging.text_references.field IS 'title, body (GitHub) or description (Jira).';
COMMENT ON COLUMN staging.text_references.phrase IS 'The whole phrase as written, e.g. Blocked by #3 and PAY-12 (tracker text).';
COMMENT ON COLUMN staging.text_references.writer_blocks IS 'True for "blocks X": the writer blocks the target; false: the writer waits on it.';
COMMENT ON COLUMN staging.text_references.verb IS 'blocked_by, depends_on or blocks.';
COMMENT ON COLUMN staging.text_references.target IS 'One target as written: #12, owner/repo#3, an issue URL, ABC-123 or a Jira browse URL.';
COMMENT ON COLUMN staging.text_references.target_source IS 'jira or github: the tracker the target names.';
COMMENT ON COLUMN staging.text_references.target_key IS 'The target''s key (ABC-123, owner/repo#3); null for #12 written in Jira.';
COMMENT ON COLUMN staging.text_references.target_url IS 'For a Jira browse URL, the URL without scheme, lower case: it must match the synced site''s; else null.';
