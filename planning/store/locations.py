"""SQL of values derived after an import: account owners from deals, account locations from
addresses, rep homes from their books; and counts of what was derived."""

from __future__ import annotations

from collections.abc import Sequence

import duckdb
import pandas as pd
import pyarrow as pa

DERIVED_PRECISIONS = ("zip", "city", "region", "country")
"""Precisions a geocoded (not given) location can have."""


def mark_given(cur: duckdb.DuckDBPyConnection, table: str, ids: list[str]) -> None:
    """Mark values the run's files gave as given, so derivation never overwrites them:
    `accounts` ids had lat/lon, `owners` ids (accounts) had an owner, `reps` ids a home."""
    if not ids:
        return
    statements = {
        "accounts": "UPDATE accounts SET geo_precision = 'given' WHERE account_id IN "
                    "(SELECT id FROM given_ids) AND lat IS NOT NULL AND lon IS NOT NULL",
        "owners": "UPDATE accounts SET owner_derived = FALSE WHERE account_id IN "
                  "(SELECT id FROM given_ids) AND owner_id IS NOT NULL",
        "reps": "UPDATE reps SET home_derived = FALSE WHERE rep_id IN (SELECT id FROM given_ids) "
                "AND home_lat IS NOT NULL AND home_lon IS NOT NULL",
    }
    cur.register("given_ids", pa.table({"id": pa.array(ids, pa.string())}))
    try:
        cur.execute(statements[table])
    finally:
        cur.unregister("given_ids")


def derive_owners(cur: duckdb.DuckDBPyConnection, unowned: Sequence[str] = ()) -> int:
    """Give every account without an owner (or with a derived one) the owner of most of its
    deals; on a tie, the tied owner with the most recently created deal. Accounts listed in
    `unowned` (buckets such as the unknown account, whose deals belong to many reps) keep no
    owner. Returns how many accounts now have a derived owner."""
    cur.execute(
        """UPDATE accounts SET owner_id = NULL, owner_derived = FALSE WHERE owner_derived""")
    cur.execute(
        """WITH per_owner AS (
               SELECT account_id, owner_id, count(*) AS deals, max(created_at) AS latest
               FROM opportunities WHERE owner_id IS NOT NULL GROUP BY account_id, owner_id),
           ranked AS (
               SELECT account_id, owner_id, row_number() OVER (
                   PARTITION BY account_id ORDER BY deals DESC, latest DESC, owner_id) AS rank
               FROM per_owner)
           UPDATE accounts AS a SET owner_id = r.owner_id, owner_derived = TRUE
           FROM ranked AS r
           WHERE r.account_id = a.account_id AND r.rank = 1 AND a.owner_id IS NULL
             AND NOT list_contains(?, a.account_id)""", [list(unowned)])
    return int(cur.execute("SELECT count(*) FROM accounts WHERE owner_derived").fetchone()[0])


def mark_given_coordinates(cur: duckdb.DuckDBPyConnection) -> None:
    """Accounts with coordinates and no precision got them from a file: mark them given."""
    cur.execute("""UPDATE accounts SET geo_precision = 'given'
                   WHERE geo_precision IS NULL AND lat IS NOT NULL AND lon IS NOT NULL""")


