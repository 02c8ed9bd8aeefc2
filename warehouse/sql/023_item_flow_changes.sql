-- marts.item_flow is kept current from what changed instead of rebuilt whole each night
-- (transforms/build.py, Step.incremental): a merge of core.item_flow_facts records here the items
-- it merged, and the next build of marts.item_flow replaces their rows and brings every other
-- row's as_of figures forward in place (an UPDATE of a few numeric columns costs a tenth of
-- writing the table's 100,000 rows of text again). Applied changes are deleted.
CREATE TABLE meta.item_flow_changes (
    item_id VARCHAR NOT NULL
);
COMMENT ON TABLE meta.item_flow_changes IS 'Items merged into core.item_flow_facts (changed, new or gone) whose rows marts.item_flow has not replaced yet: written when a night merges items into core.item_flow_facts, read and deleted by the next build of marts.item_flow. Empty after every complete build.';
COMMENT ON COLUMN meta.item_flow_changes.item_id IS 'core.work_items.item_id of an item merged into core.item_flow_facts (it may be gone from it: deleted, moved away, or now an epic).';
