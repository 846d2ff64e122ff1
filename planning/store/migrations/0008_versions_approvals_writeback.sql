-- Plan versions (immutable content, content-hashed), approval policies and requests, and the
-- CRM writeback outbox.

CREATE TABLE plan_versions (
    version_id VARCHAR PRIMARY KEY,
    kind VARCHAR NOT NULL,                        -- territory | quota
    name VARCHAR NOT NULL,
    parent_id VARCHAR,
    fiscal_year INTEGER,
    parameters VARCHAR NOT NULL,                  -- JSON: the scenario settings
    solver VARCHAR NOT NULL,                      -- JSON: status, objective, bound, gap, time
    metrics VARCHAR NOT NULL,                     -- JSON: KPIs at save time
    content_hash VARCHAR NOT NULL,                -- SHA-256 over parameters and items
    author VARCHAR NOT NULL,
    created_at TIMESTAMP NOT NULL,                -- UTC
    status VARCHAR NOT NULL DEFAULT 'draft'       -- draft | submitted | approved | rejected |
                                                  -- changes_requested | published | superseded
);

-- One row per assigned unit (territory: subject = account, assignee = rep) or per rep (quota:
-- subject = rep, amount_cents = annual quota, detail = quarters JSON).
CREATE TABLE plan_version_items (
    version_id VARCHAR NOT NULL,
    subject VARCHAR NOT NULL,
    assignee VARCHAR,
    previous VARCHAR,                             -- territory: the owner when it was solved
    amount_cents BIGINT,
    detail VARCHAR,
    PRIMARY KEY (version_id, subject)
);

CREATE TABLE plan_version_tags (
    version_id VARCHAR NOT NULL,
    tag VARCHAR NOT NULL,
    tagged_by VARCHAR NOT NULL,
    tagged_at TIMESTAMP NOT NULL,
    PRIMARY KEY (version_id, tag)
);

CREATE TABLE approval_policies (
    policy_version INTEGER PRIMARY KEY,
    rules VARCHAR NOT NULL,                       -- JSON, see planning.approvals
    created_at TIMESTAMP NOT NULL,
    created_by VARCHAR NOT NULL
);

CREATE TABLE approval_requests (
    request_id VARCHAR PRIMARY KEY,
    version_id VARCHAR NOT NULL,
    content_hash VARCHAR NOT NULL,                -- what the approvers approve
    policy_version INTEGER NOT NULL,
    route VARCHAR NOT NULL,                       -- JSON: the rules that fired, in words
    submitted_by VARCHAR NOT NULL,
    submitted_at TIMESTAMP NOT NULL,
    status VARCHAR NOT NULL                       -- pending | approved | rejected |
                                                  -- changes_requested
);

CREATE TABLE approval_steps (
    request_id VARCHAR NOT NULL,
    step_no INTEGER NOT NULL,
    role VARCHAR NOT NULL,
    reason VARCHAR NOT NULL,                      -- why the policy asks this role
    status VARCHAR NOT NULL,                      -- pending | approved | rejected |
                                                  -- changes_requested | skipped | signed
    decided_by VARCHAR,
    decided_at TIMESTAMP,
    comment VARCHAR,
    PRIMARY KEY (request_id, step_no)
);

CREATE TABLE writeback_batches (
    batch_id VARCHAR PRIMARY KEY,
    version_id VARCHAR NOT NULL,
    content_hash VARCHAR NOT NULL,
    published_by VARCHAR NOT NULL,
    published_at TIMESTAMP NOT NULL,
    items BIGINT NOT NULL
);

CREATE TABLE writeback_outbox (
    idempotency_key VARCHAR PRIMARY KEY,          -- SHA-256 of version hash, record, field, value
    batch_id VARCHAR NOT NULL,
    sequence BIGINT NOT NULL,                     -- delivery order within the batch
    object VARCHAR NOT NULL,                      -- Account | Opportunity | Quota
    record_id VARCHAR NOT NULL,
    field VARCHAR NOT NULL,
    old_value VARCHAR,
    new_value VARCHAR NOT NULL,
    status VARCHAR NOT NULL,                      -- pending | delivered | failed
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error VARCHAR,
    delivered_at TIMESTAMP
);