def addresses_to_locate(cur: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """account_id, zip, city, state, country of accounts whose location is missing (and that
    have some address) or was derived (recomputed, since the address may have changed)."""
    return cur.execute(
        """SELECT account_id, zip, city, state, country FROM accounts
           WHERE geo_precision IS DISTINCT FROM 'given'
             AND (geo_precision IS NOT NULL OR zip IS NOT NULL OR city IS NOT NULL
                  OR state IS NOT NULL OR country IS NOT NULL)
           ORDER BY account_id""").df()


def write_locations(cur: duckdb.DuckDBPyConnection, located: pd.DataFrame) -> None:
    """Store geocoded points: account_id, lat, lon, precision (None clears the location)."""
    frame = located[["account_id", "lat", "lon", "precision"]].astype(
        {"lat": "float64", "lon": "float64"})
    cur.register("located_rows", frame)
    try:
        cur.execute(
            """UPDATE accounts AS a
               SET lat = l.lat, lon = l.lon, geo_precision = l.precision
               FROM located_rows AS l
               WHERE a.account_id = l.account_id
                 AND (a.lat IS DISTINCT FROM l.lat OR a.lon IS DISTINCT FROM l.lon
                      OR a.geo_precision IS DISTINCT FROM l.precision)""")
    finally:
        cur.unregister("located_rows")


def derive_rep_homes(cur: duckdb.DuckDBPyConnection) -> int:
    """Give active reps without a given home the workload-weighted centre of their located
    accounts; returns how many reps now have a derived home.

    An account weighs 1 + its deal amount (any status) closing in the 365 days up to the
    workspace's newest close date, divided by the mean of that amount over all accounts (an
    average account weighs 2, one without deals 1). The centre is the weighted mean of unit
    vectors, so it is right on any part of the globe.
    """
    cur.execute("""UPDATE reps SET home_lat = NULL, home_lon = NULL, home_derived = FALSE
                   WHERE home_derived""")
    cur.execute(
        """WITH newest AS (SELECT max(close_date) AS day FROM opportunities),
           amounts AS (
               SELECT o.account_id, sum(coalesce(o.amount_cents, 0)) AS cents
               FROM opportunities AS o, newest
               WHERE o.close_date > newest.day - INTERVAL 365 DAY
               GROUP BY o.account_id),
           book AS (
               SELECT a.owner_id AS rep_id, radians(a.lat) AS phi, radians(a.lon) AS lam,
                      coalesce(m.cents, 0) AS cents
               FROM accounts AS a LEFT JOIN amounts AS m ON m.account_id = a.account_id
               WHERE a.lat IS NOT NULL AND a.lon IS NOT NULL AND a.owner_id IS NOT NULL),
           weighted AS (
               SELECT rep_id, phi, lam,
                      1 + coalesce(cents / nullif(avg(cents) OVER (), 0), 0) AS weight
               FROM book),
           centres AS (
               SELECT rep_id, sum(weight * cos(phi) * cos(lam)) AS x,
                      sum(weight * cos(phi) * sin(lam)) AS y, sum(weight * sin(phi)) AS z
               FROM weighted GROUP BY rep_id)
           UPDATE reps AS r
           SET home_lat = degrees(atan2(c.z, sqrt(c.x * c.x + c.y * c.y))),
               home_lon = degrees(atan2(c.y, c.x)), home_derived = TRUE
           FROM centres AS c
           WHERE c.rep_id = r.rep_id AND r.is_active AND r.role = 'rep'
             AND (r.home_lat IS NULL OR r.home_lon IS NULL)""")
    return int(cur.execute("SELECT count(*) FROM reps WHERE home_derived").fetchone()[0])


def located_accounts_by_precision(cur: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Accounts per location precision (given, zip, city, region, country), and `none` for
    accounts without a location; precisions with no account are left out."""
    rows = cur.execute(
        """SELECT CASE WHEN lat IS NULL OR lon IS NULL THEN 'none'
                       ELSE coalesce(geo_precision, 'given') END AS precision, count(*)
           FROM accounts GROUP BY ALL""").fetchall()
    order = ("given", *DERIVED_PRECISIONS, "none")
    counts = dict(rows)
    return {key: int(counts[key]) for key in order if counts.get(key)}


def derived_counts(cur: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """How many accounts have a derived owner and how many active reps a derived home."""
    owners, homes = cur.execute(
        """SELECT (SELECT count(*) FROM accounts WHERE owner_derived),
                  (SELECT count(*) FROM reps WHERE home_derived AND is_active)""").fetchone()
    return {"owners_derived": int(owners), "rep_homes_derived": int(homes)}
