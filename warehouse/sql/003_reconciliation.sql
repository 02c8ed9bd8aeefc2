-- Deletions and moves show only in a complete listing of a project's members, which a quiet night
-- skips until reconciliation is due: when it last ran is kept with the cursor.

ALTER TABLE meta.sync_cursors ADD COLUMN reconciled_at TIMESTAMPTZ;
COMMENT ON COLUMN meta.sync_cursors.reconciled_at IS 'When the project''s members were last listed completely (Jira: key-only id listing; GitHub: full relisting), finding deletions and moves. Every sync that sees changes reconciles; a quiet one only when sync.reconcile_every_days have passed since.';

COMMENT ON TABLE raw.jira_changelogs IS 'Complete changelogs of Jira issues whose search result embedded only part of theirs (changelog.total > histories): one row per history, from Jira Cloud''s POST /rest/api/3/changelog/bulkfetch (up to 1,000 issues a request). Data Center embeds whole changelogs.';
