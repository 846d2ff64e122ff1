"""Point-in-time deal features: the state of each deal at a moment, from what was known then.

Every feature of a snapshot (a deal at a `moment`) uses only history rows changed at or before
the moment, activities that occurred at or before it, and other deals that closed before it.
A field's value at the moment follows CRM field-history semantics: the new value of its last
change at or before the moment; before its first change, that change's old value; a field that
never changed has had its current value all along.
"""

from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd

SNAPSHOT_VIEW = "feature_snapshots"

FIELD_VALUE_AT = """
    {name}_last AS (
        SELECT s.snapshot_id, h.new_value AS value, h.changed_at
        FROM {snapshots} s ASOF JOIN (
            SELECT opportunity_id, changed_at, new_value FROM opportunity_history
            WHERE field = '{field}') h
          ON s.opportunity_id = h.opportunity_id AND s.moment >= h.changed_at
    ),
    {name}_next AS (
        SELECT s.snapshot_id, h.old_value AS value
        FROM {snapshots} s ASOF JOIN (
            SELECT opportunity_id, changed_at, old_value FROM opportunity_history
            WHERE field = '{field}') h
          ON s.opportunity_id = h.opportunity_id AND s.moment < h.changed_at
    )"""

TRACKED_FIELDS = {
    "stage": "stage",
    "amount": "amount",
    "close": "close_date",
    "forecast": "forecast_category",
    "next_step": "next_step",
    "next_step_date": "next_step_date",
}
"""Feature-query alias -> opportunity_history field. Constants of this module only."""

