-- Tombstones: what the trackers stopped returning. Neither Jira nor GitHub says that an issue was
-- deleted or moved away; a complete listing only stops returning it, and ingest then deletes its
-- raw row. Ingest writes a tombstone right before that delete, in the same transaction: the
-- item's last known state and its field history as core.item_history last held it, so the
-- burn-up keeps counting it on the days it existed and takes it out of scope on the day it
-- vanished. In raw (not meta): it is what the trackers told us, landed by ingest, append-only,
-- never touched by transforms.build.forget_derived, and the build's change detection reads it
-- like every raw table (row count and latest synced_at). core.tombstones resolves moves.
CREATE TABLE raw.tombstones (
    site             VARCHAR NOT NULL,
    source           VARCHAR NOT NULL,
    issue_id         VARCHAR NOT NULL,
    item_id          VARCHAR NOT NULL,
    key_before       VARCHAR NOT NULL,
    project_before   VARCHAR NOT NULL,
    kind             VARCHAR NOT NULL,
    moved_to_project VARCHAR,
    moved_to_key     VARCHAR,
    observed_at      TIMESTAMPTZ NOT NULL,
    sync_id          VARCHAR NOT NULL,
    last_sync_id     VARCHAR,
    last_updated_at  TIMESTAMPTZ,
    title            VARCHAR,
    item_type        VARCHAR,
    created_at       TIMESTAMPTZ,
    status           VARCHAR,
    status_category  VARCHAR,
    resolution       VARCHAR,
    milestones       VARCHAR[],
    milestone_ids    VARCHAR[],
    story_points     DOUBLE,
    assignee         VARCHAR,
    assignee_id      VARCHAR,
    due_date         DATE,
    payload          JSON NOT NULL,
    history          STRUCT(field VARCHAR, "value" VARCHAR, value_id VARCHAR, value_number DOUBLE,
                            valid_from TIMESTAMPTZ, valid_to TIMESTAMPTZ)[],
    synced_at        TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (site, source, issue_id, key_before, kind)
);
COMMENT ON TABLE raw.tombstones IS 'Append-only: one row each time a sync found that an issue it held had vanished from its project (deleted, or moved to another project or repository), written by ingest right before it deletes the raw row, in the same transaction; and one row (kind moved) when an id tombstoned as deleted reappears in another synced project. A rerun writes nothing twice (primary key); no sync, full resync or transform rebuild deletes a row. Read through core.tombstones.';
COMMENT ON COLUMN raw.tombstones.site IS 'Site name from program.yaml.';
COMMENT ON COLUMN raw.tombstones.source IS 'jira or github.';
COMMENT ON COLUMN raw.tombstones.issue_id IS 'Jira numeric issue id (kept by a move) or GitHub global issue id, as text.';
COMMENT ON COLUMN raw.tombstones.item_id IS 'core.work_items.item_id the item had: jira:<site>:<issue id> or github:<issue id>.';
COMMENT ON COLUMN raw.tombstones.key_before IS 'Its key in the project it vanished from: PAY-12 or acme/web#34 (keys are never reused).';
COMMENT ON COLUMN raw.tombstones.project_before IS 'Jira project key or GitHub owner/name it vanished from.';
COMMENT ON COLUMN raw.tombstones.kind IS 'What this sync could tell: moved (its id was held or landed in another project or repository: Jira keeps the id across moves; a GitHub issue with a transferred event) or deleted (gone from every synced project, as far as this sync saw: a later row of kind moved for the same key says it reappeared). core.tombstones resolves the two.';
COMMENT ON COLUMN raw.tombstones.moved_to_project IS 'Project or repository it was found in after the move; null for deleted, and for a GitHub transfer to a repository outside the synced ones.';
COMMENT ON COLUMN raw.tombstones.moved_to_key IS 'Its key there (Jira: the new key, e.g. CART-40); null when not known.';
COMMENT ON COLUMN raw.tombstones.observed_at IS 'When it was found gone, on the sync''s clock (meta.sync_runs.as_of of sync_id: the sandbox clock for sandbox runs; the wall clock when the sync is not recorded there). The trackers keep no deletion time: it vanished between the last sync that returned it (last_sync_id) and this instant. For a row of kind moved written when the id reappeared, the instant of that reappearance.';
COMMENT ON COLUMN raw.tombstones.sync_id IS 'The sync (meta.sync_runs.sync_id) that found it gone or moved.';
COMMENT ON COLUMN raw.tombstones.last_sync_id IS 'The last sync that returned it (raw sync_id of its deleted row).';
COMMENT ON COLUMN raw.tombstones.last_updated_at IS 'Its updated time in the last version we held (UTC).';
COMMENT ON COLUMN raw.tombstones.title IS 'Last known summary (Jira) or title (GitHub): tracker text, escape before rendering.';
COMMENT ON COLUMN raw.tombstones.item_type IS 'Last known Jira issue type, lower case (epic, story, task, bug, ...); null on GitHub, where core.tombstones reads the type from the labels in payload by the site''s label rules, as core.work_items does.';
COMMENT ON COLUMN raw.tombstones.created_at IS 'When the item was created (UTC).';
COMMENT ON COLUMN raw.tombstones.status IS 'Last known status name (Jira status; GitHub open or closed).';
COMMENT ON COLUMN raw.tombstones.status_category IS 'Last known todo, in_progress or done (Jira statusCategory new/indeterminate/done; GitHub closed = done, else todo).';
COMMENT ON COLUMN raw.tombstones.resolution IS 'Last known Jira resolution name or GitHub state_reason; null while open.';
COMMENT ON COLUMN raw.tombstones.milestones IS 'Last known fix version names (Jira) or milestone title (GitHub); empty when none.';
COMMENT ON COLUMN raw.tombstones.milestone_ids IS 'The same as core.milestones.milestone_id: jira:<site>:version:<id> or github:<site>:<repo>:milestone:<number>.';
COMMENT ON COLUMN raw.tombstones.story_points IS 'Last known story points (the site''s story-points field, raw.jira_sites.field_roles); null when unestimated and on GitHub.';
COMMENT ON COLUMN raw.tombstones.assignee IS 'Last known assignee display name (Jira) or login (GitHub); null when unassigned.';
COMMENT ON COLUMN raw.tombstones.assignee_id IS 'Last known assignee account id (Jira Cloud), user name (Server/DC) or login (GitHub).';
COMMENT ON COLUMN raw.tombstones.due_date IS 'Last known Jira due date; null when none and on GitHub.';
COMMENT ON COLUMN raw.tombstones.payload IS 'The last issue object we held, unaltered (raw.jira_issues or raw.github_issues payload).';
COMMENT ON COLUMN raw.tombstones.history IS 'The item''s rows of core.item_history as the last build held them when it vanished (field, value, value_id, value_number, valid_from, valid_to; open rows have valid_to null): the history the trackers no longer give. Null when no build had seen the item; core.item_history then keeps its last known state since creation.';
COMMENT ON COLUMN raw.tombstones.synced_at IS 'When this row was written (UTC, wall clock).';
