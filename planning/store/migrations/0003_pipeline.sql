-- Deal risk models and their scores, forecast calls, inspection notes, the inbox, recommendations.

CREATE TABLE model_versions (
    model_id VARCHAR PRIMARY KEY,
    target VARCHAR NOT NULL,                      -- win | slip
    trained_at TIMESTAMP NOT NULL,                -- UTC
    trained_by VARCHAR,
    train_from DATE,                              -- close dates of the deals trained on
    train_to DATE,
    test_from DATE,                               -- close dates of the held-out deals
    test_to DATE,
    rows_train BIGINT NOT NULL,
    rows_test BIGINT NOT NULL,
    features VARCHAR[] NOT NULL,
    metrics_json VARCHAR NOT NULL,                -- auc, brier, baseline brier, base rate
    reliability_json VARCHAR NOT NULL,            -- predicted vs observed per bin
    model_blob BLOB NOT NULL,
    is_active BOOLEAN NOT NULL DEFAULT FALSE
);

CREATE TABLE deal_scores (
    model_id VARCHAR NOT NULL,
    opportunity_id VARCHAR NOT NULL,
    scored_at TIMESTAMP NOT NULL,
    win_probability DOUBLE,
    slip_probability DOUBLE,
    reasons_json VARCHAR,                         -- [{"feature", "text", "effect"}], strongest first
    PRIMARY KEY (model_id, opportunity_id)
);

CREATE SEQUENCE forecast_snapshot_ids START 1;
CREATE TABLE forecast_snapshots (
    snapshot_id BIGINT PRIMARY KEY DEFAULT nextval('forecast_snapshot_ids'),
    submitted_at TIMESTAMP NOT NULL,              -- UTC
    submitted_by VARCHAR NOT NULL,
    submitted_role VARCHAR,
    quarter_label VARCHAR NOT NULL,
    quarter_start DATE NOT NULL,
    quarter_end DATE NOT NULL,
    level VARCHAR NOT NULL,                       -- rep | team | company
    subject_id VARCHAR NOT NULL,                  -- rep id, team name or 'company'
    commit_cents BIGINT NOT NULL,
    best_case_cents BIGINT NOT NULL,
    closed_won_cents BIGINT,
    model_p10_cents BIGINT,
    model_p50_cents BIGINT,
    model_p90_cents BIGINT,
    model_id VARCHAR,
    comment VARCHAR,
    overrides_snapshot_id BIGINT,                 -- a manager's override of this earlier call
    override_reason VARCHAR
);

CREATE SEQUENCE inspection_note_ids START 1;
CREATE TABLE inspection_notes (
    note_id BIGINT PRIMARY KEY DEFAULT nextval('inspection_note_ids'),
    opportunity_id VARCHAR NOT NULL,
    author VARCHAR NOT NULL,
    created_at TIMESTAMP NOT NULL,
    body VARCHAR NOT NULL
);

CREATE SEQUENCE inbox_item_ids START 1;
CREATE TABLE inbox_items (
    item_id BIGINT PRIMARY KEY DEFAULT nextval('inbox_item_ids'),
    kind VARCHAR NOT NULL,                        -- deal_risk | approval ...
    entity VARCHAR NOT NULL,
    entity_id VARCHAR NOT NULL,
    assignee_rep_id VARCHAR,                      -- routed to this person (their manager)
    assignee_email VARCHAR,
    created_at TIMESTAMP NOT NULL,
    status VARCHAR NOT NULL,                      -- open | acted | dismissed
    title VARCHAR NOT NULL,
    detail_json VARCHAR,
    resolved_at TIMESTAMP,
    resolved_by VARCHAR
);

CREATE SEQUENCE recommendation_ids START 1;
CREATE TABLE recommendations (
    recommendation_id BIGINT PRIMARY KEY DEFAULT nextval('recommendation_ids'),
    model_id VARCHAR,
    opportunity_id VARCHAR NOT NULL,
    kind VARCHAR NOT NULL,                        -- e.g. re_engage, set_next_step, review_close_date
    text VARCHAR NOT NULL,
    shown_to VARCHAR,
    shown_at TIMESTAMP NOT NULL,
    action VARCHAR,                               -- accepted | overridden
    action_at TIMESTAMP,
    action_by VARCHAR,
    outcome VARCHAR                               -- won | lost | open, filled when the deal closes
);

INSERT INTO workspace_settings VALUES
    ('risk_alert_min_amount_cents', '5000000'),
    ('risk_alert_max_win_probability', '0.25'),
    ('stale_after_days', '21')
ON CONFLICT DO NOTHING;
