-- A GitHub issue's state ('open' or 'closed') as a column of its own, written with the row
-- (pipelines.ingest._land_issues). On a night with changes a sync compares the repository's
-- open_issues_count with the open issues it holds (pipelines.ingest._open_count_disagrees):
-- read from the payload, that parsed every held issue of each changed repository again. Rows
-- landed before this migration are filled here, once.

ALTER TABLE raw.github_issues ADD COLUMN state VARCHAR;
UPDATE raw.github_issues SET state = payload->>'state';
COMMENT ON COLUMN raw.github_issues.state IS 'state (open or closed) as the payload gives it, written with the row: what a sync counts against the repository''s open_issues_count without parsing payloads.';
