"""SQL of deal inspection: open deals with their history facts, one deal's timeline and
notes, and the point-in-time amounts and close dates behind the pipeline waterfall.

Every value reaches DuckDB as a parameter; SQL text is built from this module's constants only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import duckdb
import pandas as pd
import pyarrow as pa

DEFAULT_STALE_AFTER_DAYS = 21
FLAG_SETTING_KEYS = [
    "stale_after_days", "flag_percentile", "next_step_overdue_after_days", "pushed_min_times",
    "amount_cut_min_percent", "next_step_missing_close_within_days",
]
"""Workspace settings behind the warning flags (see planning.pipeline.inspection)."""

OPEN_DEAL_FACTS_SQL = """
WITH open_deals AS (
    SELECT * FROM opportunities WHERE status = 'open'
),
history AS (
    SELECT h.opportunity_id,
           count(*) FILTER (
               WHERE h.field = 'close_date'
                 AND TRY_CAST(h.new_value AS DATE) > TRY_CAST(h.old_value AS DATE)
           ) AS pushes,
           max(greatest(TRY_CAST(h.old_value AS DECIMAL(38, 2)),
                        TRY_CAST(h.new_value AS DECIMAL(38, 2))))
               FILTER (WHERE h.field = 'amount') AS max_history_cents
    FROM opportunity_history h
    WHERE h.field IN ('close_date', 'amount')
      AND h.opportunity_id IN (SELECT opportunity_id FROM open_deals)
    GROUP BY h.opportunity_id
),
scores AS (
    SELECT d.opportunity_id, d.win_probability, d.slip_probability, d.reasons_json
    FROM deal_scores d JOIN model_versions m
      ON m.model_id = d.model_id AND m.is_active AND m.target = 'win'
)
SELECT o.opportunity_id, coalesce(o.name, o.opportunity_id) AS deal, a.name AS account,
       o.owner_id, r.name AS owner,
       r.team, o.amount_cents, o.stage, o.close_date, o.close_date_estimated,
       s.win_probability, s.slip_probability,
       CASE WHEN s.reasons_json IS NULL THEN []::VARCHAR[]
            ELSE coalesce(json_extract_string(s.reasons_json, '$[*].text'), []::VARCHAR[])
       END AS reasons,
       coalesce(o.last_activity_date, CAST(o.created_at AS DATE)) AS activity_reference_date,
       o.last_activity_date, o.next_step, o.next_step_date,
       (o.next_step IS NULL OR trim(o.next_step) = '') AS next_step_missing,
       CAST(coalesce(h.pushes, 0) AS INTEGER) AS pushes,
       coalesce(h.pushes, 0) > 0 AS pushed,
       coalesce(o.amount_cents < h.max_history_cents, FALSE) AS amount_cut,
       CAST(round(greatest(h.max_history_cents, o.amount_cents)) AS BIGINT) AS max_amount_cents
