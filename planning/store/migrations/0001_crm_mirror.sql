-- CRM mirror: what imports and the demo generator load. Money is integer cents; time is UTC.

CREATE TABLE workspace_settings (
    key VARCHAR PRIMARY KEY,
    value VARCHAR NOT NULL
);
INSERT INTO workspace_settings VALUES
    ('fiscal_year_start_month', '1'),
    ('currency', 'USD');

CREATE TABLE reps (
    rep_id VARCHAR PRIMARY KEY,
    name VARCHAR NOT NULL,
    email VARCHAR,
    title VARCHAR,
    role VARCHAR NOT NULL DEFAULT 'rep',          -- rep | manager | executive
    manager_id VARCHAR,
    team VARCHAR,
    region VARCHAR,
    segment VARCHAR,                              -- SMB | Mid-Market | Enterprise
    hire_date DATE,
    ramp_months INTEGER NOT NULL DEFAULT 0,
    capacity DOUBLE NOT NULL DEFAULT 1.0,         -- FTE
    home_zip VARCHAR,
    home_lat DOUBLE,
    home_lon DOUBLE,
    is_active BOOLEAN NOT NULL DEFAULT TRUE,
    source VARCHAR NOT NULL,
    loaded_at TIMESTAMP NOT NULL
);

CREATE TABLE geo_units (
    unit_id VARCHAR PRIMARY KEY,                  -- ZIP code
    kind VARCHAR NOT NULL DEFAULT 'zip',
    city VARCHAR,
    state VARCHAR,
    county VARCHAR,
    lat DOUBLE NOT NULL,
    lon DOUBLE NOT NULL,
    population BIGINT,
    potential_cents BIGINT
);

CREATE TABLE accounts (
    account_id VARCHAR PRIMARY KEY,
    name VARCHAR NOT NULL,
    industry VARCHAR,
    segment VARCHAR,
    employees INTEGER,
    annual_revenue_cents BIGINT,
    zip VARCHAR,
    city VARCHAR,
    state VARCHAR,
    county VARCHAR,
    lat DOUBLE,
    lon DOUBLE,
    owner_id VARCHAR,
    created_at TIMESTAMP,
    source VARCHAR NOT NULL,
    loaded_at TIMESTAMP NOT NULL
);

CREATE TABLE opportunities (
    opportunity_id VARCHAR PRIMARY KEY,
    account_id VARCHAR NOT NULL,
    owner_id VARCHAR NOT NULL,
    name VARCHAR,
    type VARCHAR,                                 -- New Business | Expansion | Renewal
    product_id VARCHAR,
    stage VARCHAR NOT NULL,
    status VARCHAR NOT NULL,                      -- open | won | lost
    amount_cents BIGINT,
    close_date DATE NOT NULL,
    created_at TIMESTAMP NOT NULL,
    closed_at TIMESTAMP,
    forecast_category VARCHAR,                    -- Pipeline | Best Case | Commit | Closed | Omitted
    next_step VARCHAR,
    next_step_date DATE,
    last_activity_date DATE,
    source VARCHAR NOT NULL,
    loaded_at TIMESTAMP NOT NULL
);

-- One row per field change, as CRMs export it; field is created | stage | amount |
-- close_date | forecast_category. Values are text in the CRM's own form (amounts in cents).
CREATE TABLE opportunity_history (
    history_id VARCHAR NOT NULL,
    opportunity_id VARCHAR NOT NULL,
    changed_at TIMESTAMP NOT NULL,
    field VARCHAR NOT NULL,
    old_value VARCHAR,
    new_value VARCHAR,
    changed_by VARCHAR,
    source VARCHAR NOT NULL,
    loaded_at TIMESTAMP NOT NULL
);

CREATE TABLE activities (
    activity_id VARCHAR NOT NULL,
    opportunity_id VARCHAR,
    account_id VARCHAR,
    owner_id VARCHAR,
    kind VARCHAR NOT NULL,                        -- call | email | meeting
    occurred_at TIMESTAMP NOT NULL,
    source VARCHAR NOT NULL,
    loaded_at TIMESTAMP NOT NULL
);

