-- Each staging step of a build records its changed items under a batch number of its own, numbered
-- up front (transforms/build.py build_all), so that staging steps built two at a time each count
-- what they found. Only the comments change.
COMMENT ON TABLE meta.item_deltas IS 'The work items whose parsed inputs changed, per batch: written by the staging steps (an issue or pull request parsed again, added or gone; a GitHub event added, changed or gone; a Jira issue''s paged changelog changed), each under a batch of its own, and by item-scoped tables whose [stale] rule finds items that a change elsewhere moved; read by the item-scoped core tables, which merge exactly these items. Batches every item-scoped table has consumed are deleted.';
COMMENT ON COLUMN meta.item_deltas.batch IS 'The batch that recorded the change: one per staging step of a transform build, numbered up front when the build starts, then any stale batch (increasing across builds).';
