-- Health over time: one row per open milestone, project and program per day. Not a derived table:
-- a rebuild never drops it (days recorded by past syncs are history the trackers do not keep).
CREATE TABLE marts.health_history (
    day                    DATE NOT NULL,
    as_of                  TIMESTAMPTZ NOT NULL,
    target_id              VARCHAR NOT NULL,
    level                  VARCHAR NOT NULL,
    program_id             VARCHAR NOT NULL,
    project_key            VARCHAR,
    milestone_id           VARCHAR,
    name                   VARCHAR,
    health                 VARCHAR,
    headline               VARCHAR,
    critical_path_health   VARCHAR,
    forecast_health        VARCHAR,
    schedule_health        VARCHAR,
    slip_health            VARCHAR,
    dependencies_health    VARCHAR,
    blocked_stale_health   VARCHAR,
    aging_wip_health       VARCHAR,
    scope_health           VARCHAR,
    people_health          VARCHAR,
    signals_health         VARCHAR,
    freshness_health       VARCHAR,
    red_dimensions         INTEGER,
    amber_dimensions       INTEGER,
    unknown_dimensions     INTEGER,
    reasons                INTEGER,
    source                 VARCHAR NOT NULL,
    recorded_at            TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (day, target_id)
);
-- Its COMMENT ONs live in transforms/sql/marts_health_history.sql, run with each build.