CREATE TABLE products (
    product_id VARCHAR PRIMARY KEY,
    name VARCHAR NOT NULL,
    family VARCHAR NOT NULL,
    list_price_cents BIGINT NOT NULL,             -- per seat per year
    is_active BOOLEAN NOT NULL DEFAULT TRUE,
    source VARCHAR NOT NULL,
    loaded_at TIMESTAMP NOT NULL
);

CREATE TABLE price_books (
    price_book_id VARCHAR PRIMARY KEY,
    name VARCHAR NOT NULL,
    segment VARCHAR,
    currency VARCHAR NOT NULL DEFAULT 'USD',
    source VARCHAR NOT NULL,
    loaded_at TIMESTAMP NOT NULL
);

CREATE TABLE price_book_entries (
    price_book_id VARCHAR NOT NULL,
    product_id VARCHAR NOT NULL,
    unit_price_cents BIGINT NOT NULL,
    PRIMARY KEY (price_book_id, product_id)
);

CREATE TABLE subscriptions (
    subscription_id VARCHAR PRIMARY KEY,
    account_id VARCHAR NOT NULL,
    product_id VARCHAR NOT NULL,
    start_date DATE NOT NULL,
    renewal_date DATE NOT NULL,
    seats INTEGER NOT NULL,
    arr_cents BIGINT NOT NULL,
    status VARCHAR NOT NULL,                      -- active | churned
    source VARCHAR NOT NULL,
    loaded_at TIMESTAMP NOT NULL
);

CREATE TABLE usage (
    account_id VARCHAR NOT NULL,
    month DATE NOT NULL,
    active_users INTEGER NOT NULL,
    events BIGINT NOT NULL,
    source VARCHAR NOT NULL,
    loaded_at TIMESTAMP NOT NULL
);

CREATE TABLE tickets (
    ticket_id VARCHAR NOT NULL,
    account_id VARCHAR NOT NULL,
    opened_at TIMESTAMP NOT NULL,
    closed_at TIMESTAMP,
    priority VARCHAR NOT NULL,                    -- low | normal | high | urgent
    status VARCHAR NOT NULL,                      -- open | closed
    source VARCHAR NOT NULL,
    loaded_at TIMESTAMP NOT NULL
);

CREATE TABLE invoices (
    invoice_id VARCHAR NOT NULL,
    account_id VARCHAR NOT NULL,
    subscription_id VARCHAR,
    issued_on DATE NOT NULL,
    due_on DATE NOT NULL,
    paid_on DATE,
    amount_cents BIGINT NOT NULL,
    status VARCHAR NOT NULL,                      -- paid | open | overdue
    source VARCHAR NOT NULL,
    loaded_at TIMESTAMP NOT NULL
);

-- Imports: one row per run, rejected rows quarantined with where and why.
CREATE SEQUENCE import_run_ids START 1;
CREATE TABLE import_runs (
    run_id BIGINT PRIMARY KEY DEFAULT nextval('import_run_ids'),
    started_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP,
    actor VARCHAR,
    files VARCHAR[] NOT NULL,
    status VARCHAR NOT NULL,                      -- applied | applied_with_rejects
    rows_read BIGINT NOT NULL DEFAULT 0,
    rows_inserted BIGINT NOT NULL DEFAULT 0,
    rows_updated BIGINT NOT NULL DEFAULT 0,
    rows_unchanged BIGINT NOT NULL DEFAULT 0,
    rows_rejected BIGINT NOT NULL DEFAULT 0,
    summary_json VARCHAR
);

CREATE TABLE import_rejects (
    run_id BIGINT NOT NULL,
    file VARCHAR NOT NULL,
    line BIGINT NOT NULL,
    column_name VARCHAR,
    value VARCHAR,
    reason VARCHAR NOT NULL,
    raw_json VARCHAR
);

CREATE INDEX opportunity_history_opportunity ON opportunity_history (opportunity_id);
