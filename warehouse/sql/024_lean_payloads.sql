-- Payloads land without what the APIs put there for a reader of the API rather than as data: in
-- a Jira issue, the `self` links, `avatarUrls` and `iconUrl`s of the objects in its fields and
-- of its histories' authors (and no `creator` field, which nothing read); in GitHub issues,
-- events and milestones, a user's links into the API and avatar (connectors.jira_source
-- DECORATION, connectors.github_source USER_DECORATION). They were half of a Jira issue's bytes
-- and two thirds of an event's, written by every sync and parsed by every rebuild; no transform
-- read them. Only the comments change: rows landed before keep their links until they are
-- landed again (an edit, a full sync, or any re-read: a night's overlap window, a reconciliation,
-- whose payload hash now differs, so the first nights after an upgrade land and parse such rows
-- once more), and the transforms read both alike.

COMMENT ON COLUMN raw.jira_issues.payload IS 'The issue object as the search returned it (id, key, self, fields, changelog with its histories newest first, at most 100 on Cloud), less the self links, avatarUrls and iconUrls of the objects inside its fields (a description is kept as sent) and of its histories'' authors; no creator field. Rows landed before migration 024 keep them.';
COMMENT ON COLUMN raw.jira_changelogs.payload IS 'The history object (id, author, created, items) as returned, less its author''s self link and avatarUrls. Rows landed before migration 024 keep them.';
COMMENT ON COLUMN raw.github_issues.payload IS 'The issue object as returned, less the API links and avatar of the users it names (user, assignee, assignees, closed_by, milestone.creator: login, id, type and html_url stay). Rows landed before migration 024 keep them.';
COMMENT ON COLUMN raw.github_issue_relations.payload IS 'The related issue object (it may live in another repository) as returned, less the API links and avatar of the users it names, as raw.github_issues.payload. Rows landed before migration 024 keep them.';
COMMENT ON COLUMN raw.github_issue_events.payload IS 'The event object as GitHub returned it, except its embedded issue, cut to {id, number} (the whole issue is in raw.github_issues), and the API links and avatar of the users it names (actor, assignee, assigner, requested_reviewer, review_requester: login, id, type and html_url stay). Rows landed before migration 007 keep the whole issue, before migration 024 the users'' links.';
COMMENT ON COLUMN raw.github_milestones.payload IS 'The milestone object as returned (title, state, due_on, closed_at, open_issues, closed_issues), less its creator''s API links and avatar. Rows landed before migration 024 keep them.';
COMMENT ON COLUMN raw.tombstones.payload IS 'The last issue object we held, as it was landed (raw.jira_issues or raw.github_issues payload): since migration 024 without the API links and images those leave out; tombstones written before keep them.';