FROM open_deals o
LEFT JOIN reps r ON r.rep_id = o.owner_id
LEFT JOIN accounts a ON a.account_id = o.account_id
LEFT JOIN scores s ON s.opportunity_id = o.opportunity_id
LEFT JOIN history h ON h.opportunity_id = o.opportunity_id
ORDER BY o.amount_cents DESC NULLS LAST, o.opportunity_id
"""


def stale_after_days(cur: duckdb.DuckDBPyConnection) -> int:
    """Days without activity after which a deal counts as stale (setting, 21 when unset)."""
    row = cur.execute(
        "SELECT value FROM workspace_settings WHERE key = ?", ["stale_after_days"]
    ).fetchone()
    if row is None:
        return DEFAULT_STALE_AFTER_DAYS
    try:
        return max(int(row[0]), 0)
    except ValueError:
        return DEFAULT_STALE_AFTER_DAYS


def flag_settings(cur: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """The flag threshold settings that are set (key -> text value)."""
    placeholders = ", ".join("?" for _ in FLAG_SETTING_KEYS)
    return dict(cur.execute(
        f"SELECT key, value FROM workspace_settings WHERE key IN ({placeholders})",
        FLAG_SETTING_KEYS,
    ).fetchall())


def data_version(cur: duckdb.DuckDBPyConnection) -> str:
    """A text that changes whenever deals, their history, the active scores or the workspace
    settings (flag thresholds) change."""
    row = cur.execute(
        """SELECT (SELECT max(loaded_at) FROM opportunities),
                  (SELECT count(*) FROM opportunities),
                  (SELECT max(loaded_at) FROM opportunity_history),
                  (SELECT count(*) FROM opportunity_history),
                  (SELECT max(loaded_at) FROM accounts),
                  (SELECT max(loaded_at) FROM reps),
                  (SELECT max(d.scored_at) || '@' || any_value(m.model_id)
                   FROM deal_scores d JOIN model_versions m
                     ON m.model_id = d.model_id AND m.is_active AND m.target = 'win'),
                  (SELECT string_agg(key || '=' || value, ',' ORDER BY key)
                   FROM workspace_settings)"""
    ).fetchone()
    return "|".join("" if value is None else str(value) for value in row or ())


def has_active_win_model(cur: duckdb.DuckDBPyConnection) -> bool:
    """True when a win-probability model is active."""
    row = cur.execute(
        "SELECT count(*) FROM model_versions WHERE is_active AND target = 'win'"
    ).fetchone()
    return bool(row and row[0])


def open_deal_facts(cur: duckdb.DuckDBPyConnection) -> pa.Table:
    """Every open deal with account, owner, team, active scores, reason texts and history
    facts: close-date pushes (changes to a later date) and the highest amount it has had
    (every old and new amount in its history and the current one), as an Arrow table.
    """
    return cur.sql(OPEN_DEAL_FACTS_SQL).to_arrow_table()


STAGE_ORDER_SQL = """
WITH open_deals AS (
    SELECT opportunity_id, created_at, stage FROM opportunities WHERE status = 'open'
),
changes AS (
    SELECT h.opportunity_id, h.changed_at, h.old_value, h.new_value, o.created_at
    FROM opportunity_history h JOIN open_deals o USING (opportunity_id)
    WHERE h.field = 'stage'
),
entries AS (
    SELECT new_value AS stage, date_diff('second', created_at, changed_at) / 86400.0 AS day
    FROM changes
    UNION ALL
    SELECT arg_min(old_value, changed_at) AS stage, 0.0 AS day
    FROM changes GROUP BY opportunity_id
),
ranks AS (
    SELECT stage, avg(day) AS rank FROM entries WHERE stage IS NOT NULL GROUP BY stage
)
SELECT s.stage
FROM (SELECT DISTINCT stage FROM open_deals) s LEFT JOIN ranks r USING (stage)
ORDER BY r.rank ASC NULLS LAST, s.stage
"""


def open_stage_order(cur: duckdb.DuckDBPyConnection) -> list[str]:
    """Stages of open deals in funnel order: by the average number of days after creation at
    which open deals entered them (the stage a deal was created in counts as day 0); stages
    never seen in their history sort last, by name."""
    return [row[0] for row in cur.execute(STAGE_ORDER_SQL).fetchall()]


def _owner_scope(owners: Sequence[str] | None, params: dict[str, object]) -> str:
    if owners is None:
        return "TRUE"
    params["owners"] = list(owners)
    return "o.owner_id IN (SELECT UNNEST($owners::VARCHAR[]))"


def deal_owner(cur: duckdb.DuckDBPyConnection, opportunity_id: str) -> tuple[str, str] | None:
    """The deal's owner id and name, or None when there is no such deal."""
    row = cur.execute(
        "SELECT owner_id, name FROM opportunities WHERE opportunity_id = ?", [opportunity_id]
    ).fetchone()
    return None if row is None else (row[0], row[1])


def deal_changes(cur: duckdb.DuckDBPyConnection, opportunity_id: str) -> pd.DataFrame:
    """Every history row of one deal, oldest first, with the name of who made the change."""
    return cur.execute(
        """SELECT h.changed_at, h.field, h.old_value, h.new_value,
                  coalesce(r.name, h.changed_by) AS changed_by, h.history_id
           FROM opportunity_history h LEFT JOIN reps r ON r.rep_id = h.changed_by
           WHERE h.opportunity_id = ?
           ORDER BY h.changed_at, h.history_id""",
        [opportunity_id],
    ).df()


def deal_activities(cur: duckdb.DuckDBPyConnection, opportunity_id: str) -> pd.DataFrame:
    """Every activity logged on one deal, oldest first, with the owner's name."""
    return cur.execute(
        """SELECT a.occurred_at, a.kind, coalesce(r.name, a.owner_id) AS owner, a.activity_id
           FROM activities a LEFT JOIN reps r ON r.rep_id = a.owner_id
           WHERE a.opportunity_id = ?
           ORDER BY a.occurred_at, a.activity_id""",
        [opportunity_id],
    ).df()


def deal_notes(cur: duckdb.DuckDBPyConnection, opportunity_id: str) -> pd.DataFrame:
    """Inspection notes on one deal, oldest first."""
    return cur.execute(
        """SELECT note_id, created_at, author, body FROM inspection_notes
           WHERE opportunity_id = ? ORDER BY created_at, note_id""",
        [opportunity_id],
    ).df()


def insert_note(
    cur: duckdb.DuckDBPyConnection, opportunity_id: str, author: str, created_at: dt.datetime,
    body: str,
) -> int:
    """Store an inspection note and return its id."""
    row = cur.execute(
        """INSERT INTO inspection_notes (opportunity_id, author, created_at, body)
           VALUES (?, ?, ?, ?) RETURNING note_id""",
        [opportunity_id, author, created_at, body],
    ).fetchone()
    assert row is not None
    return int(row[0])


