"""Queries behind the Home page KPIs: pipeline, bookings, win rate, counts and freshness.

Every function takes a cursor (one unit of work) and returns plain Python values; amounts stay
integer cents. All values reach DuckDB as parameters.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import NamedTuple

import duckdb

from planning.errors import RevPlanError
from planning.periods import validate_start_month

# The CRM mirror tables whose `loaded_at` tells how fresh the imported data is.
FRESHNESS_TABLES = ("reps", "accounts", "opportunities", "opportunity_history", "activities")


class Totals(NamedTuple):
    """A sum of amounts in cents and the number of deals behind it."""

    cents: int
    deals: int


class StageTotals(NamedTuple):
    """Open pipeline of one stage; `rank` orders stages from earliest to latest in the funnel."""

    stage: str
    cents: int
    deals: int
    rank: float | None


class WinLoss(NamedTuple):
    """Deals won and lost (by count) among those closing in a period."""

    won: int
    lost: int


OwnerScope = Sequence[str] | None
"""The rep ids whose deals count, or None for the whole workspace."""


def owner_filter(owners: OwnerScope, column: str = "owner_id") -> tuple[str, list]:
    """A WHERE fragment (and its parameters) keeping rows owned by someone in scope.

    `column` always comes from this module's code, never from input.
    """
    if owners is None:
        return "TRUE", []
    return f"{column} IN (SELECT UNNEST(?::VARCHAR[]))", [list(owners)]


def fiscal_year_start_month(cur: duckdb.DuckDBPyConnection) -> int:
    """The workspace's fiscal-year start month (1-12), January when the setting is absent."""
    row = cur.execute(
        "SELECT value FROM workspace_settings WHERE key = ?", ["fiscal_year_start_month"]
    ).fetchone()
    if row is None:
        return 1
    try:
        return validate_start_month(int(row[0]))
    except ValueError:
        raise RevPlanError(
            f"Workspace setting fiscal_year_start_month is {row[0]!r}; it must be a month "
            "number from 1 to 12."
        ) from None


def open_pipeline(cur: duckdb.DuckDBPyConnection, owners: OwnerScope = None) -> Totals:
    """Amount and count of open opportunities (a missing amount counts as zero)."""
    scope, scope_params = owner_filter(owners)
    cents, deals = cur.execute(
        f"""SELECT COALESCE(SUM(amount_cents), 0)::BIGINT, COUNT(*)
           FROM opportunities WHERE status = ? AND {scope}""",
        ["open", *scope_params],
    ).fetchone()
    return Totals(int(cents), int(deals))


def open_deals_without_amount(cur: duckdb.DuckDBPyConnection, owners: OwnerScope = None) -> int:
    """How many open opportunities carry no amount (many CRMs leave it empty until close)."""
    scope, scope_params = owner_filter(owners)
    row = cur.execute(
        f"""SELECT COUNT(*) FROM opportunities
           WHERE status = ? AND amount_cents IS NULL AND {scope}""",
        ["open", *scope_params],
    ).fetchone()
    return int(row[0])


def open_pipeline_by_stage(
    cur: duckdb.DuckDBPyConnection, owners: OwnerScope = None
) -> list[StageTotals]:
    """Open pipeline per stage, in funnel order.

    CRMs name stages freely, so the order is learned from `opportunity_history`: a stage's rank
    is the average number of days after creation at which deals entered it (the stage a deal
    was created in counts as entered on day 0). Stages never seen in the history sort last,
    by name.
    """
    scope, scope_params = owner_filter(owners)
    rows = cur.execute(
        f"""WITH changes AS (
               SELECT h.opportunity_id, h.changed_at, h.old_value, h.new_value,
                      ROW_NUMBER() OVER (
                          PARTITION BY h.opportunity_id ORDER BY h.changed_at, h.history_id
                      ) AS step
               FROM opportunity_history h
               WHERE h.field = ?
           ),
           entries AS (
               SELECT c.new_value AS stage,
                      date_diff('second', o.created_at, c.changed_at) / 86400.0 AS day
               FROM changes c JOIN opportunities o USING (opportunity_id)
               WHERE c.new_value IS NOT NULL
               UNION ALL
               SELECT c.old_value AS stage, 0.0 AS day
               FROM changes c
               WHERE c.step = 1 AND c.old_value IS NOT NULL
           ),
           ranks AS (
               SELECT stage, AVG(day) AS rank FROM entries GROUP BY stage
           ),
           pipeline AS (
               SELECT stage, COALESCE(SUM(amount_cents), 0)::BIGINT AS cents, COUNT(*) AS deals
               FROM opportunities WHERE status = ? AND {scope} GROUP BY stage
           )
           SELECT p.stage, p.cents, p.deals, r.rank
           FROM pipeline p LEFT JOIN ranks r USING (stage)
           ORDER BY r.rank ASC NULLS LAST, p.stage""",
        ["stage", "open", *scope_params],
    ).fetchall()
    return [
        StageTotals(stage, int(cents), int(deals), None if rank is None else float(rank))
        for stage, cents, deals, rank in rows
    ]


