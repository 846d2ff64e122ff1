-- Save plays: plays started on accounts at risk, their tasks, renewal outcomes and which plays
-- an outcome credits.

CREATE TABLE save_plays (
    play_run_id VARCHAR PRIMARY KEY,              -- play-YYYYMMDD-HHMMSSffffff
    account_id VARCHAR NOT NULL,
    play VARCHAR NOT NULL,                        -- catalogue key (planning.health.plays)
    status VARCHAR NOT NULL,                      -- awaiting_approval | active | completed |
                                                  -- rejected | changes_requested
    started_by VARCHAR NOT NULL,
    started_at TIMESTAMP NOT NULL,                -- UTC, wall clock
    activated_at TIMESTAMP,                       -- when its tasks became open
    closed_at TIMESTAMP,
    subscription_ids VARCHAR[] NOT NULL,          -- the renewal the play works on
    renewal_date DATE,
    arr_cents BIGINT,                             -- ARR renewing on renewal_date
    concession_pct DOUBLE,                        -- percent of ARR, as asked
    concession_cents BIGINT,                      -- as asked
    commercial BOOLEAN NOT NULL,                  -- a customer-facing commercial change
    reasons VARCHAR NOT NULL,                     -- JSON: reason codes at start
    churn_probability DOUBLE,                     -- the account's risk at start
    note VARCHAR,
    terms_hash VARCHAR NOT NULL,                  -- SHA-256 of what approvers approve
    request_id VARCHAR                            -- the approval request, when one was needed
);

CREATE TABLE save_play_tasks (
    task_id VARCHAR PRIMARY KEY,                  -- play run id + '-' + seq
    play_run_id VARCHAR NOT NULL,
    seq INTEGER NOT NULL,
    title VARCHAR NOT NULL,
    owner_role VARCHAR NOT NULL,                  -- account_owner | starter | a role
    owner_email VARCHAR,                          -- NULL: nobody holds the role yet
    due_date DATE NOT NULL,
    status VARCHAR NOT NULL,                      -- waiting | open | done | cancelled
    completed_by VARCHAR,
    completed_at TIMESTAMP
);

CREATE TABLE renewal_outcomes (
    outcome_id VARCHAR PRIMARY KEY,
    account_id VARCHAR NOT NULL,
    renewal_date DATE NOT NULL,
    outcome VARCHAR NOT NULL,                     -- renewed | churned | downgraded
    arr_cents_before BIGINT NOT NULL,
    arr_cents_after BIGINT NOT NULL,
    at_risk BOOLEAN NOT NULL,                     -- at risk by the newest health score
    churn_probability DOUBLE,
    recorded_by VARCHAR NOT NULL,
    recorded_at TIMESTAMP NOT NULL,               -- UTC, wall clock
    UNIQUE (account_id, renewal_date)
);

CREATE TABLE save_play_credits (
    outcome_id VARCHAR NOT NULL,
    play_run_id VARCHAR NOT NULL,
    PRIMARY KEY (outcome_id, play_run_id)
);

INSERT INTO workspace_settings VALUES
    ('save_play_window_days', '180'),
    ('save_play_at_risk_probability', '0.3')
ON CONFLICT DO NOTHING;
