"""SQL of quota design: per-rep inputs (book, bookings, pipeline, last quota), seasonality,
saved quota scenarios and their allocations."""

from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd


def rep_inputs(
    cur: duckdb.DuckDBPyConnection, window: tuple[dt.date, dt.date],
    prior_window: tuple[dt.date, dt.date], last_year: int, territory_scenario: str | None,
) -> pd.DataFrame:
    """Active reps: rep_id, name, team, segment, hire_date, ramp_months, capacity,
    potential (book revenue, or the territory scenario's), history (won in `window`),
    prior_history (won in `prior_window`), pipeline (open), last_quota (fiscal `last_year`);
    amounts in dollars."""
    return cur.execute(
        """WITH won AS (
               SELECT owner_id,
                      sum(amount_cents) FILTER (WHERE close_date BETWEEN ? AND ?) AS recent,
                      sum(amount_cents) FILTER (WHERE close_date BETWEEN ? AND ?) AS prior
               FROM opportunities WHERE status = 'won' GROUP BY owner_id),
           open AS (SELECT owner_id, sum(amount_cents) AS cents FROM opportunities
                    WHERE status = 'open' GROUP BY owner_id),
           book AS (
               SELECT owner_id AS rep_id, sum(annual_revenue_cents) AS cents FROM accounts
               WHERE ?::VARCHAR IS NULL GROUP BY owner_id
               UNION ALL
               SELECT rep_id, sum(value * 100) FROM territory_assignments
               WHERE scenario_id = ? GROUP BY rep_id)
           SELECT r.rep_id, r.name, r.team, r.segment, r.hire_date, r.ramp_months, r.capacity,
                  coalesce(b.cents, 0) / 100.0 AS potential,
                  coalesce(w.recent, 0) / 100.0 AS history,
                  coalesce(w.prior, 0) / 100.0 AS prior_history,
                  coalesce(o.cents, 0) / 100.0 AS pipeline,
                  q.quota_cents / 100.0 AS last_quota
           FROM reps r
           LEFT JOIN book b ON b.rep_id = r.rep_id
           LEFT JOIN won w ON w.owner_id = r.rep_id
           LEFT JOIN open o ON o.owner_id = r.rep_id
           LEFT JOIN rep_quotas q ON q.rep_id = r.rep_id AND q.fiscal_year = ?
           WHERE r.is_active AND r.role = 'rep'
           ORDER BY r.rep_id""",
        [*window, *prior_window, territory_scenario, territory_scenario, last_year],
    ).df()


def book_fallbacks(cur: duckdb.DuckDBPyConnection, end: dt.date) -> pd.DataFrame:
    """Per active rep, what else their book holds when accounts carry no revenue: bookings
    (won on the accounts they own, closed up to `end`, dollars) and the number of accounts."""
    return cur.execute(
        """WITH won AS (
               SELECT account_id, sum(amount_cents) AS cents FROM opportunities
               WHERE status = 'won' AND close_date <= ? GROUP BY account_id)
           SELECT r.rep_id, coalesce(sum(w.cents), 0) / 100.0 AS bookings,
                  count(a.account_id) AS accounts
           FROM reps r
           LEFT JOIN accounts a ON a.owner_id = r.rep_id
           LEFT JOIN won w ON w.account_id = a.account_id
           WHERE r.is_active AND r.role = 'rep'
           GROUP BY r.rep_id ORDER BY r.rep_id""",
        [end],
    ).df()


def territory_scenario_exists(cur: duckdb.DuckDBPyConnection, scenario_id: str) -> bool:
    """Is there a saved territory scenario with this id?"""
    return cur.execute("SELECT count(*) FROM territory_scenarios WHERE scenario_id = ?",
                       [scenario_id]).fetchone()[0] > 0


def won_by_quarter(
    cur: duckdb.DuckDBPyConnection, quarters: list[tuple[dt.date, dt.date]]
) -> list[int]:
    """Won bookings (cents) with a close date in each given quarter."""
    rows = cur.execute(
        """SELECT q.position, coalesce(sum(o.amount_cents), 0)
           FROM (SELECT UNNEST(?::DATE[]) AS first_day, UNNEST(?::DATE[]) AS last_day,
                        UNNEST(range(?::BIGINT)) AS position) q
           LEFT JOIN opportunities o ON o.status = 'won'
                 AND o.close_date BETWEEN q.first_day AND q.last_day
           GROUP BY q.position ORDER BY q.position""",
        [[a for a, _ in quarters], [b for _, b in quarters], len(quarters)],
    ).fetchall()
    return [int(r[1]) for r in rows]


def insert_scenario(cur: duckdb.DuckDBPyConnection, row: dict, allocation: pd.DataFrame) -> None:
    """Store one quota scenario and its allocation."""
    cur.execute(
        """INSERT INTO quota_scenarios (scenario_id, name, fiscal_year, created_at, created_by,
               parameters, solver, metrics, total_cents, content_hash)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
        [row["scenario_id"], row["name"], row["fiscal_year"], row["created_at"],
         row["created_by"], row["parameters"], row["solver"], row["metrics"],
         row["total_cents"], row["content_hash"]],
    )
    cur.register("quota_rows", allocation)
    try:
        cur.execute(
            """INSERT INTO quota_allocations
               SELECT ?, rep_id, quota_cents, q1_cents, q2_cents, q3_cents, q4_cents,
                      fair_cents, explanation FROM quota_rows""", [row["scenario_id"]])
    finally:
        cur.unregister("quota_rows")


def scenarios(cur: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Saved quota scenarios, newest first."""
    return cur.execute(
        "SELECT * FROM quota_scenarios ORDER BY created_at DESC, scenario_id").df()
