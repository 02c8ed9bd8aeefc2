-- core.dependencies: "blocker blocks blocked" pairs from Jira issue links, GitHub "blocked by"
-- dependencies, Jira remote links to GitHub issues, and cross-references written in text. A Jira link appears on both issues (outward on
-- one, inward on the other): one row.
--
-- Text references (source = 'text'): in GitHub issue titles and bodies (pull requests are not work
-- items and are not read) and Jira summaries and descriptions (wiki text on Server/DC; the text and
-- smart-link url nodes of Atlassian Document Format on Cloud), a phrase "blocked by X", "depends on X"
-- or "blocks X" (case-insensitive; X may be a list: "blocked by #1, #2 and PAY-3") where X is
--   #12                                   an issue of the same repository (GitHub text only)
--   owner/repo#3                          a GitHub issue
--   https://host/owner/repo/issues/3      a GitHub issue URL
--   ABC-123                               a Jira key (of any synced site; the writer's site wins a tie)
--   https://host/.../browse/ABC-123       a Jira browse URL (host and path must be a synced site's)
-- References inside code (`x`, ``` fences, {code}, {noformat}, {{x}}) are ignored. Only references
-- whose target is a synced work item are kept (a key that is not synced, e.g. "UTF-8" or an
-- unconfigured project, is dropped, never guessed); an ambiguous key is dropped too. A text reference
-- that repeats a structured link, another text reference or names its own item adds no row.
CREATE OR REPLACE TABLE core.dependencies AS
WITH jira_links AS (  -- every link of a type meta.jira_link_rules calls a dependency, from both ends
    SELECT l.*, r.meaning,
           -- the issue holding the link blocks the other when the rule says so of the outward end
           (json_extract(l.link, '$.outwardIssue') IS NOT NULL) = (r.meaning = 'blocks') AS holder_blocks,
           coalesce(l.link->>'$.outwardIssue.id', l.link->>'$.inwardIssue.id') AS other_id,
           coalesce(l.link->>'$.outwardIssue.key', l.link->>'$.inwardIssue.key') AS other_key
    FROM (SELECT site, issue_id, issue_key, unnest(issuelinks) AS link FROM staging.jira_issues) l
    JOIN meta.jira_link_rules r
      ON r.site = l.site AND r.outward = lower(regexp_replace(trim(l.link->>'$.type.outward'), '\s+', ' ', 'g'))
),
jira_pairs AS (
    SELECT DISTINCT
        'jira:' || site || ':' || CASE WHEN holder_blocks THEN issue_id ELSE other_id END AS blocker_item_id,
        'jira:' || site || ':' || CASE WHEN holder_blocks THEN other_id ELSE issue_id END AS blocked_item_id,
        CASE WHEN holder_blocks THEN issue_key ELSE other_key END AS blocker_key,
        CASE WHEN holder_blocks THEN other_key ELSE issue_key END AS blocked_key,
        'jira' AS source,
        link->>'$.type.name' AS link_type,
        NULL::VARCHAR AS evidence,
        site AS blocker_site,
        site AS blocked_site
    FROM jira_links
),
github_pairs AS (
    SELECT DISTINCT
        'github:' || r.other_id AS blocker_item_id,
        'github:' || g.issue_id AS blocked_item_id,
        regexp_extract(r.payload->>'$.repository_url', '/repos/(.+)$', 1) || '#' || (r.payload->>'$.number') AS blocker_key,
        r.repo || '#' || r.number AS blocked_key,
        'github' AS source,
        'blocked_by' AS link_type,
        NULL::VARCHAR AS evidence,
        r.site AS blocker_site,
        g.site AS blocked_site
    FROM raw.github_issue_relations r
    JOIN raw.github_issues g ON g.site = r.site AND g.repo = r.repo AND g.number = r.number
    WHERE r.relation = 'blocked_by'
),
-- Jira remote links to a synced GitHub issue (raw.jira_remote_links, sites with remote_links: true),
-- matched by the issue's URL; a relationship of "is blocked by", "blocked by" or "depends on" makes
-- the GitHub issue the blocker, "blocks" the Jira issue. Other relationships ("mentioned in",
-- "relates to") are not dependencies.
remote_links AS (
    SELECT r.site, 'jira:' || r.site || ':' || r.issue_id AS jira_item_id, i.issue_key,
           lower(trim(coalesce(r.payload->>'$.relationship', ''))) AS relationship,
           r.payload->>'$.object.url' AS url
    FROM raw.jira_remote_links r
    JOIN raw.jira_issues i ON i.site = r.site AND i.issue_id = r.issue_id
),
remote_pairs AS (
    SELECT DISTINCT
        CASE WHEN l.relationship = 'blocks' THEN l.jira_item_id ELSE w.item_id END AS blocker_item_id,
        CASE WHEN l.relationship = 'blocks' THEN w.item_id ELSE l.jira_item_id END AS blocked_item_id,
        CASE WHEN l.relationship = 'blocks' THEN l.issue_key ELSE w.key END AS blocker_key,
        CASE WHEN l.relationship = 'blocks' THEN w.key ELSE l.issue_key END AS blocked_key,
        'remote_link' AS source,
        l.relationship AS link_type,
        l.issue_key || ' remote link: ' || l.url AS evidence,
        CASE WHEN l.relationship = 'blocks' THEN l.site ELSE w.site END AS blocker_site,
        CASE WHEN l.relationship = 'blocks' THEN w.site ELSE l.site END AS blocked_site
    FROM remote_links l
    JOIN core.work_items w
      ON w.source = 'github'
     AND regexp_replace(lower(w.url), '^https?://|/$', '', 'g') = regexp_replace(lower(l.url), '^https?://|/$', '', 'g')
    WHERE l.relationship IN ('is blocked by', 'blocked by', 'depends on', 'blocks')
),
structured_pairs AS (SELECT * FROM jira_pairs UNION ALL SELECT * FROM github_pairs UNION ALL SELECT * FROM remote_pairs),
targets AS (  -- text references of synced work items, parsed once per item (staging.text_references)
    SELECT t.* FROM staging.text_references t WHERE t.item_id IN (SELECT item_id FROM core.work_items)
),
resolved AS (  -- the synced work item each target names; ambiguous or unsynced targets drop out here
    SELECT t.*, w.item_id AS target_item_id, w.key AS target_item_key, w.site AS target_site
    FROM targets t
    JOIN core.work_items w ON w.source = t.target_source AND lower(w.key) = lower(t.target_key)
    WHERE t.target_url IS NULL OR t.target_url = regexp_replace(lower(w.url), '^https?://', '')
    QUALIFY rank() OVER (PARTITION BY t.item_id, t.target ORDER BY w.site = t.site DESC) = 1
        AND count(*) OVER (PARTITION BY t.item_id, t.target, w.site = t.site) = 1
),
text_refs AS (
    SELECT
        CASE WHEN writer_blocks THEN item_id ELSE target_item_id END AS blocker_item_id,
        CASE WHEN writer_blocks THEN target_item_id ELSE item_id END AS blocked_item_id,
        CASE WHEN writer_blocks THEN key ELSE target_item_key END AS blocker_key,
        CASE WHEN writer_blocks THEN target_item_key ELSE key END AS blocked_key,
        verb || ' (text)' AS link_type,
        key || ' ' || field || ': ' || regexp_replace(phrase, '\s+', ' ', 'g') AS evidence,
        CASE WHEN writer_blocks THEN site ELSE target_site END AS blocker_site,
        CASE WHEN writer_blocks THEN target_site ELSE site END AS blocked_site
    FROM resolved
),
text_pairs AS (
    -- an item named by two keys (an old one from before a move): the first by text, in every build
    SELECT blocker_item_id, blocked_item_id, min(blocker_key) AS blocker_key, min(blocked_key) AS blocked_key,
           'text' AS source, arg_min(link_type, evidence) AS link_type, min(evidence) AS evidence,
           any_value(blocker_site) AS blocker_site, any_value(blocked_site) AS blocked_site
    FROM text_refs t
    WHERE blocker_item_id <> blocked_item_id
      AND NOT EXISTS (SELECT 1 FROM structured_pairs s
                      WHERE s.blocker_item_id = t.blocker_item_id AND s.blocked_item_id = t.blocked_item_id)
    GROUP BY blocker_item_id, blocked_item_id
),
pairs AS (SELECT * FROM structured_pairs UNION ALL SELECT * FROM text_pairs)
SELECT p.blocker_item_id, p.blocked_item_id, p.blocker_key, p.blocked_key, p.source, p.link_type, p.evidence,
       coalesce(a.project_key, split_part(p.blocker_key, '-', 1)) AS blocker_project_key,
       coalesce(b.project_key, split_part(p.blocked_key, '-', 1)) AS blocked_project_key,
       a.project_key IS DISTINCT FROM b.project_key AS cross_project,
       a.program_id IS DISTINCT FROM b.program_id AS cross_program,
       coalesce(a.site, p.blocker_site) IS DISTINCT FROM coalesce(b.site, p.blocked_site) AS cross_tracker,
       a.status_category AS blocker_status_category,
       b.status_category AS blocked_status_category,
       coalesce(a.status_category, '') <> 'done' AND coalesce(b.status_category, '') <> 'done' AS is_open,
       a.item_id IS NOT NULL AND b.item_id IS NOT NULL AS both_synced
FROM pairs p
LEFT JOIN core.work_items a ON a.item_id = p.blocker_item_id
LEFT JOIN core.work_items b ON b.item_id = p.blocked_item_id;

COMMENT ON TABLE core.dependencies IS 'One row per "blocks" dependency between two work items: Jira issue links of the types meta.jira_link_rules names (by default outward blocks, is blocked by, depends on), GitHub "blocked by" dependencies, Jira remote links to GitHub issues that say blocking, and "blocked by X" / "depends on X" / "blocks X" written in titles, GitHub bodies and Jira descriptions (source text).';
COMMENT ON COLUMN core.dependencies.blocker_item_id IS 'The item that blocks (core.work_items.item_id; may be outside the synced projects, except for source text).';
COMMENT ON COLUMN core.dependencies.blocked_item_id IS 'The item that is blocked (core.work_items.item_id).';
COMMENT ON COLUMN core.dependencies.blocker_key IS 'Key of the blocker, e.g. ID-7.';
COMMENT ON COLUMN core.dependencies.blocked_key IS 'Key of the blocked item, e.g. CART-13.';
COMMENT ON COLUMN core.dependencies.source IS 'jira (issue link), github (dependencies API), remote_link (a Jira remote link to a synced GitHub issue whose relationship says blocking; sites with remote_links: true) or text (a phrase in a title, body or description; only between synced items, and only when no link, dependency or remote link already records the pair).';
COMMENT ON COLUMN core.dependencies.link_type IS 'Jira link type name (e.g. Blocks), blocked_by for GitHub, the remote link''s lower-case relationship (is blocked by, blocked by, depends on, blocks), or the phrase for text: blocked_by (text), depends_on (text), blocks (text) (the writer blocks the item it names).';
COMMENT ON COLUMN core.dependencies.evidence IS 'For source text: where the reference was read and its words, e.g. acme/web#3 body: Blocked by PAY-12 (the first, when several texts say it); for remote_link: the Jira key and the linked URL. Null for links and dependencies.';
COMMENT ON COLUMN core.dependencies.blocker_project_key IS 'Project of the blocker.';
COMMENT ON COLUMN core.dependencies.blocked_project_key IS 'Project of the blocked item.';
COMMENT ON COLUMN core.dependencies.cross_project IS 'True when blocker and blocked item are in different projects (or the blocker is not synced).';
COMMENT ON COLUMN core.dependencies.cross_program IS 'True when blocker and blocked item belong to different programs (or the blocker is not synced).';
COMMENT ON COLUMN core.dependencies.cross_tracker IS 'True when blocker and blocked item live on different tracker sites (e.g. GitHub and Jira Cloud, or two Jira sites); only text references and remote links can cross trackers.';
COMMENT ON COLUMN core.dependencies.blocker_status_category IS 'todo, in_progress or done of the blocker; null when it is not synced.';
COMMENT ON COLUMN core.dependencies.blocked_status_category IS 'todo, in_progress or done of the blocked item.';
COMMENT ON COLUMN core.dependencies.is_open IS 'True while neither end is done: the dependency still holds work back.';
COMMENT ON COLUMN core.dependencies.both_synced IS 'True when both ends are work items of the configured programs (always for source text).';