FEATURE_SQL = """
WITH
{field_ctes},
first_amount AS (
    SELECT opportunity_id, arg_min(old_value, changed_at) AS value
    FROM opportunity_history WHERE field = 'amount' GROUP BY opportunity_id
),
pushes AS (
    SELECT s.snapshot_id, count(*) AS pushes
    FROM {snapshots} s JOIN opportunity_history h
      ON h.opportunity_id = s.opportunity_id AND h.field = 'close_date'
     AND h.changed_at <= s.moment
     AND TRY_CAST(h.new_value AS DATE) > TRY_CAST(h.old_value AS DATE)
    GROUP BY s.snapshot_id
),
amount_changes AS (
    SELECT s.snapshot_id, count(*) AS changes
    FROM {snapshots} s JOIN opportunity_history h
      ON h.opportunity_id = s.opportunity_id AND h.field = 'amount' AND h.changed_at <= s.moment
    GROUP BY s.snapshot_id
),
recent_activity AS (
    SELECT s.snapshot_id,
           count(*) FILTER (WHERE a.occurred_at > s.moment - INTERVAL 14 DAY) AS activities_14d,
           count(*) FILTER (WHERE a.occurred_at > s.moment - INTERVAL 30 DAY) AS activities_30d,
           max(a.occurred_at) AS last_activity_at
    FROM {snapshots} s JOIN activities a
      ON a.opportunity_id = s.opportunity_id AND a.occurred_at <= s.moment
    GROUP BY s.snapshot_id
),
owner_closes AS (
    SELECT owner_id, closed_at,
           sum(CASE WHEN status = 'won' THEN 1 ELSE 0 END)
               OVER (PARTITION BY owner_id ORDER BY closed_at, opportunity_id) AS won_cum,
           count(*) OVER (PARTITION BY owner_id ORDER BY closed_at, opportunity_id) AS closed_cum
    FROM opportunities WHERE status IN ('won', 'lost') AND closed_at IS NOT NULL
),
owner_now AS (
    SELECT s.snapshot_id, c.won_cum, c.closed_cum
    FROM {snapshots} s JOIN opportunities o USING (opportunity_id)
    ASOF LEFT JOIN owner_closes c ON c.owner_id = o.owner_id AND s.moment > c.closed_at
),
owner_year_ago AS (
    SELECT s.snapshot_id, c.won_cum, c.closed_cum
    FROM {snapshots} s JOIN opportunities o USING (opportunity_id)
    ASOF LEFT JOIN owner_closes c
      ON c.owner_id = o.owner_id AND s.moment - INTERVAL 365 DAY > c.closed_at
),
initial_amounts AS (
    SELECT o.opportunity_id, a.segment, o.created_at,
           coalesce(TRY_CAST(f.value AS DOUBLE), o.amount_cents) AS initial_cents
    FROM opportunities o
    LEFT JOIN accounts a USING (account_id)
    LEFT JOIN first_amount f USING (opportunity_id)
),
segment_months AS (
    SELECT DISTINCT coalesce(i.segment, '') AS segment, date_trunc('month', s.moment) AS month
    FROM {snapshots} s JOIN initial_amounts i USING (opportunity_id)
),
segment_medians AS (
    SELECT m.segment, m.month, median(i.initial_cents) AS median_cents
    FROM segment_months m JOIN initial_amounts i
      ON coalesce(i.segment, '') = m.segment
     AND i.created_at < m.month AND i.created_at >= m.month - INTERVAL 365 DAY
    GROUP BY ALL
)
SELECT
    s.snapshot_id, s.opportunity_id, s.moment,
    o.owner_id, o.type, o.product_id, coalesce(acc.segment, '') AS segment,
    coalesce(stage_last.value, stage_next.value, o.stage) AS stage,
    date_diff('second', coalesce(stage_last.changed_at, o.created_at), s.moment) / 86400.0
        AS stage_age_days,
    date_diff('day', CAST(s.moment AS DATE),
              coalesce(TRY_CAST(close_last.value AS DATE), TRY_CAST(close_next.value AS DATE),
                       o.close_date)) AS days_to_close,
    coalesce(TRY_CAST(close_last.value AS DATE), TRY_CAST(close_next.value AS DATE),
             o.close_date) AS close_date_at,
    coalesce(p.pushes, 0) AS pushes,
    coalesce(TRY_CAST(amount_last.value AS DOUBLE), TRY_CAST(amount_next.value AS DOUBLE),
             o.amount_cents) AS amount_cents_at,
    coalesce(ac.changes, 0) AS amount_changes,
    coalesce(forecast_last.value, forecast_next.value, o.forecast_category)
        AS forecast_category,
    coalesce(next_step_last.value, next_step_next.value,
             CASE WHEN NOT EXISTS (SELECT 1 FROM opportunity_history x
                                   WHERE x.opportunity_id = s.opportunity_id
                                     AND x.field = 'next_step')
                  THEN o.next_step END) AS next_step,
    coalesce(TRY_CAST(next_step_date_last.value AS DATE),
             TRY_CAST(next_step_date_next.value AS DATE),
             CASE WHEN NOT EXISTS (SELECT 1 FROM opportunity_history x
                                   WHERE x.opportunity_id = s.opportunity_id
                                     AND x.field = 'next_step_date')
                  THEN o.next_step_date END) AS next_step_date,
    coalesce(r.activities_14d, 0) AS activities_14d,
    coalesce(r.activities_30d, 0) AS activities_30d,
    date_diff('second', coalesce(r.last_activity_at, o.created_at), s.moment) / 86400.0
        AS days_since_activity,
    date_diff('second', o.created_at, s.moment) / 86400.0 AS deal_age_days,
    (coalesce(n.won_cum, 0) - coalesce(y.won_cum, 0)) AS owner_won_365d,
    (coalesce(n.closed_cum, 0) - coalesce(y.closed_cum, 0)) AS owner_closed_365d,
    sm.median_cents AS segment_median_cents,
    coalesce(TRY_CAST(fa.value AS DOUBLE), o.amount_cents) AS initial_amount_cents
FROM {snapshots} s
JOIN opportunities o USING (opportunity_id)
LEFT JOIN accounts acc ON acc.account_id = o.account_id
{field_joins}
LEFT JOIN pushes p USING (snapshot_id)
LEFT JOIN amount_changes ac USING (snapshot_id)
LEFT JOIN recent_activity r USING (snapshot_id)
LEFT JOIN owner_now n USING (snapshot_id)
LEFT JOIN owner_year_ago y USING (snapshot_id)
LEFT JOIN first_amount fa ON fa.opportunity_id = s.opportunity_id
LEFT JOIN segment_medians sm
  ON sm.segment = coalesce(acc.segment, '') AND sm.month = date_trunc('month', s.moment)
ORDER BY s.snapshot_id
"""


def _feature_query(snapshots: str) -> str:
    ctes = ",\n".join(
        FIELD_VALUE_AT.format(name=name, field=field, snapshots=snapshots)
        for name, field in TRACKED_FIELDS.items()
    )
    joins = "\n".join(
        f"LEFT JOIN {name}_last USING (snapshot_id)\nLEFT JOIN {name}_next USING (snapshot_id)"
        for name in TRACKED_FIELDS
    )
    return FEATURE_SQL.format(field_ctes=ctes, field_joins=joins, snapshots=snapshots)


