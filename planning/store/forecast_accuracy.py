"""SQL of the forecast backtest: deals open at past moments, outcomes, stored results."""

from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd


def open_at_moments(cur: duckdb.DuckDBPyConnection, moments: list[dt.datetime]) -> pd.DataFrame:
    """One row per (moment, deal open at that moment): created before it, not closed by it."""
    rows = cur.execute(
        """SELECT o.opportunity_id, m.moment
           FROM (SELECT UNNEST(?::TIMESTAMP[]) AS moment) m
           JOIN opportunities o
             ON o.created_at < m.moment AND (o.closed_at IS NULL OR o.closed_at > m.moment)
           ORDER BY m.moment, o.opportunity_id""",
        [moments],
    ).df()
    rows.insert(0, "snapshot_id", range(1, len(rows) + 1))
    return rows


def won_in_quarter(
    cur: duckdb.DuckDBPyConnection, first: dt.date, last: dt.date, moments: list[dt.datetime]
) -> pd.DataFrame:
    """Won amount with a close date in the quarter: closed by each moment, and in the end."""
    return cur.execute(
        """SELECT m.moment,
                  coalesce(sum(o.amount_cents) FILTER (WHERE o.closed_at <= m.moment), 0)
                      AS closed_won_cents,
                  coalesce(sum(o.amount_cents), 0) AS actual_cents
           FROM (SELECT UNNEST(?::TIMESTAMP[]) AS moment) m
           LEFT JOIN opportunities o
             ON o.status = 'won' AND o.close_date BETWEEN ? AND ?
           GROUP BY m.moment ORDER BY m.moment""",
        [moments, first, last],
    ).df()


def insert_backtest(cur: duckdb.DuckDBPyConnection, rows: pd.DataFrame) -> None:
    """Store one backtest run (columns as in forecast_backtests)."""
    cur.register("backtest_rows", rows)
    try:
        cur.execute("INSERT INTO forecast_backtests BY NAME SELECT * FROM backtest_rows")
    finally:
        cur.unregister("backtest_rows")


def latest_backtest(cur: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """The rows of the newest stored backtest run."""
    return cur.execute(
        """SELECT * FROM forecast_backtests
           WHERE run_id = (SELECT run_id FROM forecast_backtests
                           ORDER BY computed_at DESC LIMIT 1)
           ORDER BY quarter_start, week_of"""
    ).df()


def created_and_won_after(
    cur: duckdb.DuckDBPyConnection, quarters: list[tuple[dt.date, dt.date]], offset_days: float,
    known_at: dt.datetime,
) -> list[int]:
    """Per past quarter, the won amount of deals created more than `offset_days` into it and
    closing in it: what pipeline not yet created at that point of a quarter went on to book.

    Only deals closed before `known_at` count, so a backtest sees what was known then.
    """
    rows = cur.execute(
        """SELECT q.position,
                  coalesce(sum(o.amount_cents) FILTER (
                      WHERE o.status = 'won' AND o.closed_at < ?
                        AND o.created_at > q.first_day + to_microseconds(
                            CAST(? * 86400000000 AS BIGINT))), 0)
           FROM (SELECT UNNEST(?::DATE[]) AS first_day, UNNEST(?::DATE[]) AS last_day,
                        UNNEST(range(?::BIGINT)) AS position) q
           LEFT JOIN opportunities o ON o.close_date BETWEEN q.first_day AND q.last_day
           GROUP BY q.position ORDER BY q.position""",
        [known_at, offset_days, [a for a, _ in quarters], [b for _, b in quarters],
         len(quarters)],
    ).fetchall()
    return [int(r[1]) for r in rows]


def quarterly_win_rates(
    cur: duckdb.DuckDBPyConnection, quarters: list[tuple[dt.date, dt.date]],
    known_at: dt.datetime,
) -> list[tuple[int, int]]:
    """(won, closed) counts of deals closing in each past quarter, as known at a moment."""
    rows = cur.execute(
        """SELECT q.position, count(*) FILTER (WHERE o.status = 'won'), count(o.opportunity_id)
           FROM (SELECT UNNEST(?::DATE[]) AS first_day, UNNEST(?::DATE[]) AS last_day,
                        UNNEST(range(?::BIGINT)) AS position) q
           LEFT JOIN opportunities o
             ON o.close_date BETWEEN q.first_day AND q.last_day
            AND o.status IN ('won', 'lost') AND o.closed_at < ?
           GROUP BY q.position ORDER BY q.position""",
        [[a for a, _ in quarters], [b for _, b in quarters], len(quarters), known_at],
    ).fetchall()
    return [(int(r[1]), int(r[2])) for r in rows]
