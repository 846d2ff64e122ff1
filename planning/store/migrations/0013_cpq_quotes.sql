-- CPQ quotes: the catalog and price book versions quotes are priced with (immutable snapshots,
-- content-hashed), one row per saved quote version (the version itself is a plan version of
-- kind 'quote'), and each sync of an approved quote to the CRM with its evidence.

CREATE TABLE cpq_catalog_snapshots (
    catalog_version VARCHAR PRIMARY KEY,
    content_json VARCHAR NOT NULL,                -- products, options, bundles, rules
    content_hash VARCHAR NOT NULL,                -- SHA-256 of content_json
    saved_by VARCHAR NOT NULL,
    saved_at TIMESTAMP NOT NULL                   -- UTC
);

CREATE TABLE cpq_price_books (
    price_book_id VARCHAR NOT NULL,
    version INTEGER NOT NULL,
    name VARCHAR NOT NULL,
    segment VARCHAR NOT NULL,                     -- a segment, or * for every segment
    region VARCHAR NOT NULL,
    currency VARCHAR NOT NULL,
    valid_from DATE,
    valid_to DATE,
    content_json VARCHAR NOT NULL,                -- prices, tiers, promotions, policies, floors
    content_hash VARCHAR NOT NULL,
    saved_by VARCHAR NOT NULL,
    saved_at TIMESTAMP NOT NULL,
    PRIMARY KEY (price_book_id, version)
);

CREATE TABLE cpq_quote_versions (
    version_id VARCHAR PRIMARY KEY,               -- = plan_versions.version_id (kind 'quote')
    quote_id VARCHAR NOT NULL,                    -- the quote, the same across its versions
    version_no INTEGER NOT NULL,
    account_id VARCHAR NOT NULL,
    seller VARCHAR NOT NULL,
    seller_role VARCHAR NOT NULL,
    segment VARCHAR NOT NULL,
    region VARCHAR NOT NULL,
    currency VARCHAR NOT NULL,
    catalog_version VARCHAR NOT NULL,
    price_book_id VARCHAR NOT NULL,
    price_book_version INTEGER NOT NULL,
    priced_on DATE NOT NULL,
    list_cents BIGINT NOT NULL,
    net_cents BIGINT NOT NULL,
    cost_cents BIGINT NOT NULL,
    created_by VARCHAR NOT NULL,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (quote_id, version_no)
);

CREATE TABLE cpq_quote_syncs (
    version_id VARCHAR NOT NULL,
    batch_id VARCHAR NOT NULL,                    -- writeback_batches.batch_id
    content_hash VARCHAR NOT NULL,
    evidence_json VARCHAR NOT NULL,               -- rule matches and approval ids
    synced_by VARCHAR NOT NULL,
    synced_at TIMESTAMP NOT NULL,
    PRIMARY KEY (version_id, batch_id)
);
