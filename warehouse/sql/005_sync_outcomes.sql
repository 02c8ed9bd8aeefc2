-- Why a sync did not succeed, and which projects a published snapshot holds stale.
ALTER TABLE meta.sync_runs ADD COLUMN cause VARCHAR;
COMMENT ON COLUMN meta.sync_runs.status IS 'running; succeeded (every project synced and published); partial (published, but some projects failed: their last good data is kept and marked stale in marts.project_health); failed (nothing published: cause says why).';
COMMENT ON COLUMN meta.sync_runs.cause IS 'For partial and failed runs: one line a person can act on (which site, project, URL or step, and what it answered). A run that was killed is marked failed by the next sync.';
COMMENT ON COLUMN meta.source_syncs.mode IS 'full (first sync of the project, or pulse sync --full) or incremental (changes since the cursor); null when its site failed before the project began.';
COMMENT ON COLUMN meta.source_syncs.status IS 'succeeded or failed. A failed project keeps the data of its earlier syncs (and whatever pages this one committed), marked stale in marts.project_health.';
