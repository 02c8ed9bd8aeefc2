-- core.tombstones: one row per item that vanished from a project (deleted, or moved to another
-- project or repository), from raw.tombstones, which ingest writes before it deletes a raw row.
-- A vanishing is the raw rows of one (site, source, issue id, key before): the first says what the
-- item was and when it was found gone; a row of kind moved (its id held or landed elsewhere)
-- says where it went. An item that is a work item again under another key moved there (Jira
-- keeps the id across moves); one back under the same key (a JQL filter it left and re-entered)
-- never vanished and has no row. `history` is what core.item_history keeps for an item that no
-- synced project returns: its rows as the last build held them (else its last known state since
-- creation), closed when it vanished.
CREATE OR REPLACE TABLE core.tombstones AS
WITH vanishings AS (
    SELECT site, source, issue_id, key_before,
           arg_min(t, (observed_at, synced_at, kind)) AS first,
           min(observed_at) AS vanished_at,
           bool_or(kind = 'moved') AS moved,
           arg_min(moved_to_project, observed_at) FILTER (WHERE kind = 'moved') AS moved_to_project,
           arg_min(moved_to_key, observed_at) FILTER (WHERE kind = 'moved') AS moved_to_key,
           arg_min(history, observed_at) FILTER (WHERE history IS NOT NULL) AS held_history
    FROM raw.tombstones t
    GROUP BY site, source, issue_id, key_before
),
moves AS (  -- when Jira recorded the move: the changelog's Key item from the key it left
    SELECT item_id, from_value AS key_before, min(changed_at) AS moved_at
    FROM core.jira_changelog_items
    WHERE field = 'Key' AND from_value IS NOT NULL AND item_id IN (SELECT first.item_id FROM vanishings)
    GROUP BY ALL
),
github_types AS (  -- a GitHub item's type from its last labels, by the site's rules (as core.work_items)
    SELECT v.site, v.issue_id, v.key_before, arg_min(r.value, r.precedence) AS item_type
    FROM (SELECT site, issue_id, key_before,
                 unnest(json_extract_string(first.payload, '$.labels[*].name')) AS label
          FROM vanishings WHERE source = 'github') v
    JOIN meta.label_rules r ON r.site = v.site AND r.rule = 'type' AND r.label = lower(v.label)
    GROUP BY ALL
),
resolved AS (
    SELECT v.* REPLACE (coalesce(least(mv.moved_at, v.vanished_at), v.vanished_at) AS vanished_at),
           v.vanished_at AS observed_at, p.program_id, w.item_id IS NOT NULL AS still_synced,
           w.key AS key_now, w.project_key AS project_now,
           CASE WHEN v.source = 'jira' THEN v.first.item_type ELSE coalesce(g.item_type, 'issue') END AS item_type
    FROM vanishings v
    LEFT JOIN core.work_items w ON w.item_id = v.first.item_id
    LEFT JOIN github_types g ON g.site = v.site AND g.issue_id = v.issue_id AND g.key_before = v.key_before
    LEFT JOIN core.projects p ON p.site = v.site AND p.project_key = v.first.project_before
    LEFT JOIN moves mv ON mv.item_id = v.first.item_id AND mv.key_before = v.key_before
    WHERE w.key IS DISTINCT FROM v.key_before  -- back where it was: it never vanished
),
histories AS (
    SELECT *,
           coalesce(held_history, list_filter([  -- no build saw it: its last known state since creation
               struct_pack(field := 'status', "value" := first.status, value_id := NULL::VARCHAR, value_number := NULL::DOUBLE),
               struct_pack(field := 'status_category', "value" := first.status_category, value_id := NULL::VARCHAR, value_number := NULL::DOUBLE),
               struct_pack(field := 'resolution', "value" := first.resolution, value_id := NULL::VARCHAR, value_number := NULL::DOUBLE),
               struct_pack(field := 'story_points', "value" := CAST(first.story_points AS VARCHAR), value_id := NULL::VARCHAR,
                           value_number := first.story_points),
               struct_pack(field := 'assignee', "value" := first.assignee, value_id := first.assignee_id, value_number := NULL::DOUBLE),
               struct_pack(field := 'due_date', "value" := CAST(first.due_date AS VARCHAR), value_id := NULL::VARCHAR, value_number := NULL::DOUBLE)]
               || list_transform(first.milestone_ids, lambda id, i: struct_pack(field := 'milestone', "value" := first.milestones[i],
                                                                              value_id := id, value_number := NULL::DOUBLE)),
               lambda h: h."value" IS NOT NULL).list_transform(lambda h: struct_pack(
                   field := h.field, "value" := h."value", value_id := h.value_id, value_number := h.value_number,
                   valid_from := coalesce(first.created_at, vanished_at), valid_to := NULL::TIMESTAMPTZ))) AS last_history
    FROM resolved
)
SELECT first.item_id AS item_id, site, source, issue_id, key_before, first.project_before AS project_before,
       program_id,
       CASE WHEN moved OR (still_synced AND key_now IS DISTINCT FROM key_before) THEN 'moved' ELSE 'deleted' END AS kind,
       vanished_at, observed_at, first.sync_id AS sync_id, first.last_sync_id AS last_sync_id,
       coalesce(moved_to_project, project_now) AS moved_to_project, coalesce(moved_to_key, key_now) AS moved_to_key,
       still_synced,
       row_number() OVER (PARTITION BY first.item_id ORDER BY vanished_at DESC, key_before) = 1 AS is_last,
       first.title AS title, item_type, first.created_at AS created_at, first.last_updated_at AS last_updated_at,
       first.status AS status, first.status_category AS status_category, first.resolution AS resolution,
       first.milestones AS milestones, first.milestone_ids AS milestone_ids, first.story_points AS story_points,
       first.assignee AS assignee, first.assignee_id AS assignee_id, first.due_date AS due_date,
       held_history IS NOT NULL AS history_held,
       -- closed when it vanished; what began after (or a blocked spell: a gone item waits on nothing) is dropped
       list_filter(list_transform(last_history, lambda h: struct_pack(
           field := h.field, "value" := h."value", value_id := h.value_id, value_number := h.value_number,
           valid_from := h.valid_from,
           valid_to := CASE WHEN h.valid_to IS NULL OR h.valid_to > vanished_at THEN vanished_at ELSE h.valid_to END)),
           lambda h: h.field <> 'blocked' AND h.valid_from < h.valid_to) AS history
