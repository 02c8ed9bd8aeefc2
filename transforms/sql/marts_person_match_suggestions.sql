-- marts.person_match_suggestions: people whose names match but whom nothing joined: the same
-- display name (or program.yaml name), compared without case, accents and extra spaces. A name
-- is not an identity (two humans share one), so these are never merged: a program manager who
-- knows them to be one person declares an alias, as how_to_merge says.
CREATE OR REPLACE TABLE marts.person_match_suggestions AS
WITH names AS (  -- every name each person goes by
    SELECT DISTINCT person_id, name, lower(strip_accents(regexp_replace(trim(name), '\s+', ' ', 'g'))) AS name_key
    FROM (SELECT person_id, display_name AS name FROM core.person_identities WHERE display_name IS NOT NULL
          UNION ALL SELECT person_id, name FROM meta.person_aliases)
    WHERE trim(name) <> ''
),
pairs AS (
    SELECT a.person_id, b.person_id AS other_person_id, min(a.name) AS matched_name
    FROM names a JOIN names b ON a.name_key = b.name_key AND a.person_id < b.person_id
    GROUP BY ALL
),
listed AS (  -- each person's identities as program.yaml writes them
    SELECT person_id, string_agg('{site: ' || site || ', id: ' || identity_id || '}', ', ' ORDER BY site, identity_id) AS yaml
    FROM core.person_identities WHERE seen GROUP BY person_id
)
SELECT p.person_id, a.display_name AS person_name, a.identity_ids AS person_identities, a.email AS person_email,
       p.other_person_id, b.display_name AS other_person_name, b.identity_ids AS other_person_identities,
       b.email AS other_person_email, p.matched_name,
       a.email IS NOT NULL AND b.email IS NOT NULL AND a.email <> b.email AS emails_differ,
       CASE WHEN a.identified_by = 'alias' AND b.identified_by = 'alias'
                THEN 'If they are one person, merge people.aliases ' || p.person_id || ' and ' || p.other_person_id
                     || ' in program.yaml into one entry.'
            WHEN a.identified_by = 'alias'
                THEN 'If they are one person, add ' || lb.yaml || ' to the identities of people.aliases '
                     || p.person_id || ' in program.yaml.'
            WHEN b.identified_by = 'alias'
                THEN 'If they are one person, add ' || la.yaml || ' to the identities of people.aliases '
                     || p.other_person_id || ' in program.yaml.'
            ELSE 'If they are one person, declare them in program.yaml people.aliases with identities: '
                 || la.yaml || ', ' || lb.yaml || '.'
       END AS how_to_merge
FROM pairs p
JOIN core.people a ON a.person_id = p.person_id
JOIN core.people b ON b.person_id = p.other_person_id
LEFT JOIN listed la ON la.person_id = p.person_id
LEFT JOIN listed lb ON lb.person_id = p.other_person_id;

COMMENT ON TABLE marts.person_match_suggestions IS 'Pairs of people (core.people) who go by the same name (a display name a tracker shows or the program.yaml name, compared without case, accents and repeated spaces) but whom no alias or e-mail address joined. Suggestions only, never merged: two humans can share a name. One row per pair, person_id < other_person_id.';
COMMENT ON COLUMN marts.person_match_suggestions.person_id IS 'core.people.person_id of the one person.';
COMMENT ON COLUMN marts.person_match_suggestions.person_name IS 'Their core.people.display_name (tracker text: escape before rendering).';
COMMENT ON COLUMN marts.person_match_suggestions.person_identities IS 'Their identities as site:identity_id, comma-separated.';
COMMENT ON COLUMN marts.person_match_suggestions.person_email IS 'The e-mail address a tracker shows for them; null when none does.';
COMMENT ON COLUMN marts.person_match_suggestions.other_person_id IS 'core.people.person_id of the other person.';
COMMENT ON COLUMN marts.person_match_suggestions.other_person_name IS 'Their core.people.display_name (tracker text: escape before rendering).';
COMMENT ON COLUMN marts.person_match_suggestions.other_person_identities IS 'Their identities as site:identity_id, comma-separated.';
COMMENT ON COLUMN marts.person_match_suggestions.other_person_email IS 'The e-mail address a tracker shows for them; null when none does.';
COMMENT ON COLUMN marts.person_match_suggestions.matched_name IS 'The name both go by, as one of the trackers or program.yaml writes it.';
COMMENT ON COLUMN marts.person_match_suggestions.emails_differ IS 'Both show an e-mail address and the addresses differ: more likely two people who share a name.';
COMMENT ON COLUMN marts.person_match_suggestions.how_to_merge IS 'What to write in program.yaml (people.aliases) if they are one person.';
