-- core.item_changes: every change of a work item's planning fields (status, assignee, milestone,
-- sprint, story points, due date, labels, title, priority, resolution, parent, flagged), one row per
-- field change, from Jira changelog items and GitHub repo-level issue events.
-- Jira names a field in a changelog item by fieldId (Cloud) or only by its name (Server/DC, and
-- Cloud's parent changes, written as IssueParentAssociation). System fields are matched on
-- coalesce(fieldId, field); the custom ones (Sprint, story points, Epic Link, Flagged) through the
-- site's field_roles (raw.jira_sites), whose ids differ per site. Other fields (Rank, Link,
-- description, ...) are left out.
-- Item-scoped: a night merges the items whose changelogs, events or rows changed
-- (meta.item_deltas), and those [stale] finds: a GitHub milestone change whose milestone number
-- (looked up by title in raw.github_milestones) is no longer the one held.
-- [stale]
CREATE OR REPLACE TEMP VIEW _stale AS
WITH gh_milestones AS (
    SELECT site, repo, payload->>'title' AS title, any_value(number) AS number
    FROM raw.github_milestones GROUP BY ALL
)
SELECT DISTINCT c.item_id
FROM core.item_changes c
JOIN staging.github_issue_events e ON c.event_id = e.event_id AND 'github:' || e.issue_id = c.item_id
LEFT JOIN gh_milestones m ON m.site = e.site AND m.repo = e.repo AND m.title = e.milestone
WHERE c.source = 'github' AND c.field = 'milestone'
  AND coalesce(c.from_id, c.to_id) IS DISTINCT FROM m.number::VARCHAR;

-- [rows]
CREATE OR REPLACE TEMP VIEW _rows AS
WITH jira_system_fields (match, field) AS (  -- a changelog item's fieldId, or its name when it has none
    VALUES ('status', 'status'), ('assignee', 'assignee'),
           ('fixVersions', 'milestone'), ('Fix Version', 'milestone'),
           ('duedate', 'due_date'), ('labels', 'labels'), ('summary', 'title'),
           ('priority', 'priority'), ('resolution', 'resolution'),
           ('parent', 'parent'), ('Parent', 'parent'), ('IssueParentAssociation', 'parent')
),
jira_site_fields AS (  -- GET /field: a custom field's name, which is all a Server/DC changelog item gives
    SELECT site, f->>'id' AS field_id, f->>'name' AS name
    FROM (SELECT site, unnest(json_extract(fields, '$[*]')) AS f FROM raw.jira_sites)
),
jira_roles AS (  -- the site's custom fields by role, with the names to fall back on when it has none
    SELECT r.site, r.field, r.field_id, f.name AS field_name, r.default_names
    FROM (SELECT site, 'sprint' AS field, field_roles->>'sprint' AS field_id, ['Sprint'] AS default_names
          FROM raw.jira_sites
          UNION ALL
          SELECT site, 'story_points', field_roles->>'story_points', ['Story Points', 'Story point estimate']
          FROM raw.jira_sites
          UNION ALL
          SELECT site, 'parent', field_roles->>'epic_link', ['Epic Link'] FROM raw.jira_sites
          UNION ALL
          SELECT site, 'flagged', field_roles->>'flagged', ['Flagged'] FROM raw.jira_sites) r
    LEFT JOIN jira_site_fields f ON f.site = r.site AND f.field_id = r.field_id
),
jira_items AS (
    SELECT site, item_id, changed_at, history_id, author, fieldtype, field_id, field AS tracker_field,
           nullif(from_value, '') AS from_value, nullif(to_value, '') AS to_value,
           nullif(from_id, '') AS from_id, nullif(to_id, '') AS to_id
    FROM core.jira_changelog_items
    WHERE in_scope(item_id)
),
jira_changes AS (
    SELECT c.* EXCLUDE (fieldtype, field_id), s.field
    FROM jira_items c
    JOIN jira_system_fields s ON s.match = coalesce(c.field_id, c.tracker_field)
    WHERE c.fieldtype = 'jira'
    UNION ALL BY NAME
    SELECT c.* EXCLUDE (fieldtype, field_id), r.field
    FROM (SELECT * FROM jira_items WHERE fieldtype = 'custom') c
    JOIN jira_roles r
      ON r.site = c.site
     AND CASE WHEN r.field_id IS NULL THEN list_contains(r.default_names, c.tracker_field)
              WHEN c.field_id IS NOT NULL THEN c.field_id = r.field_id
              WHEN r.field_name IS NOT NULL THEN c.tracker_field = r.field_name
              ELSE list_contains(r.default_names, c.tracker_field) END
),
gh_milestones AS (  -- events name a milestone by title only; titles are unique within a repository
    SELECT site, repo, payload->>'title' AS title, any_value(number) AS number
    FROM raw.github_milestones GROUP BY ALL
),
gh_events AS (
    SELECT e.site, e.repo, 'github:' || e.issue_id AS item_id, e.created_at AS changed_at,
           e.event, e.actor AS author, e.event_id, e.assignee, e.milestone, e.label,
           e.rename_from AS old_title, e.rename_to AS new_title
    FROM staging.github_issue_events e
    WHERE e.event IN ('assigned', 'unassigned', 'milestoned', 'demilestoned', 'labeled', 'unlabeled',
                                  'renamed', 'closed', 'reopened')
      AND in_scope('github:' || e.issue_id)
),
gh_changes AS (
    SELECT e.item_id, e.changed_at,
           CASE WHEN e.event IN ('assigned', 'unassigned') THEN 'assignee'
                WHEN e.event IN ('milestoned', 'demilestoned') THEN 'milestone'
                WHEN e.event IN ('labeled', 'unlabeled') THEN 'labels'
                WHEN e.event = 'renamed' THEN 'title'
                ELSE 'status' END AS field,
           e.event AS tracker_field,
           CASE e.event WHEN 'unassigned' THEN e.assignee WHEN 'demilestoned' THEN e.milestone
                        WHEN 'unlabeled' THEN e.label WHEN 'renamed' THEN e.old_title
                        WHEN 'closed' THEN 'open' WHEN 'reopened' THEN 'closed' END AS from_value,
           CASE e.event WHEN 'assigned' THEN e.assignee WHEN 'milestoned' THEN e.milestone
                        WHEN 'labeled' THEN e.label WHEN 'renamed' THEN e.new_title
                        WHEN 'closed' THEN 'closed' WHEN 'reopened' THEN 'open' END AS to_value,
           CASE e.event WHEN 'unassigned' THEN e.assignee WHEN 'demilestoned' THEN m.number::VARCHAR END AS from_id,
           CASE e.event WHEN 'assigned' THEN e.assignee WHEN 'milestoned' THEN m.number::VARCHAR END AS to_id,
           e.author, e.event_id
    FROM gh_events e
    LEFT JOIN gh_milestones m ON m.site = e.site AND m.repo = e.repo AND m.title = e.milestone
),
all_changes AS (
    SELECT * EXCLUDE (site), NULL::BIGINT AS event_id FROM jira_changes
    UNION ALL BY NAME
    SELECT * FROM gh_changes
)
-- only synced work items: the join drops pull requests (core.work_items leaves out every issue whose
-- pull_request.url or html_url is set) and items of projects no longer configured
SELECT c.item_id, w.key, w.source, c.changed_at, c.field, c.from_value, c.to_value, c.from_id, c.to_id,
       c.author, c.tracker_field, c.history_id, c.event_id
