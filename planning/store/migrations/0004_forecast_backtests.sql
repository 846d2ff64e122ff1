-- Forecast accuracy: weekly point-in-time forecasts of closed quarters against what happened.

CREATE TABLE forecast_backtests (
    run_id VARCHAR NOT NULL,
    computed_at TIMESTAMP NOT NULL,               -- UTC
    computed_by VARCHAR,
    quarter_label VARCHAR NOT NULL,
    quarter_start DATE NOT NULL,
    quarter_end DATE NOT NULL,
    week_of DATE NOT NULL,                        -- the moment the forecast was made
    open_deals BIGINT NOT NULL,
    closed_won_cents BIGINT NOT NULL,             -- won in the quarter by that moment
    p10_cents BIGINT NOT NULL,
    p50_cents BIGINT NOT NULL,
    p90_cents BIGINT NOT NULL,
    rep_call_cents BIGINT NOT NULL,               -- closed won + open Commit deals due in quarter
    actual_cents BIGINT NOT NULL,                 -- won with a close date in the quarter
    PRIMARY KEY (run_id, quarter_start, week_of)
);
