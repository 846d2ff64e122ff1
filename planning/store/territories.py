"""SQL of territory design: accounts and reps as territory inputs, saved scenario results."""

from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd

MEASURES: dict[str, str] = {
    "accounts": "1.0",
    "revenue": "coalesce(a.annual_revenue_cents, 0) / 100.0",
    "pipeline": "coalesce(p.open_cents, 0) / 100.0",
    "bookings": "coalesce(p.won_cents, 0) / 100.0",
}
"""Workload measures by key, as SQL over accounts `a` and their deal totals `p`."""


_DEAL_TOTALS = """WITH p AS (
    SELECT account_id,
           sum(amount_cents) FILTER (WHERE status = 'open') AS open_cents,
           sum(amount_cents) FILTER (WHERE status = 'won' AND close_date >= ?) AS won_cents
    FROM opportunities GROUP BY account_id)"""
"""Per account: open pipeline and bookings won since the query's one parameter, in cents."""


def territory_units(
    cur: duckdb.DuckDBPyConnection, measure: str, since: dt.date
) -> pd.DataFrame:
    """Accounts with a location: unit_id, name, lat, lon, workload (the measure), value
    (annual revenue, what a move risks), current_rep_id (an active rep only), segment, state."""
    workload = MEASURES[measure]
    return cur.execute(
        f"""{_DEAL_TOTALS}
            SELECT a.account_id AS unit_id, a.name, a.lat, a.lon,
                   {workload} AS workload,
                   greatest(coalesce(a.annual_revenue_cents, 0) / 100.0, 0) AS value,
                   CASE WHEN r.rep_id IS NOT NULL THEN a.owner_id END AS current_rep_id,
                   a.segment, a.state, a.city
            FROM accounts a
            LEFT JOIN p ON p.account_id = a.account_id
            LEFT JOIN reps r ON r.rep_id = a.owner_id AND r.is_active AND r.role = 'rep'
            WHERE a.lat IS NOT NULL AND a.lon IS NOT NULL
            ORDER BY a.account_id""",
        [since],
    ).df()


def measure_totals(cur: duckdb.DuckDBPyConnection, since: dt.date) -> dict[str, float]:
    """Each workload measure summed over the located accounts (bookings won since `since`)."""
    totals = cur.execute(
        f"""{_DEAL_TOTALS}
            SELECT {", ".join(f"sum({sql})" for sql in MEASURES.values())}
            FROM accounts a LEFT JOIN p ON p.account_id = a.account_id
            WHERE a.lat IS NOT NULL AND a.lon IS NOT NULL""",
        [since],
    ).fetchone()
    return {key: float(total or 0.0) for key, total in zip(MEASURES, totals, strict=True)}


def territory_reps(cur: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Active reps with a home: rep_id, name, team, lat, lon, segment, capacity (FTE, before
    ramp: see `planning.ramp`), hire_date, ramp_months."""
    return cur.execute(
        """SELECT rep_id, name, team, home_lat AS lat, home_lon AS lon, segment, capacity,
                  hire_date, ramp_months
           FROM reps
           WHERE is_active AND role = 'rep' AND home_lat IS NOT NULL AND home_lon IS NOT NULL
           ORDER BY rep_id""").df()


def insert_scenario(cur: duckdb.DuckDBPyConnection, row: dict, assignment: pd.DataFrame) -> None:
    """Store one scenario result and its assignment."""
    cur.execute(
        """INSERT INTO territory_scenarios (scenario_id, name, created_at, created_by,
               balance_measure, parameters, solver, kpis, content_hash)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
        [row["scenario_id"], row["name"], row["created_at"], row["created_by"],
         row["balance_measure"], row["parameters"], row["solver"], row["kpis"],
         row["content_hash"]],
    )
    cur.register("territory_rows", assignment)
    try:
        cur.execute(
            """INSERT INTO territory_assignments
               SELECT ?, unit_id, rep_id, current_rep_id, workload, value FROM territory_rows""",
            [row["scenario_id"]])
    finally:
        cur.unregister("territory_rows")


def scenarios(cur: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Saved scenarios, newest first (without assignments)."""
    return cur.execute(
        "SELECT * FROM territory_scenarios ORDER BY created_at DESC, scenario_id").df()


def scenario_assignment(cur: duckdb.DuckDBPyConnection, scenario_id: str) -> pd.DataFrame:
    """The assignment of one saved scenario."""
    return cur.execute(
        """SELECT unit_id, rep_id, current_rep_id, workload, value FROM territory_assignments
           WHERE scenario_id = ? ORDER BY unit_id""", [scenario_id]).df()
