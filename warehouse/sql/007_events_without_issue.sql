-- GitHub events are landed without the issue GitHub embeds in each (raw.github_issues holds it):
-- it was most of the events' bytes (1.69 of 2.78 GB of raw JSON at 100,000 items).
COMMENT ON COLUMN raw.github_issue_events.payload IS 'The event object as GitHub returned it, except its embedded issue, cut to {id, number} (the whole issue is in raw.github_issues). Rows landed before migration 007 keep the whole issue.';
