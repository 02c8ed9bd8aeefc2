-- core.status_transitions: every status change of every work item, oldest first, with the item's
-- creation as the first row (from_status null), rebuilt from Jira changelogs and GitHub issue events.
-- Item-scoped: a night merges the items whose changelogs, events or rows changed (meta.item_deltas).
-- [rows]
CREATE OR REPLACE TEMP VIEW _rows AS
WITH jira_statuses AS (
    SELECT site, s->>'id' AS status_id, s->>'name' AS name,
           CASE s->>'$.statusCategory.key'
               WHEN 'new' THEN 'todo' WHEN 'indeterminate' THEN 'in_progress' WHEN 'done' THEN 'done'
           END AS category
    FROM (SELECT site, unnest(json_extract(statuses, '$[*]')) AS s FROM raw.jira_sites)
),
jira_changes AS (
    SELECT c.item_id, c.changed_at, c.from_value AS from_status, c.to_value AS to_status,
           fs.category AS from_category, ts.category AS to_category,
           1 AS seq, c.history_id AS tiebreak
    FROM core.jira_changelog_items c
    LEFT JOIN jira_statuses fs ON fs.site = c.site AND fs.status_id = c.from_id
    LEFT JOIN jira_statuses ts ON ts.site = c.site AND ts.status_id = c.to_id
    WHERE c.field = 'status' AND in_scope(c.item_id)
),
-- GitHub: state comes from closed/reopened events, in-progress from the status labels.
gh_events AS (  -- status labels are the ones the site's rules read as a status (meta.label_rules)
    SELECT 'github:' || e.issue_id AS item_id, e.created_at AS changed_at,
           e.event, r.value AS status_label, r.precedence
    FROM staging.github_issue_events e
    LEFT JOIN meta.label_rules r ON r.site = e.site AND r.rule = 'status' AND r.label = lower(e.label)
    WHERE e.event IN ('closed', 'reopened', 'labeled', 'unlabeled') AND in_scope('github:' || e.issue_id)
),
gh_moments AS (  -- events at one instant act together (an unlabel and a label, a close and an unlabel)
    SELECT item_id, changed_at,
           bool_or(event = 'closed') AS closed,
           bool_or(event = 'reopened') AS reopened,
           arg_min(status_label, precedence) FILTER (WHERE event = 'labeled' AND status_label IS NOT NULL) AS label_on,
           bool_or(event = 'unlabeled' AND status_label IS NOT NULL) AS label_off
    FROM gh_events GROUP BY item_id, changed_at
),
gh_state AS (
    SELECT item_id, changed_at,
           last_value(CASE WHEN closed THEN true WHEN reopened THEN false END IGNORE NULLS) OVER w AS is_closed,
           last_value(CASE WHEN label_on IS NOT NULL THEN label_on WHEN label_off THEN 'open' END IGNORE NULLS) OVER w AS label_state
    FROM gh_moments
    WINDOW w AS (PARTITION BY item_id ORDER BY changed_at ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
),
gh_status AS (
    SELECT item_id, changed_at, CASE WHEN is_closed THEN 'closed' ELSE coalesce(label_state, 'open') END AS status, 1 AS seq
    FROM gh_state
    UNION ALL
    SELECT item_id, created_at, 'open', 0 FROM core.work_items WHERE source = 'github' AND in_scope(item_id)
),
gh_changes AS (
    SELECT item_id, changed_at, lag(status) OVER (PARTITION BY item_id ORDER BY changed_at, seq) AS from_status,
           status AS to_status, seq
    FROM gh_status
),
gh_categorised AS (
    SELECT item_id, changed_at, from_status, to_status,
           CASE WHEN from_status IS NULL THEN NULL WHEN from_status = 'closed' THEN 'done'
                WHEN from_status = 'open' THEN 'todo' ELSE 'in_progress' END AS from_category,
           CASE to_status WHEN 'closed' THEN 'done' WHEN 'open' THEN 'todo' ELSE 'in_progress' END AS to_category,
           seq, NULL::VARCHAR AS tiebreak
    FROM gh_changes
    WHERE from_status IS DISTINCT FROM to_status
),
jira_created AS (
    -- the status an issue was created in: its first status change's from-status, with that status's
    -- own category (null where the site's status list lacks it; never another change's); the current
    -- status and category only when it never changed status
    SELECT w.item_id, w.created_at AS changed_at, NULL::VARCHAR AS from_status,
           CASE WHEN first.item_id IS NULL THEN w.status ELSE first.created_in.status END AS to_status,
           NULL::VARCHAR AS from_category,
           CASE WHEN first.item_id IS NULL THEN w.status_category ELSE first.created_in.category END AS to_category,
           0 AS seq, NULL::VARCHAR AS tiebreak
    FROM core.work_items w
    LEFT JOIN (SELECT item_id,  -- one struct: arg_min skips a null value, never a struct of nulls
                      arg_min({'status': from_status, 'category': from_category},
                              (changed_at, TRY_CAST(tiebreak AS BIGINT), tiebreak)) AS created_in
               FROM jira_changes GROUP BY item_id) first USING (item_id)
    WHERE w.source = 'jira' AND in_scope(w.item_id)
),
all_changes AS (
    SELECT * FROM jira_created
    UNION ALL SELECT * FROM jira_changes WHERE item_id IN (SELECT item_id FROM core.work_items)
    UNION ALL SELECT * FROM gh_categorised WHERE item_id IN (SELECT item_id FROM core.work_items)
)
SELECT item_id, changed_at, from_status, to_status, from_category, to_category,
       row_number() OVER (PARTITION BY item_id ORDER BY changed_at, seq, tiebreak) AS transition_seq
FROM all_changes;

-- [comments]
COMMENT ON TABLE core.status_transitions IS 'Status history: one row per status change of a work item, plus its creation (from_status null). Jira: changelog status items (embedded and paged, raw.jira_changelogs); GitHub: closed/reopened events and the labels the site''s status rules name (meta.label_rules).';
COMMENT ON COLUMN core.status_transitions.item_id IS 'core.work_items.item_id.';
COMMENT ON COLUMN core.status_transitions.changed_at IS 'When the status changed (UTC).';
COMMENT ON COLUMN core.status_transitions.from_status IS 'Status before the change; null on the creation row.';
COMMENT ON COLUMN core.status_transitions.to_status IS 'Status after the change. On a Jira creation row: the from-status of the issue''s first status change, or its current status when it never changed status.';
COMMENT ON COLUMN core.status_transitions.from_category IS 'todo, in_progress or done for from_status; null on the creation row.';
COMMENT ON COLUMN core.status_transitions.to_category IS 'todo, in_progress or done for to_status; null when the site''s status list (raw.jira_sites.statuses) lacks that status.';
COMMENT ON COLUMN core.status_transitions.transition_seq IS '1 for the creation row, then 2, 3, ... in time order within the item.';
