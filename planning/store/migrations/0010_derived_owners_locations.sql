-- Owners and locations derived where an export lacks them: how precisely each account was
-- located, whether its owner came from its deals, whether a rep's home came from their book.

ALTER TABLE accounts ADD COLUMN country VARCHAR;
-- given (the file's lat/lon) | zip | city | region (US state) | country (coarse); NULL = not
-- located.
ALTER TABLE accounts ADD COLUMN geo_precision VARCHAR;
ALTER TABLE accounts ADD COLUMN owner_derived BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE reps ADD COLUMN home_derived BOOLEAN NOT NULL DEFAULT FALSE;

UPDATE accounts SET geo_precision = 'given' WHERE lat IS NOT NULL AND lon IS NOT NULL;
