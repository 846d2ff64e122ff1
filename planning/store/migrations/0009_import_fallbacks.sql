-- Import fallbacks: open deals whose close or created date the import estimated, reps whose
-- role the import derived (so it can be recomputed when the org chart grows), and reject rows
-- that only warn about a row that was kept.
ALTER TABLE opportunities ADD COLUMN close_date_estimated BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE opportunities ADD COLUMN created_estimated BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE reps ADD COLUMN role_derived BOOLEAN NOT NULL DEFAULT FALSE;
DROP INDEX import_rejects_run;
ALTER TABLE import_rejects ADD COLUMN severity VARCHAR NOT NULL DEFAULT 'rejected';
CREATE INDEX import_rejects_run ON import_rejects (run_id);
