-- CPQ catalog imports: each import of a catalog folder (products, options, bundles, rules CSVs)
-- into the workspace, numbered in order; the newest is the current catalog. The catalog's
-- content is kept once per catalog version in cpq_catalog_snapshots.

CREATE TABLE cpq_catalog_imports (
    import_no INTEGER PRIMARY KEY,                -- 1, 2, ... in import order
    catalog_version VARCHAR NOT NULL,             -- cpq_catalog_snapshots.catalog_version
    content_hash VARCHAR NOT NULL,                -- SHA-256 of the snapshot's content_json
    source VARCHAR NOT NULL,                      -- the folder imported from
    products INTEGER NOT NULL,
    options INTEGER NOT NULL,
    bundles INTEGER NOT NULL,
    rules INTEGER NOT NULL,
    imported_by VARCHAR NOT NULL,
    imported_at TIMESTAMP NOT NULL                -- UTC
);
