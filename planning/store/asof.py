"""Queries behind the workspace's "as of" date: the stored setting and the newest CRM record.

Every function takes a cursor (one unit of work) and returns plain Python values. All values
reach DuckDB as parameters.
"""

from __future__ import annotations

import datetime as dt

import duckdb

AS_OF_KEY = "as_of"
"""The workspace_settings key holding the workspace's chosen as-of date (ISO text)."""

CLOSED_STATUSES = ["won", "lost"]


def stored_as_of(cur: duckdb.DuckDBPyConnection) -> str | None:
    """The raw text of the workspace's as-of setting, or None when it is not set."""
    row = cur.execute("SELECT value FROM workspace_settings WHERE key = ?", [AS_OF_KEY]).fetchone()
    return None if row is None else str(row[0])


def store_as_of(cur: duckdb.DuckDBPyConnection, day: dt.date | None) -> None:
    """Set the workspace's as-of date, or remove the setting when `day` is None."""
    if day is None:
        cur.execute("DELETE FROM workspace_settings WHERE key = ?", [AS_OF_KEY])
        return
    cur.execute("INSERT OR REPLACE INTO workspace_settings VALUES (?, ?)",
                [AS_OF_KEY, day.isoformat()])


def newest_record_at(cur: duckdb.DuckDBPyConnection, today: dt.date) -> dt.datetime | None:
    """The newest moment (UTC, naive) any CRM record carries, ignoring days after `today`.

    Counts deal creation, closing (the `closed_at` stamp and the close date of won and lost
    deals; open deals' close dates are plans, not records), field history, activities and
    account creation. None when no record carries a date.
    """
    row = cur.execute(
        """SELECT MAX(moment) FROM (
               SELECT created_at AS moment FROM opportunities
               UNION ALL SELECT closed_at FROM opportunities
               UNION ALL SELECT CAST(close_date AS TIMESTAMP) FROM opportunities
                   WHERE status IN (SELECT UNNEST(?::VARCHAR[]))
               UNION ALL SELECT changed_at FROM opportunity_history
               UNION ALL SELECT occurred_at FROM activities
               UNION ALL SELECT created_at FROM accounts
           ) WHERE CAST(moment AS DATE) <= ?""",
        [CLOSED_STATUSES, today],
    ).fetchone()
    return None if row is None or row[0] is None else row[0]


def newest_close_day(cur: duckdb.DuckDBPyConnection, today: dt.date) -> dt.date | None:
    """The newest close date of a won or lost deal on or before `today`, or None."""
    row = cur.execute(
        """SELECT MAX(close_date) FROM opportunities
           WHERE status IN (SELECT UNNEST(?::VARCHAR[])) AND close_date <= ?""",
        [CLOSED_STATUSES, today],
    ).fetchone()
    return None if row is None or row[0] is None else row[0]


def oldest_deal_day(cur: duckdb.DuckDBPyConnection) -> dt.date | None:
    """The oldest creation or close date of any deal, or None without deals."""
    row = cur.execute(
        """SELECT LEAST(MIN(CAST(created_at AS DATE)), MIN(close_date)) FROM opportunities"""
    ).fetchone()
    return None if row is None or row[0] is None else row[0]