def won_bookings(
    cur: duckdb.DuckDBPyConnection, periods: Sequence[tuple[dt.date, dt.date]],
    owners: OwnerScope = None,
) -> list[Totals]:
    """Won amount and count with a close date inside each (first, last) period, inclusive.

    Returns one Totals per period, in the order given; periods may overlap.
    """
    if not periods:
        return []
    starts = [first for first, _ in periods]
    ends = [last for _, last in periods]
    scope, scope_params = owner_filter(owners, "o.owner_id")
    rows = cur.execute(
        f"""WITH periods AS (
               SELECT UNNEST(?::DATE[]) AS first_day, UNNEST(?::DATE[]) AS last_day,
                      UNNEST(range(?::BIGINT)) AS position
           )
           SELECT p.position, COALESCE(SUM(o.amount_cents), 0)::BIGINT, COUNT(o.opportunity_id)
           FROM periods p
           LEFT JOIN opportunities o
             ON o.status = ? AND o.close_date BETWEEN p.first_day AND p.last_day AND {scope}
           GROUP BY p.position
           ORDER BY p.position""",
        [starts, ends, len(periods), "won", *scope_params],
    ).fetchall()
    return [Totals(int(cents), int(deals)) for _, cents, deals in rows]


def win_loss(
    cur: duckdb.DuckDBPyConnection, first: dt.date, last: dt.date, owners: OwnerScope = None
) -> WinLoss:
    """Count of won and lost deals whose close date falls between two days, inclusive."""
    scope, scope_params = owner_filter(owners)
    won, lost = cur.execute(
        f"""SELECT COUNT(*) FILTER (WHERE status = ?), COUNT(*) FILTER (WHERE status = ?)
           FROM opportunities WHERE close_date BETWEEN ? AND ? AND {scope}""",
        ["won", "lost", first, last, *scope_params],
    ).fetchone()
    return WinLoss(int(won), int(lost))


def account_count(cur: duckdb.DuckDBPyConnection, owners: OwnerScope = None) -> int:
    """Number of accounts in the CRM mirror (owned by someone in scope)."""
    scope, scope_params = owner_filter(owners)
    return int(cur.execute(f"SELECT COUNT(*) FROM accounts WHERE {scope}", scope_params)
               .fetchone()[0])


def active_rep_count(cur: duckdb.DuckDBPyConnection, owners: OwnerScope = None) -> int:
    """Number of reps marked active (within scope)."""
    scope, scope_params = owner_filter(owners, "rep_id")
    return int(cur.execute(f"SELECT COUNT(*) FROM reps WHERE is_active AND {scope}",
                           scope_params).fetchone()[0])


def latest_loaded_at(cur: duckdb.DuckDBPyConnection) -> dt.datetime | None:
    """Newest `loaded_at` (UTC, naive) over the CRM mirror tables, or None when all are empty."""
    union = " UNION ALL ".join(
        f"SELECT MAX(loaded_at) AS loaded_at FROM {table}" for table in FRESHNESS_TABLES
    )
    row = cur.execute(f"SELECT MAX(loaded_at) FROM ({union})").fetchone()
    return row[0] if row else None
