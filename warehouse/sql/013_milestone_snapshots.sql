-- Milestones with memory. Neither Jira (versions) nor GitHub (milestones) keeps a history of due
-- dates, so every build appends what changed to meta.milestone_snapshots: a table of the
-- migrations, not a derived one, so that no rebuild (transforms.build.forget_derived, a changed SQL
-- file) can lose what only earlier syncs saw. Program milestones come from program.yaml.
CREATE TABLE meta.milestone_snapshots (
    milestone_id  VARCHAR NOT NULL,
    kind          VARCHAR NOT NULL,
    program_id    VARCHAR,
    site          VARCHAR,
    project_key   VARCHAR,
    name          VARCHAR,
    start_date    DATE,
    due_date      DATE,
    state         VARCHAR,
    released      BOOLEAN,
    closed_at     TIMESTAMPTZ,
    scope_items   INTEGER NOT NULL,
    done_items    INTEGER NOT NULL,
    first_seen_at TIMESTAMPTZ NOT NULL,
    observed_at   TIMESTAMPTZ NOT NULL,
    recorded_at   TIMESTAMPTZ NOT NULL,
    sync_id       VARCHAR
);
COMMENT ON TABLE meta.milestone_snapshots IS 'Append-only history of every milestone (Jira version, GitHub milestone, Jira sprint, program milestone from program.yaml): one row each time a build saw it differ from its previous row (due date, start, state, name, scope or done count), and one when first seen. Neither tracker API keeps such a history; rows are never updated or deleted, and a full rebuild of the derived tables keeps them. Read through marts.milestone_slips.';
COMMENT ON COLUMN meta.milestone_snapshots.milestone_id IS 'core.milestones.milestone_id, core.sprints.sprint_id, or program:<program id>:<name> for a program milestone (meta.program_milestones.milestone_id).';
COMMENT ON COLUMN meta.milestone_snapshots.kind IS 'version (Jira), milestone (GitHub), sprint (Jira) or program (program.yaml).';
COMMENT ON COLUMN meta.milestone_snapshots.program_id IS 'Program of the milestone: its project''s; a sprint''s is the program of most of its items.';
COMMENT ON COLUMN meta.milestone_snapshots.site IS 'Tracker site name from program.yaml; null for program milestones.';
COMMENT ON COLUMN meta.milestone_snapshots.project_key IS 'Jira project key or GitHub owner/name; a sprint''s is the project of most of its items; null for program milestones.';
COMMENT ON COLUMN meta.milestone_snapshots.name IS 'Version name, milestone title, sprint name (tracker text) or program milestone name.';
COMMENT ON COLUMN meta.milestone_snapshots.start_date IS 'Jira version startDate or sprint start (UTC date); null for GitHub and program milestones.';
COMMENT ON COLUMN meta.milestone_snapshots.due_date IS 'Due date as seen: Jira releaseDate, GitHub due_on (UTC date), sprint planned end (UTC date), or the program milestone''s configured due; null when not set.';
COMMENT ON COLUMN meta.milestone_snapshots.state IS 'Jira version: open, released or archived; GitHub: open or closed; sprint: future, active or closed; program: open.';
COMMENT ON COLUMN meta.milestone_snapshots.released IS 'True when released (Jira), closed (GitHub, sprint); false otherwise.';
COMMENT ON COLUMN meta.milestone_snapshots.closed_at IS 'GitHub closed_at or sprint completeDate (UTC); null otherwise.';
COMMENT ON COLUMN meta.milestone_snapshots.scope_items IS 'Items in scope when observed, not epics, not discarded (METRICS.md "Scope and progress"): a version''s or GitHub milestone''s items now (core.item_history); a sprint''s, the items whose Sprint field names it (core.work_item_sprints: a closed sprint keeps those done in it and those carried over); a program milestone''s, the distinct items of its members.';
COMMENT ON COLUMN meta.milestone_snapshots.done_items IS 'Of scope_items, those done when observed.';
COMMENT ON COLUMN meta.milestone_snapshots.first_seen_at IS 'observed_at of the milestone''s first snapshot: the same on every row of one milestone.';
COMMENT ON COLUMN meta.milestone_snapshots.observed_at IS 'The as_of instant of the build that saw these values (the sync''s clock; the sandbox''s in a time-travelled sync).';
COMMENT ON COLUMN meta.milestone_snapshots.recorded_at IS 'Wall-clock instant the row was written (UTC): orders two snapshots with the same observed_at.';
COMMENT ON COLUMN meta.milestone_snapshots.sync_id IS 'The latest sync (meta.source_syncs.sync_id) whose landed data the snapshot reflects; null when built without one.';

CREATE TABLE meta.program_milestones (
    program_id   VARCHAR NOT NULL,
    milestone_id VARCHAR NOT NULL PRIMARY KEY,
    name         VARCHAR NOT NULL,
    due_date     DATE NOT NULL,
    baseline_due DATE,
    committed_on DATE
);
COMMENT ON TABLE meta.program_milestones IS 'Program milestones program.yaml declares (programs[].milestones): a date the program commits to over several projects'' milestones, epics or sprints (meta.program_milestone_members).';
COMMENT ON COLUMN meta.program_milestones.program_id IS 'core.programs.program_id.';
COMMENT ON COLUMN meta.program_milestones.milestone_id IS 'program:<program id>:<name>: the key marts.milestone_slips (and a program-level forecast) carry.';
COMMENT ON COLUMN meta.program_milestones.name IS 'Name from program.yaml.';
COMMENT ON COLUMN meta.program_milestones.due_date IS 'Current due date from program.yaml (milestones[].due).';
COMMENT ON COLUMN meta.program_milestones.baseline_due IS 'Baseline due date from program.yaml (milestones[].baseline); null: the due date first seen is the baseline.';
COMMENT ON COLUMN meta.program_milestones.committed_on IS 'Day the plan was agreed (milestones[].committed_on): the scope baseline is the members'' scope at that day''s end, rebuilt from field history; null: the scope first seen.';

CREATE TABLE meta.program_milestone_members (
    program_id   VARCHAR NOT NULL,
    milestone_id VARCHAR NOT NULL,
    member_kind  VARCHAR NOT NULL,
    site         VARCHAR NOT NULL,
    project_key  VARCHAR NOT NULL,
    member_name  VARCHAR NOT NULL
);
COMMENT ON TABLE meta.program_milestone_members IS 'What each program milestone (meta.program_milestones) is made of, from program.yaml: project milestones by name, epics by key, sprints by name.';
COMMENT ON COLUMN meta.program_milestone_members.program_id IS 'core.programs.program_id.';
COMMENT ON COLUMN meta.program_milestone_members.milestone_id IS 'meta.program_milestones.milestone_id.';
COMMENT ON COLUMN meta.program_milestone_members.member_kind IS 'milestone (a Jira version or GitHub milestone of the project, by name), epic (by key: its children are the scope) or sprint (a Jira sprint by name, on the project''s site).';
COMMENT ON COLUMN meta.program_milestone_members.site IS 'Site of the member''s project.';
COMMENT ON COLUMN meta.program_milestone_members.project_key IS 'Jira project key or GitHub owner/name the member belongs to.';
COMMENT ON COLUMN meta.program_milestone_members.member_name IS 'Version or milestone name, epic key (PAY-12, acme/web#34) or sprint name, as written in program.yaml.';
