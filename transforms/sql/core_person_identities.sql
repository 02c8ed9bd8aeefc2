-- core.person_identities: every identity a tracker site shows for a user (the assignee or reporter
-- of a work item now, and each identity program.yaml declares), and the person it belongs to.
-- Who is one person, in this order: an alias in program.yaml (meta.person_aliases) says so; else
-- the identity's e-mail address is one a declared person's identities show, or other identities
-- show it too; else the identity is a person of its own. Display names never merge two
-- identities: a person's name is not unique (marts.person_match_suggestions lists the matches).
CREATE OR REPLACE TABLE core.person_identities AS
WITH jira_emails AS (  -- the address each Jira user object shows, where the site shows one
    SELECT 'jira:' || site || ':' || issue_id AS item_id, assignee_email, reporter_email FROM staging.jira_issues
),
seen AS (  -- each user a work item names now, as assignee and as reporter
    SELECT w.site, w.source, w.assignee_id AS identity_id, w.assignee AS display_name, e.assignee_email AS email,
           w.updated_at, 1 AS assigned, 0 AS reported
    FROM core.work_items w LEFT JOIN jira_emails e USING (item_id)
    WHERE w.assignee_id IS NOT NULL
    UNION ALL
    SELECT w.site, w.source, w.reporter_id, w.reporter, e.reporter_email, w.updated_at, 0, 1
    FROM core.work_items w LEFT JOIN jira_emails e USING (item_id)
    WHERE w.reporter_id IS NOT NULL
),
identities AS (
    SELECT site, any_value(source) AS source, identity_id,
           -- the name the site shows now (items updated at the same instant: the last by text)
           arg_max(display_name, (updated_at, display_name)) AS display_name,
           lower(arg_max(email, (updated_at, email)) FILTER (WHERE email IS NOT NULL)) AS email,
           sum(assigned)::INTEGER AS assigned_items, sum(reported)::INTEGER AS reported_items,
           max(updated_at) AS last_seen_at
    FROM seen GROUP BY site, identity_id
),
declared AS (
    SELECT i.*, a.person_id AS alias_person
    FROM identities i LEFT JOIN meta.person_aliases a ON a.site = i.site AND a.identity_id = lower(i.identity_id)
),
alias_emails AS (  -- the addresses the identities of each declared person show
    SELECT DISTINCT email, alias_person AS person_id FROM declared WHERE alias_person IS NOT NULL AND email IS NOT NULL
),
email_owner AS (  -- an address only one declared person's identities show: it is that person's
    SELECT email, min(person_id) AS person_id FROM alias_emails GROUP BY email HAVING count(*) = 1
),
free AS (  -- identities no alias names
    SELECT d.*, o.person_id AS email_person
    FROM declared d LEFT JOIN email_owner o USING (email)
    WHERE d.alias_person IS NULL
),
email_groups AS (  -- identities of no declared person that share an address: one person, keyed by the first
    SELECT email, min(site || ':' || identity_id) AS person_id, count(*) AS identities
    FROM free WHERE email IS NOT NULL AND email_person IS NULL AND email NOT IN (SELECT email FROM alias_emails)
    GROUP BY email
),
sources AS (SELECT site, any_value(source) AS source FROM meta.configured_projects GROUP BY site)
SELECT d.site, d.source, d.identity_id, d.display_name, d.email, d.alias_person AS person_id,
       'alias' AS matched_by, d.assigned_items, d.reported_items, d.last_seen_at, true AS seen
FROM declared d WHERE d.alias_person IS NOT NULL
UNION ALL
SELECT f.site, f.source, f.identity_id, f.display_name, f.email,
       coalesce(f.email_person, CASE WHEN g.identities > 1 THEN g.person_id END, f.site || ':' || f.identity_id),
       CASE WHEN f.email_person IS NOT NULL OR g.identities > 1 THEN 'email' ELSE 'self' END,
       f.assigned_items, f.reported_items, f.last_seen_at, true
FROM free f LEFT JOIN email_groups g USING (email)
UNION ALL  -- declared, and not on any synced item (yet, or misspelt)
SELECT a.site, s.source, a.identity_id, NULL, NULL, a.person_id, 'alias', 0, 0, NULL, false
FROM meta.person_aliases a LEFT JOIN sources s USING (site)
WHERE NOT EXISTS (SELECT 1 FROM identities i WHERE i.site = a.site AND lower(i.identity_id) = a.identity_id);

COMMENT ON TABLE core.person_identities IS 'One row per identity a tracker site knows a person by (site, identity_id): the current assignees and reporters of core.work_items, and every identity program.yaml declares (people.aliases). person_id says which person it is: an alias in program.yaml, else a shared e-mail address, else itself. Display names never merge identities; marts.person_match_suggestions lists the identities whose names match.';
COMMENT ON COLUMN core.person_identities.site IS 'Tracker site name from program.yaml.';
COMMENT ON COLUMN core.person_identities.source IS 'jira or github; null for a declared identity on a site with no configured project.';
COMMENT ON COLUMN core.person_identities.identity_id IS 'How the site identifies the user, as core.work_items.assignee_id and reporter_id hold it: Jira Cloud account id, Jira Server/Data Center user name, GitHub login. Declared identities not seen on any item: as program.yaml gives it, lower case.';
COMMENT ON COLUMN core.person_identities.display_name IS 'The name the site shows for the user on the most recently updated item that names them (Jira displayName; GitHub shows only the login). Tracker text: escape before rendering. Null when not seen on any item.';
COMMENT ON COLUMN core.person_identities.email IS 'E-mail address the site shows for the user (Jira emailAddress), lower case; null where the site hides it (Jira Cloud unless the user''s profile shows it) and on GitHub, whose issues carry only logins.';
COMMENT ON COLUMN core.person_identities.person_id IS 'core.people.person_id: the alias key from program.yaml, else site:identity_id of the first (by that text) of the identities sharing its e-mail address, else site:identity_id of this identity.';
COMMENT ON COLUMN core.person_identities.matched_by IS 'How the identity was joined to its person: alias (program.yaml people.aliases names it), email (its e-mail address is one a declared person''s identities show, or other undeclared identities show it too; an address two declared people show joins no one), or self (nothing joined it: a person of its own).';
COMMENT ON COLUMN core.person_identities.assigned_items IS 'Work items (any status) assigned to this identity now.';
COMMENT ON COLUMN core.person_identities.reported_items IS 'Work items this identity reported (Jira reporter, GitHub author).';
COMMENT ON COLUMN core.person_identities.last_seen_at IS 'Latest updated_at (UTC) of the items that name the identity; null when not seen on any item.';
COMMENT ON COLUMN core.person_identities.seen IS 'False for an identity program.yaml declares that no synced item names: not active in the synced projects, or misspelt in the config.';
