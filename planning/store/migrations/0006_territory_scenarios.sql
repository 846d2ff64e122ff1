-- Territory scenario results: the settings, the solver's statistics and the full assignment.
-- Rows are only ever inserted; the content hash covers settings and assignment.

CREATE TABLE territory_scenarios (
    scenario_id VARCHAR PRIMARY KEY,
    name VARCHAR NOT NULL,
    created_at TIMESTAMP NOT NULL,                -- UTC
    created_by VARCHAR NOT NULL,
    balance_measure VARCHAR NOT NULL,
    parameters VARCHAR NOT NULL,                  -- JSON: tolerance, weights, locks, caps
    solver VARCHAR NOT NULL,                      -- JSON: status, objective, bound, gap, ...
    kpis VARCHAR NOT NULL,                        -- JSON: deviation, moves, distance, vs current
    content_hash VARCHAR NOT NULL                 -- SHA-256 of parameters and assignment
);

CREATE TABLE territory_assignments (
    scenario_id VARCHAR NOT NULL,
    unit_id VARCHAR NOT NULL,
    rep_id VARCHAR NOT NULL,
    current_rep_id VARCHAR,
    workload DOUBLE NOT NULL,
    value DOUBLE NOT NULL,
    PRIMARY KEY (scenario_id, unit_id)
);
