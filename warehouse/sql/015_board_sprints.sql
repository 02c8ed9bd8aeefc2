-- Sprints as the projects' boards list them (Jira Software's agile API), so that a sprint no
-- issue names yet, a future one above all, is a milestone too. Read on the nights a project is
-- synced fully or reconciled, not on every quiet night.

CREATE TABLE raw.jira_board_sprints (
    site        VARCHAR NOT NULL,
    project_key VARCHAR NOT NULL,
    board_id    BIGINT NOT NULL,
    sprint_id   BIGINT NOT NULL,
    board       JSON NOT NULL,
    payload     JSON NOT NULL,
    synced_at   TIMESTAMPTZ NOT NULL,
    sync_id     VARCHAR NOT NULL,
    PRIMARY KEY (site, project_key, board_id, sprint_id)
);
COMMENT ON TABLE raw.jira_board_sprints IS 'Active and future sprints of each configured Jira project''s boards: GET /rest/agile/1.0/board?projectKeyOrId=<key>, then GET /rest/agile/1.0/board/{id}/sprint?state=active,future for each board that has sprints (scrum; team-managed ones that allow them). Read on a full sync and on the nights the project is reconciled; each such read replaces the project''s rows, so a sprint closed or deleted since leaves. A board shared by several projects is listed under each. Empty for a site without Jira Software (its agile API answers 404).';
COMMENT ON COLUMN raw.jira_board_sprints.site IS 'Site name from program.yaml.';
COMMENT ON COLUMN raw.jira_board_sprints.project_key IS 'The configured project whose board listing (projectKeyOrId) returned the board.';
COMMENT ON COLUMN raw.jira_board_sprints.board_id IS 'Jira Software board id (Server/DC: rapidViewId).';
COMMENT ON COLUMN raw.jira_board_sprints.sprint_id IS 'Jira''s numeric sprint id, unique within the site.';
COMMENT ON COLUMN raw.jira_board_sprints.board IS 'The board object unaltered (id, self, name, type: scrum or simple, location: projectKey, projectName, ...), as listed when the sprint''s row was last written: a board renamed while its sprint stays as it was keeps its old name here.';
COMMENT ON COLUMN raw.jira_board_sprints.payload IS 'The sprint object unaltered: id, self, state (active, future), name, startDate, endDate, completeDate, originBoardId, goal; a future sprint not yet scheduled has no dates.';
COMMENT ON COLUMN raw.jira_board_sprints.synced_at IS 'When this row''s content was last written (UTC): a re-read that finds it unchanged moves only sync_id.';
COMMENT ON COLUMN raw.jira_board_sprints.sync_id IS 'The sync that last listed this sprint.';

-- A sprint no counted item is in yet (a future one only its board lists) takes its board's project
-- and program in the snapshots (transforms/sql/meta_milestone_snapshots.sql).
COMMENT ON COLUMN meta.milestone_snapshots.program_id IS 'Program of the milestone: its project''s; a sprint''s is the program of most of its items, else (no item in it yet) that of the project whose board lists it.';
COMMENT ON COLUMN meta.milestone_snapshots.project_key IS 'Jira project key or GitHub owner/name; a sprint''s is the project of most of its items, else (no item in it yet) the project whose board lists it (core.sprints.board_project_key); null for program milestones.';
