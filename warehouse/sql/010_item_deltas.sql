-- Incremental core: the staging steps record which items they parsed again (or found gone) in
-- meta.item_deltas, one batch per build; each item-scoped table merges the items of the batches it
-- has not yet consumed (meta.transform_state.consumed_batch) instead of being rebuilt from all of
-- raw. staging.jira_issues keeps each issue's embedded changelog histories as parsed from the same
-- single parse of its payload, so core.jira_changelog_items never parses an issue's JSON again.
CREATE TABLE meta.item_deltas (
    batch   BIGINT NOT NULL,
    item_id VARCHAR NOT NULL
);
ALTER TABLE meta.transform_state ADD COLUMN consumed_batch BIGINT;
ALTER TABLE meta.transform_state ADD COLUMN structure VARCHAR;
ALTER TABLE meta.transform_state ADD COLUMN restructured_at TIMESTAMPTZ;
ALTER TABLE staging.jira_issues ADD COLUMN histories STRUCT(
    id VARCHAR, created VARCHAR, author STRUCT(displayName VARCHAR, "name" VARCHAR),
    items STRUCT(fieldtype VARCHAR, fieldId VARCHAR, field VARCHAR, "from" VARCHAR, fromString VARCHAR,
                 "to" VARCHAR, toString VARCHAR)[])[];
-- Everything derived is rebuilt once under the new scheme.
DELETE FROM staging.jira_issues;
DELETE FROM staging.jira_changelog_versions;
DELETE FROM staging.github_issues;
DELETE FROM staging.github_issue_events;
DELETE FROM meta.transform_state;

COMMENT ON TABLE meta.item_deltas IS 'The work items whose parsed inputs changed, per transform build (batch): written by the staging steps (an issue or pull request parsed again, added or gone; a GitHub event added, changed or gone; a Jira issue''s paged changelog changed), read by the item-scoped core tables, which merge exactly these items. Batches every item-scoped table has consumed are deleted.';
COMMENT ON COLUMN meta.item_deltas.batch IS 'The transform build that recorded the change (increasing).';
COMMENT ON COLUMN meta.item_deltas.item_id IS 'core.work_items.item_id of the item (jira:<site>:<issue id> or github:<issue id>), also for items now gone or no longer work items.';
COMMENT ON TABLE meta.transform_state IS 'One row per staging, core and marts table: what it was last built from, so a build does only what changed. A table whose structure (its SQL file, the program structure from program.yaml, the sites'' field and status lists, the migrations) changed is rebuilt whole; an item-scoped table otherwise merges the items of meta.item_deltas batches it has not consumed; any other table is rebuilt when a table it reads was built after it or its raw inputs (row count, latest synced_at) changed, and a mart also when the as-of instant or a project''s sync outcome changed. A night on which nothing changed transforms nothing.';
COMMENT ON COLUMN meta.transform_state.inputs IS 'md5 digest of everything the table is built from other than the derived tables it reads (transforms.build): its structure, the raw tables it reads, and for marts the as-of instant and the per-project sync outcomes.';
COMMENT ON COLUMN meta.transform_state.structure IS 'md5 digest of the table''s structure alone: its SQL file, the program structure, the sites'' field and status lists, the migrations applied. When it changes the table is rebuilt whole, and so are the item-scoped tables that read it.';
COMMENT ON COLUMN meta.transform_state.restructured_at IS 'When the table was last rebuilt whole because its structure changed (or on request), UTC.';
COMMENT ON COLUMN meta.transform_state.built_at IS 'When the table last changed (a rebuild, or a merge of at least one item), UTC.';
COMMENT ON COLUMN meta.transform_state.consumed_batch IS 'Item-scoped tables: the last meta.item_deltas batch merged into the table; null for tables rebuilt whole.';
COMMENT ON COLUMN staging.jira_issues.histories IS 'The changelog histories embedded in the issue (changelog.histories: at most 100 on Cloud; the rest are in raw.jira_changelogs), parsed in the same pass as the other columns: id, created, author, and the changed fields (items).';
