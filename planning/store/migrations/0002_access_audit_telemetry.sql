-- Who may use the workspace and with which roles; the audit chain; usage telemetry.

CREATE TABLE workspace_members (
    email VARCHAR PRIMARY KEY,                    -- verified email, lower case
    display_name VARCHAR,
    roles VARCHAR[] NOT NULL,
    granted_by VARCHAR NOT NULL,
    granted_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

-- Append-only: each row carries the SHA-256 of the previous row, so any edit, deletion or
-- reordering breaks the chain at a row `revplan audit verify` names.
CREATE TABLE audit_events (
    seq BIGINT PRIMARY KEY,
    occurred_at TIMESTAMP NOT NULL,               -- UTC
    actor VARCHAR NOT NULL,
    actor_role VARCHAR,
    action VARCHAR NOT NULL,
    entity VARCHAR NOT NULL,
    entity_id VARCHAR,
    before_json VARCHAR,
    after_json VARCHAR,
    reason VARCHAR,
    prev_hash VARCHAR NOT NULL,
    hash VARCHAR NOT NULL
);

CREATE SEQUENCE telemetry_event_ids START 1;
CREATE TABLE telemetry_events (
    event_id BIGINT PRIMARY KEY DEFAULT nextval('telemetry_event_ids'),
    occurred_at TIMESTAMP NOT NULL,               -- UTC
    user_email VARCHAR,
    kind VARCHAR NOT NULL,                        -- page_view | solve | import | export | login ...
    name VARCHAR NOT NULL,                        -- page or action name
    duration_ms DOUBLE,
    outcome VARCHAR NOT NULL,                     -- ok | error | refused
    detail_json VARCHAR
);

ALTER TABLE import_runs ADD COLUMN rows_skipped BIGINT DEFAULT 0;
CREATE INDEX import_rejects_run ON import_rejects (run_id);