FROM histories;

COMMENT ON TABLE core.tombstones IS 'One row per item that vanished from a project: deleted, or moved to another project or repository (the trackers say neither: a complete listing stops returning it). From raw.tombstones, which ingest writes before deleting the raw row, so it survives every resync and rebuild. Moves are resolved here: an item whose id was landed, or is a work item again, elsewhere moved there (Jira keeps the id); one back under its old key never vanished and has no row. Its history (closed at vanished_at) keeps it in core.item_history and marts.burnup on the days it existed, and takes it out of scope on the day it vanished.';
COMMENT ON COLUMN core.tombstones.item_id IS 'core.work_items.item_id it had (jira:<site>:<issue id>, kept by a move; github:<issue id>).';
COMMENT ON COLUMN core.tombstones.site IS 'Tracker site name from program.yaml.';
COMMENT ON COLUMN core.tombstones.source IS 'jira or github.';
COMMENT ON COLUMN core.tombstones.issue_id IS 'Jira numeric issue id or GitHub global issue id, as text.';
COMMENT ON COLUMN core.tombstones.key_before IS 'Its key in the project it vanished from (PAY-12, acme/web#34); with item_id, the row''s key (an item moved twice has two rows).';
COMMENT ON COLUMN core.tombstones.project_before IS 'Jira project key or GitHub owner/name it vanished from.';
COMMENT ON COLUMN core.tombstones.program_id IS 'Program of project_before (core.projects); null when that project is no longer configured.';
COMMENT ON COLUMN core.tombstones.kind IS 'moved: its id was found in another synced project or repository (moved_to_*), or GitHub recorded a transferred event; deleted: gone from every synced project (deleted, or moved somewhere not synced: the APIs cannot tell these apart).';
COMMENT ON COLUMN core.tombstones.vanished_at IS 'When it left the project (UTC): for a Jira move, the instant its changelog recorded the new key; else when a sync first found it gone (observed_at), since the trackers keep no deletion time. The history of an item no synced project returns ends here, and marts.burnup counts it as scope removed on this UTC day.';
COMMENT ON COLUMN core.tombstones.observed_at IS 'When a sync first found it gone or moved (raw.tombstones.observed_at: the sync''s clock, UTC). It vanished after the last sync that returned it (last_sync_id) and by this instant.';
COMMENT ON COLUMN core.tombstones.sync_id IS 'The sync (meta.sync_runs.sync_id) that first found it gone.';
COMMENT ON COLUMN core.tombstones.last_sync_id IS 'The last sync that returned it.';
COMMENT ON COLUMN core.tombstones.moved_to_project IS 'For kind moved: the project or repository it was found in (the first, if it moved again; null for a GitHub transfer out of the synced repositories).';
COMMENT ON COLUMN core.tombstones.moved_to_key IS 'For kind moved: its key there (e.g. CART-40); null when not known.';
COMMENT ON COLUMN core.tombstones.still_synced IS 'It is a work item now (core.work_items), moved into another synced project: its history goes on there and core.item_history keeps reading it from the tracker.';
COMMENT ON COLUMN core.tombstones.is_last IS 'Its latest vanishing (an item moved A to B, then deleted in B, has two rows).';
COMMENT ON COLUMN core.tombstones.title IS 'Last known summary or title: tracker text, escape before rendering.';
COMMENT ON COLUMN core.tombstones.item_type IS 'Last known lower-case issue type (Jira), or on GitHub the type its last labels map to by the site''s rules (meta.label_rules), else issue: as core.work_items.item_type. Epics are no scope in marts.burnup.';
COMMENT ON COLUMN core.tombstones.created_at IS 'When the item was created (UTC).';
COMMENT ON COLUMN core.tombstones.last_updated_at IS 'Its updated time in the last version held (UTC).';
COMMENT ON COLUMN core.tombstones.status IS 'Last known status name (Jira status; GitHub open or closed).';
COMMENT ON COLUMN core.tombstones.status_category IS 'Last known todo, in_progress or done.';
COMMENT ON COLUMN core.tombstones.resolution IS 'Last known Jira resolution or GitHub state_reason; null while open.';
COMMENT ON COLUMN core.tombstones.milestones IS 'Last known fix version names (Jira) or milestone title (GitHub): tracker text; empty when none.';
COMMENT ON COLUMN core.tombstones.milestone_ids IS 'Their core.milestones.milestone_id, in the same order.';
COMMENT ON COLUMN core.tombstones.story_points IS 'Last known story points; null when unestimated and on GitHub. Never read null as zero.';
COMMENT ON COLUMN core.tombstones.assignee IS 'Last known assignee display name (Jira) or login (GitHub); null when unassigned.';
COMMENT ON COLUMN core.tombstones.assignee_id IS 'Last known assignee account id (Jira Cloud), user name (Server/DC) or login (GitHub).';
COMMENT ON COLUMN core.tombstones.due_date IS 'Last known Jira due date; null when none and on GitHub.';
COMMENT ON COLUMN core.tombstones.history_held IS 'True when history is the rows core.item_history held when it vanished; false when no build had seen it and history is its last known state since creation.';
COMMENT ON COLUMN core.tombstones.history IS 'Its field history until it vanished, as core.item_history rows (field, value, value_id, value_number, valid_from, valid_to), every interval closed by vanished_at; blocked spells dropped. core.item_history takes these rows for an item whose latest vanishing this is and that no synced project returns (is_last and not still_synced).';
