-- Customer health: NPS responses where a survey tool exports them, churn model versions with
-- their model cards, health scores per account per scoring moment, and model quality over time.

CREATE TABLE nps_responses (
    account_id VARCHAR NOT NULL,
    responded_at TIMESTAMP NOT NULL,
    score INTEGER NOT NULL,                       -- 0..10
    source VARCHAR NOT NULL,
    loaded_at TIMESTAMP NOT NULL
);

CREATE TABLE churn_models (
    model_id VARCHAR PRIMARY KEY,
    trained_at TIMESTAMP NOT NULL,                -- UTC, wall clock
    trained_by VARCHAR,
    as_of TIMESTAMP NOT NULL,                     -- renewals before this moment were trained on
    horizon_days INTEGER NOT NULL,                -- features as of this many days before renewal
    train_from DATE,                              -- renewal dates of the training rows
    train_to DATE,
    test_from DATE,                               -- renewal dates of the held-out rows
    test_to DATE,
    rows_train BIGINT NOT NULL,
    rows_test BIGINT NOT NULL,
    features VARCHAR[] NOT NULL,
    card_json VARCHAR NOT NULL,                   -- metrics, baseline, importance, leaks
    model_blob BLOB NOT NULL,
    is_active BOOLEAN NOT NULL DEFAULT FALSE
);

CREATE TABLE health_scores (
    model_id VARCHAR NOT NULL,
    account_id VARCHAR NOT NULL,
    as_of TIMESTAMP NOT NULL,                     -- the moment the features describe
    scored_at TIMESTAMP NOT NULL,                 -- UTC, wall clock
    subscription_id VARCHAR,                      -- the subscription renewing next
    renewal_date DATE,
    arr_cents BIGINT,                             -- ARR renewing on renewal_date
    health_score INTEGER NOT NULL,                -- 0..100
    components_json VARCHAR NOT NULL,             -- {"usage_trend": 80, ...}
    features_json VARCHAR NOT NULL,               -- the raw measures behind the components
    churn_probability DOUBLE NOT NULL,
    reasons_json VARCHAR NOT NULL,                -- [{"code", "text", "effect"}], strongest first
    PRIMARY KEY (model_id, account_id, as_of)
);

CREATE TABLE churn_model_quality (
    model_id VARCHAR NOT NULL,
    measured_at TIMESTAMP NOT NULL,               -- UTC, wall clock
    kind VARCHAR NOT NULL,                        -- held_out (at training) | resolved (since)
    period_from DATE,                             -- renewal dates measured on
    period_to DATE,
    renewals BIGINT NOT NULL,
    churned BIGINT NOT NULL,
    auc DOUBLE,                                   -- NULL when only one outcome occurred
    brier DOUBLE,
    base_rate_brier DOUBLE
);

INSERT INTO workspace_settings VALUES
    ('health_horizon_days', '60')
ON CONFLICT DO NOTHING;