FROM all_changes c
JOIN core.work_items w USING (item_id);

-- [comments]
COMMENT ON TABLE core.item_changes IS 'Field history: one row per change of a work item''s status, assignee, milestone, sprint, story points, due date, labels, title, priority, resolution, parent or Jira Flagged (scope changes, re-estimates, slips, hand-offs). Jira: the changelog items of every history (embedded and paged, raw.jira_changelogs, once per history id); changes to other Jira fields (Rank, links, description, ...) are left out. GitHub: repo-level issue events (assigned/unassigned, milestoned/demilestoned, labeled/unlabeled, renamed, closed/reopened); pull requests are not work items and are left out. Values are tracker text: escape before rendering.';
COMMENT ON COLUMN core.item_changes.item_id IS 'core.work_items.item_id.';
COMMENT ON COLUMN core.item_changes.key IS 'The item''s current key (core.work_items.key): PAY-12 or acme/web#34.';
COMMENT ON COLUMN core.item_changes.source IS 'jira or github.';
COMMENT ON COLUMN core.item_changes.changed_at IS 'When the change was made (UTC): the Jira history''s created, or the GitHub event''s created_at.';
COMMENT ON COLUMN core.item_changes.field IS 'What changed: status, assignee, milestone (Jira Fix Version, GitHub milestone), sprint, story_points, due_date, labels, title (Jira summary), priority, resolution parent (Jira Parent, IssueParentAssociation or Epic Link: Cloud may record one re-parenting under two of these, in two rows) or flagged (Jira Software''s Flagged field: to_value Impediment when set, null when cleared). Jira custom fields are found by the site''s field ids (raw.jira_sites.field_roles), by their name where a Server/DC changelog gives no id, and without a role by the names Sprint, Story Points / Story point estimate, Epic Link, Flagged. GitHub has no sprint, story_points, due_date, priority, resolution, parent or flagged rows.';
COMMENT ON COLUMN core.item_changes.from_value IS 'Value before the change as the tracker displays it (Jira fromString; GitHub: the unassigned login, demilestoned title, unlabeled label, rename.from, or open/closed for a reopen/close). Null when the field was empty, or for an addition. Jira multi-value fields: Fix Version has one row per version added (from null) or removed (to null); labels and Sprint list the whole set before and after (labels space-separated, sprints comma-separated).';
COMMENT ON COLUMN core.item_changes.to_value IS 'Value after the change as the tracker displays it (Jira toString; GitHub: the assigned login, milestoned title, labeled label, rename.to, or closed/open). Null when the field was cleared, or for a removal.';
COMMENT ON COLUMN core.item_changes.from_id IS 'Tracker id of the value before: Jira from (status, version, priority, resolution or parent issue id, account id on Cloud or user key on Server/DC, comma-separated sprint ids); GitHub the unassigned login, or the demilestoned milestone''s number (found by title in raw.github_milestones; null when no milestone has that title now). Null where the tracker gives no id (story points, labels, titles, GitHub labels and state).';
COMMENT ON COLUMN core.item_changes.to_id IS 'Tracker id of the value after, as from_id: Jira to; GitHub the assigned login or the milestoned milestone''s number.';
COMMENT ON COLUMN core.item_changes.author IS 'Who made the change: the Jira history author''s display name (user name on Server/DC when there is none), or the GitHub event actor''s login. Null when the tracker names nobody (e.g. a deleted user or automation).';
COMMENT ON COLUMN core.item_changes.tracker_field IS 'What the tracker called it: the Jira changelog item''s field name (Fix Version, Sprint, Story point estimate, summary, ...), or the GitHub event type (assigned, unlabeled, milestoned, ...).';
COMMENT ON COLUMN core.item_changes.history_id IS 'Jira changelog history id (several rows share one when a history changed several fields or versions); null for GitHub.';
COMMENT ON COLUMN core.item_changes.event_id IS 'GitHub issue event id (raw.github_issue_events.event_id); null for Jira.';