def snapshot_features(cur: duckdb.DuckDBPyConnection, snapshots: pd.DataFrame) -> pd.DataFrame:
    """Raw point-in-time facts for each snapshot (columns snapshot_id, opportunity_id, moment)."""
    frame = snapshots[["snapshot_id", "opportunity_id", "moment"]]
    cur.register(SNAPSHOT_VIEW, frame)
    try:
        return cur.execute(_feature_query(SNAPSHOT_VIEW)).df()
    finally:
        cur.unregister(SNAPSHOT_VIEW)


def training_snapshots(
    cur: duckdb.DuckDBPyConnection, per_deal: int, max_deals: int | None, seed: int,
    closed_before: dt.datetime,
) -> pd.DataFrame:
    """Weekly moments in the life of closed deals that have stage history, a few per deal.

    Each closed deal contributes up to `per_deal` moments, picked deterministically, strictly
    after its creation and before its close. Deals without stage history are left out: their
    past stages are unknown, and their current (closed) stage would leak the outcome.
    """
    rows = cur.execute(
        """
        WITH eligible AS (
            SELECT o.opportunity_id, o.created_at, o.closed_at, o.status, o.close_date
            FROM opportunities o
            WHERE o.status IN ('won', 'lost') AND o.closed_at IS NOT NULL
              AND o.closed_at < ? AND o.closed_at > o.created_at + INTERVAL 1 DAY
              AND EXISTS (SELECT 1 FROM opportunity_history h
                          WHERE h.opportunity_id = o.opportunity_id AND h.field = 'stage')
        ),
        chosen AS (
            SELECT * FROM eligible
            ORDER BY hash(opportunity_id || CAST(? AS VARCHAR))
            LIMIT coalesce(?, 9223372036854775807)
        ),
        moments AS (
            SELECT opportunity_id, closed_at, status,
                   unnest(generate_series(created_at + INTERVAL 1 DAY,
                                          closed_at - INTERVAL 1 DAY,
                                          INTERVAL 7 DAY)) AS moment
            FROM chosen
        ),
        ranked AS (
            SELECT *, row_number() OVER (
                PARTITION BY opportunity_id
                ORDER BY hash(opportunity_id || CAST(moment AS VARCHAR) || CAST(? AS VARCHAR))
            ) AS pick
            FROM moments
        )
        SELECT opportunity_id, moment, closed_at, status
        FROM ranked WHERE pick <= ?
        ORDER BY opportunity_id, moment
        """,
        [closed_before, seed, max_deals, seed, per_deal],
    ).df()
    rows.insert(0, "snapshot_id", range(1, len(rows) + 1))
    return rows


def open_deal_snapshots(
    cur: duckdb.DuckDBPyConnection, at: dt.datetime, owners: list[str] | None = None
) -> pd.DataFrame:
    """One snapshot per deal open now, at the scoring moment."""
    scope = "" if owners is None else "AND owner_id IN (SELECT UNNEST(?::VARCHAR[]))"
    params: list[object] = [at] + ([owners] if owners is not None else [])
    rows = cur.execute(
        f"""SELECT opportunity_id, CAST(? AS TIMESTAMP) AS moment FROM opportunities
            WHERE status = 'open' {scope} ORDER BY opportunity_id""",
        params,
    ).df()
    rows.insert(0, "snapshot_id", range(1, len(rows) + 1))
    return rows


def creation_deals(cur: duckdb.DuckDBPyConnection, as_of: dt.datetime) -> pd.DataFrame:
    """Every deal as a flat export gives it, with its status as known at `as_of`.

    Columns as `planning.pipeline.csv_training.creation_features` reads them: a deal counts as
    won or lost (with its `closed_at`) only when it closed before `as_of`, else as open;
    `open_now` says whether it is open in the workspace today.
    """
    return cur.execute(
        """SELECT opportunity_id, account_id, owner_id, stage,
                  CASE WHEN status IN ('won', 'lost') AND closed_at < ? THEN status
                       ELSE 'open' END AS status,
                  amount_cents, created_at, CAST(close_date AS TIMESTAMP) AS close_date,
                  CASE WHEN status IN ('won', 'lost') AND closed_at < ? THEN closed_at
                  END AS closed_at,
                  type, product_id, status = 'open' AS open_now
           FROM opportunities WHERE created_at IS NOT NULL
           ORDER BY created_at, opportunity_id""",
        [as_of, as_of],
    ).df()
