-- Field history (core.item_history) needs every fix version an issue is in, by id (versions are
-- added and removed one by one in changelogs, by id), and whether it is flagged now (the Jira
-- Software "Flagged" field: its changelog items say when it was set and cleared).
ALTER TABLE staging.jira_issues ADD COLUMN fix_version_ids VARCHAR[];
ALTER TABLE staging.jira_issues ADD COLUMN flagged BOOLEAN;
-- parsed again with the new columns (the staging step also sees its SQL changed)
DELETE FROM staging.jira_issues;
DELETE FROM meta.transform_state;
COMMENT ON COLUMN staging.jira_issues.fix_version_ids IS 'fields.fixVersions[*].id, in the tracker''s order; empty when none.';
COMMENT ON COLUMN staging.jira_issues.flagged IS 'True when the site''s Flagged field (raw.jira_sites.field_roles.flagged) holds a value (Impediment); false when empty; null when the site has no Flagged field.';
