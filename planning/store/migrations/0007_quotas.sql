-- Quotas: assigned annual quotas per rep and fiscal year (the CRM's or a published plan's),
-- and quota scenario results with their allocations.

CREATE TABLE rep_quotas (
    fiscal_year INTEGER NOT NULL,
    rep_id VARCHAR NOT NULL,
    quota_cents BIGINT NOT NULL,
    source VARCHAR NOT NULL,
    loaded_at TIMESTAMP NOT NULL,
    PRIMARY KEY (fiscal_year, rep_id)
);

CREATE TABLE quota_scenarios (
    scenario_id VARCHAR PRIMARY KEY,
    name VARCHAR NOT NULL,
    fiscal_year INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL,                -- UTC
    created_by VARCHAR NOT NULL,
    parameters VARCHAR NOT NULL,                  -- JSON: target, blend, caps, overrides
    solver VARCHAR NOT NULL,                      -- JSON: status, objective, bound, seconds
    metrics VARCHAR NOT NULL,                     -- JSON: fairness and capacity figures
    total_cents BIGINT NOT NULL,
    content_hash VARCHAR NOT NULL                 -- SHA-256 of parameters and allocation
);

CREATE TABLE quota_allocations (
    scenario_id VARCHAR NOT NULL,
    rep_id VARCHAR NOT NULL,
    quota_cents BIGINT NOT NULL,
    q1_cents BIGINT NOT NULL,
    q2_cents BIGINT NOT NULL,
    q3_cents BIGINT NOT NULL,
    q4_cents BIGINT NOT NULL,
    fair_cents BIGINT NOT NULL,
    explanation VARCHAR NOT NULL,
    PRIMARY KEY (scenario_id, rep_id)
);
