-- marts.resource_conflict_items: the items in progress of each person in marts.resource_conflicts,
-- one row per person and item, so a BI tool lists them with no unnest.
CREATE OR REPLACE TABLE marts.resource_conflict_items AS
SELECT c.person_id, c.person_name, f.item_id, f.key, w.title, f.program_id, w.site, f.project_key, f.status,
       f.started_at, f.age_days AS days_in_progress, f.is_blocked, f.is_stale, w.url, getvariable('as_of') AS as_of
FROM marts.item_flow f
JOIN core.work_items w USING (item_id)
JOIN core.person_identities i ON i.site = w.site AND i.identity_id = w.assignee_id
JOIN marts.resource_conflicts c ON c.person_id = i.person_id
WHERE f.is_wip;

COMMENT ON TABLE marts.resource_conflict_items IS 'The work in progress of each person in marts.resource_conflicts: one row per person and item in progress now (METRICS.md WIP, epics left out), on every tracker.';
COMMENT ON COLUMN marts.resource_conflict_items.person_id IS 'core.people.person_id (marts.resource_conflicts).';
COMMENT ON COLUMN marts.resource_conflict_items.person_name IS 'core.people.display_name (tracker text: escape before rendering).';
COMMENT ON COLUMN marts.resource_conflict_items.item_id IS 'core.work_items.item_id.';
COMMENT ON COLUMN marts.resource_conflict_items.key IS 'Human key: PAY-12 or acme/web#34.';
COMMENT ON COLUMN marts.resource_conflict_items.title IS 'Summary or title as written (tracker text: escape before rendering).';
COMMENT ON COLUMN marts.resource_conflict_items.program_id IS 'core.programs.program_id of the item''s project.';
COMMENT ON COLUMN marts.resource_conflict_items.site IS 'Tracker site name from program.yaml.';
COMMENT ON COLUMN marts.resource_conflict_items.project_key IS 'Jira project key or GitHub owner/name.';
COMMENT ON COLUMN marts.resource_conflict_items.status IS 'Current status name (tracker text).';
COMMENT ON COLUMN marts.resource_conflict_items.started_at IS 'First entry into in_progress (UTC, METRICS.md started_at); null if no start was recorded.';
COMMENT ON COLUMN marts.resource_conflict_items.days_in_progress IS 'as_of - started_at in days (METRICS.md age; from creation when no start was recorded): marts.item_flow.age_days.';
COMMENT ON COLUMN marts.resource_conflict_items.is_blocked IS 'Has a blocker that is not done now (METRICS.md blocked).';
COMMENT ON COLUMN marts.resource_conflict_items.is_stale IS 'Not updated for meta.metric_settings.stale_days (METRICS.md stale).';
COMMENT ON COLUMN marts.resource_conflict_items.url IS 'Link to the item in its tracker.';
COMMENT ON COLUMN marts.resource_conflict_items.as_of IS 'The instant the figures describe.';