VALUE_AT = """
    {name}_last AS (
        SELECT m.opportunity_id, m.moment, h.new_value AS value
        FROM moments m ASOF JOIN (
            SELECT opportunity_id, changed_at, new_value FROM opportunity_history
            WHERE field = '{field}' AND opportunity_id IN (SELECT opportunity_id FROM candidates)
        ) h ON m.opportunity_id = h.opportunity_id AND m.moment >= h.changed_at
    ),
    {name}_next AS (
        SELECT m.opportunity_id, m.moment, h.old_value AS value
        FROM moments m ASOF JOIN (
            SELECT opportunity_id, changed_at, old_value FROM opportunity_history
            WHERE field = '{field}' AND opportunity_id IN (SELECT opportunity_id FROM candidates)
        ) h ON m.opportunity_id = h.opportunity_id AND m.moment < h.changed_at
    )"""

WATERFALL_FIELDS = {"amount": "amount", "close": "close_date"}
"""Alias -> opportunity_history field reconstructed for the waterfall. Constants only."""

WATERFALL_SQL = """
WITH candidates AS (
    SELECT o.opportunity_id, o.owner_id, o.status, o.created_at, o.amount_cents, o.close_date,
           CASE WHEN o.status IN ('won', 'lost')
                THEN coalesce(o.closed_at, CAST(o.close_date AS TIMESTAMP)) END AS closed_moment
    FROM opportunities o
    WHERE o.created_at <= $end AND {owner_scope}
      AND (o.status NOT IN ('won', 'lost')
           OR coalesce(o.closed_at, CAST(o.close_date AS TIMESTAMP)) > $start)
),
moments AS (
    SELECT opportunity_id, CAST($start AS TIMESTAMP) AS moment FROM candidates
    UNION ALL
    SELECT opportunity_id, CAST($end AS TIMESTAMP) AS moment FROM candidates
),
{value_ctes},
at_moments AS (
    SELECT m.opportunity_id, m.moment,
           CASE WHEN amount_last.opportunity_id IS NOT NULL
                     THEN coalesce(round(TRY_CAST(amount_last.value AS DECIMAL(38, 2))), 0)
                WHEN amount_next.opportunity_id IS NOT NULL
                     THEN coalesce(round(TRY_CAST(amount_next.value AS DECIMAL(38, 2))), 0)
                ELSE coalesce(c.amount_cents, 0) END AS amount_cents,
           CASE WHEN close_last.opportunity_id IS NOT NULL THEN TRY_CAST(close_last.value AS DATE)
                WHEN close_next.opportunity_id IS NOT NULL THEN TRY_CAST(close_next.value AS DATE)
                ELSE c.close_date END AS close_date
    FROM moments m JOIN candidates c USING (opportunity_id)
    {value_joins}
)
SELECT c.opportunity_id, c.owner_id, c.status, c.created_at, c.closed_moment,
       CAST(s.amount_cents AS BIGINT) AS start_amount_cents, s.close_date AS start_close_date,
       CAST(e.amount_cents AS BIGINT) AS end_amount_cents, e.close_date AS end_close_date
FROM candidates c
JOIN at_moments s ON s.opportunity_id = c.opportunity_id AND s.moment = CAST($start AS TIMESTAMP)
JOIN at_moments e ON e.opportunity_id = c.opportunity_id AND e.moment = CAST($end AS TIMESTAMP)
ORDER BY c.opportunity_id
"""


def deals_between(
    cur: duckdb.DuckDBPyConnection, start: dt.datetime, end: dt.datetime,
    owners: Sequence[str] | None,
) -> pd.DataFrame:
    """Deals that may be open at some point between `start` and `end` (UTC, naive), with their
    amount (cents) and close date at both moments, reconstructed from `opportunity_history`.

    A field's value at a moment is the new value of its last change at or before the moment;
    else the old value of its first change after it; else the deal's current value. A deal
    counts as closed from `closed_at` on (from the start of its close date when a closed
    deal has none).
    """
    params: dict[str, object] = {"start": start, "end": end}
    scope = _owner_scope(owners, params)
    ctes = ",\n".join(
        VALUE_AT.format(name=name, field=field) for name, field in WATERFALL_FIELDS.items()
    )
    joins = "\n".join(
        f"LEFT JOIN {name}_last ON {name}_last.opportunity_id = m.opportunity_id "
        f"AND {name}_last.moment = m.moment\n"
        f"LEFT JOIN {name}_next ON {name}_next.opportunity_id = m.opportunity_id "
        f"AND {name}_next.moment = m.moment"
        for name in WATERFALL_FIELDS
    )
    sql = WATERFALL_SQL.format(owner_scope=scope, value_ctes=ctes, value_joins=joins)
    return cur.execute(sql, params).df()
