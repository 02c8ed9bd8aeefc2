-- core.people: one row per person across Jira and GitHub, from the identities core.person_identities
-- joined (alias in program.yaml, else a shared e-mail address, else the identity alone).
CREATE OR REPLACE TABLE core.people AS
WITH declared AS (SELECT person_id, any_value(name) AS name FROM meta.person_aliases GROUP BY person_id),
ranked AS (  -- a person's identities, the one to name them by first: Jira (GitHub shows only logins), busiest
    SELECT *, row_number() OVER (PARTITION BY person_id ORDER BY display_name IS NULL, source = 'jira' DESC,
                                 assigned_items + reported_items DESC, site, identity_id) AS name_rank,
           row_number() OVER (PARTITION BY person_id ORDER BY email IS NULL, assigned_items + reported_items DESC,
                              site, identity_id) AS email_rank
    FROM core.person_identities
)
SELECT r.person_id,
       coalesce(any_value(d.name), any_value(r.display_name) FILTER (WHERE r.name_rank = 1),
                any_value(r.identity_id) FILTER (WHERE r.name_rank = 1)) AS display_name,
       any_value(r.email) FILTER (WHERE r.email_rank = 1) AS email,
       CASE WHEN bool_or(r.matched_by = 'alias') THEN 'alias'
            WHEN bool_or(r.matched_by = 'email') THEN 'email' ELSE 'self' END AS identified_by,
       count(*) FILTER (WHERE r.seen)::INTEGER AS identities,
       string_agg(DISTINCT r.site, ', ' ORDER BY r.site) AS sites,
       string_agg(r.site || ':' || r.identity_id, ', ' ORDER BY r.site, r.identity_id) AS identity_ids,
       sum(r.assigned_items)::INTEGER AS assigned_items,
       sum(r.reported_items)::INTEGER AS reported_items
FROM ranked r LEFT JOIN declared d USING (person_id)
GROUP BY r.person_id;

COMMENT ON TABLE core.people IS 'One row per person across Jira and GitHub: the identities in core.person_identities with one person_id. Identities are one person when program.yaml declares them so (people.aliases) or when they show the same e-mail address; a matching display name alone never merges (see marts.person_match_suggestions).';
COMMENT ON COLUMN core.people.person_id IS 'The alias key from program.yaml for declared people; else site:identity_id of the identity (the first by that text, for identities joined by e-mail).';
COMMENT ON COLUMN core.people.display_name IS 'The name program.yaml gives; else the display name of the person''s busiest Jira identity, else their GitHub login. Tracker text: escape before rendering.';
COMMENT ON COLUMN core.people.email IS 'An e-mail address a tracker shows for the person (lower case), from their busiest identity that shows one; null when no tracker shows one (Jira Cloud may hide it; GitHub issues never carry it).';
COMMENT ON COLUMN core.people.identified_by IS 'How the person was formed: alias (declared in program.yaml people.aliases), email (several identities showing one e-mail address), or self (one identity nothing joined to another).';
COMMENT ON COLUMN core.people.identities IS 'Identities of the person seen on synced items (core.person_identities where seen).';
COMMENT ON COLUMN core.people.sites IS 'The tracker sites the person has an identity on, comma-separated.';
COMMENT ON COLUMN core.people.identity_ids IS 'Each identity as site:identity_id, comma-separated: what to copy into program.yaml people.aliases.';
COMMENT ON COLUMN core.people.assigned_items IS 'Work items (any status) assigned to the person now, on every site.';
COMMENT ON COLUMN core.people.reported_items IS 'Work items the person reported, on every site.';
