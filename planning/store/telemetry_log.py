"""SQL of usage telemetry: appends and the summaries the Telemetry view shows."""

from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd


def insert_event(
    cur: duckdb.DuckDBPyConnection, occurred_at: dt.datetime, user_email: str | None, kind: str,
    name: str, duration_ms: float | None, outcome: str, detail_json: str | None,
) -> None:
    """Append one telemetry event."""
    cur.execute(
        "INSERT INTO telemetry_events (occurred_at, user_email, kind, name, duration_ms, outcome, "
        "detail_json) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [occurred_at, user_email, kind, name, duration_ms, outcome, detail_json],
    )


def usage_by_user_and_page(cur: duckdb.DuckDBPyConnection, since: dt.datetime) -> pd.DataFrame:
    """Page views per user and page since a time, with the last visit."""
    return cur.execute(
        """SELECT user_email AS "user", name AS page, count(*) AS views,
                  round(median(duration_ms)) AS median_ms, max(occurred_at) AS last_visit
           FROM telemetry_events WHERE kind = 'page_view' AND occurred_at >= ?
           GROUP BY ALL ORDER BY views DESC, "user", page""",
        [since],
    ).df()


def activity_by_user(cur: duckdb.DuckDBPyConnection, since: dt.datetime) -> pd.DataFrame:
    """Events per user and kind since a time."""
    return cur.execute(
        """SELECT user_email AS "user",
                  count(*) FILTER (WHERE kind = 'page_view') AS page_views,
                  count(*) FILTER (WHERE kind = 'import') AS imports,
                  count(*) FILTER (WHERE kind = 'solve') AS solves,
                  count(*) FILTER (WHERE kind = 'export') AS exports,
                  count(*) FILTER (WHERE outcome <> 'ok') AS failures_or_refusals,
                  max(occurred_at) AS last_seen
           FROM telemetry_events WHERE occurred_at >= ?
           GROUP BY ALL ORDER BY page_views DESC, "user" """,
        [since],
    ).df()


def slowest_events(
    cur: duckdb.DuckDBPyConnection, since: dt.datetime, limit: int
) -> pd.DataFrame:
    """The slowest timed events since a time."""
    return cur.execute(
        """SELECT occurred_at, user_email AS "user", kind, name, duration_ms, outcome
           FROM telemetry_events
           WHERE duration_ms IS NOT NULL AND occurred_at >= ?
           ORDER BY duration_ms DESC LIMIT ?""",
        [since, limit],
    ).df()


def daily_counts(cur: duckdb.DuckDBPyConnection, since: dt.datetime) -> pd.DataFrame:
    """Events per day and kind since a time."""
    return cur.execute(
        """SELECT CAST(occurred_at AS DATE) AS day, kind, count(*) AS events,
                  count(DISTINCT user_email) AS users
           FROM telemetry_events WHERE occurred_at >= ?
           GROUP BY ALL ORDER BY day, kind""",
        [since],
    ).df()
