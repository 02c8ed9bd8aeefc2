-- A story-point estimate is a finite number below 1e9 in magnitude; any other value of the field
-- (1e15, NaN, Infinity) is read as no estimate, in staging.jira_issues and core.item_history alike.
-- Point sums are exact DECIMALs (marts.burnup, meta.burnup_changes), which such a value would
-- overflow and fail the build with; no real estimate comes near the bound. The staging step parses
-- every issue again on its own (its SQL changed).
COMMENT ON COLUMN staging.jira_issues.story_points IS 'The value of the site''s story-points field (raw.jira_sites.field_roles story_points), when it is a finite number below 1e9 in magnitude; else null (no estimate).';
