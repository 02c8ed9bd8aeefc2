-- One person across trackers (core.people): Jira user objects carry an e-mail address where the
-- site shows it (Data Center does; Cloud only when the user's profile allows), and identities with
-- the same address are one person.
ALTER TABLE staging.jira_issues ADD COLUMN assignee_email VARCHAR;
ALTER TABLE staging.jira_issues ADD COLUMN reporter_email VARCHAR;
-- parsed again with the new columns (the staging step also sees its SQL changed)
DELETE FROM staging.jira_issues;
DELETE FROM meta.transform_state;
COMMENT ON COLUMN staging.jira_issues.assignee_email IS 'fields.assignee.emailAddress as the site shows it; null when hidden (Jira Cloud hides it unless the user''s profile shows it) or unassigned.';
COMMENT ON COLUMN staging.jira_issues.reporter_email IS 'fields.reporter.emailAddress as the site shows it; null when hidden or no reporter.';
