"""SQL of the quarter forecast: open deals with scores, closed-won, stage win rates, forecast
calls (immutable snapshots) and the week's deal changes.

Every function takes a cursor (one unit of work); values reach DuckDB as parameters and amounts
stay integer cents. `owners` limits rows to deals (or reps) of those rep ids; None means all.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import duckdb
import pandas as pd

from planning.store.kpis import owner_filter

Owners = Sequence[str] | None

SNAPSHOT_COLUMNS = (
    "snapshot_id", "submitted_at", "submitted_by", "submitted_role", "quarter_label",
    "quarter_start", "quarter_end", "level", "subject_id", "commit_cents", "best_case_cents",
    "closed_won_cents", "model_p10_cents", "model_p50_cents", "model_p90_cents", "model_id",
    "comment", "overrides_snapshot_id", "override_reason",
)


def open_deals(cur: duckdb.DuckDBPyConnection, owners: Owners) -> pd.DataFrame:
    """Open deals in scope with stage, amount, close date and the active model's scores,
    ordered by opportunity id (a stable order for simulation)."""
    scope, params = owner_filter(owners, "o.owner_id")
    return cur.execute(
        f"""SELECT o.opportunity_id, o.owner_id, o.stage,
                   COALESCE(o.amount_cents, 0)::BIGINT AS amount_cents, o.close_date,
                   s.model_id, s.win_probability, s.slip_probability
            FROM opportunities o
            LEFT JOIN (
                SELECT d.opportunity_id, d.model_id, d.win_probability, d.slip_probability
                FROM deal_scores d JOIN model_versions m
                  ON m.model_id = d.model_id AND m.is_active AND m.target = 'win'
            ) s ON s.opportunity_id = o.opportunity_id
            WHERE o.status = 'open' AND {scope}
            ORDER BY o.opportunity_id""",
        params,
    ).df()


def won_by_owner(
    cur: duckdb.DuckDBPyConnection, first: dt.date, last: dt.date, owners: Owners
) -> pd.DataFrame:
    """Won amount and deal count per owner for close dates between two days, inclusive."""
    scope, params = owner_filter(owners)
    return cur.execute(
        f"""SELECT owner_id, COALESCE(SUM(amount_cents), 0)::BIGINT AS cents,
                   COUNT(*) AS deals
            FROM opportunities
            WHERE status = 'won' AND close_date BETWEEN ? AND ? AND {scope}
            GROUP BY owner_id ORDER BY owner_id""",
        [first, last, *params],
    ).df()


def reps(cur: duckdb.DuckDBPyConnection, owners: Owners) -> pd.DataFrame:
    """Reps in scope with name, team, role, manager and whether active."""
    scope, params = owner_filter(owners, "rep_id")
    return cur.execute(
        f"""SELECT rep_id, name, team, role, manager_id, is_active
            FROM reps WHERE {scope} ORDER BY rep_id""",
        params,
    ).df()


def team_names(cur: duckdb.DuckDBPyConnection) -> list[str]:
    """Every team named in the reps table, sorted."""
    rows = cur.execute(
        "SELECT DISTINCT team FROM reps WHERE team IS NOT NULL ORDER BY team"
    ).fetchall()
    return [row[0] for row in rows]


def stage_win_rates(
    cur: duckdb.DuckDBPyConnection, first: dt.datetime, before: dt.datetime
) -> pd.DataFrame:
    """For every stage, how many deals closed in [first, before) had been in it and how many
    of those were won. A deal was in a stage when its stage history names the stage (as the
    old or the new value)."""
    return cur.execute(
        """WITH closed AS (
               SELECT opportunity_id, (status = 'won')::INTEGER AS won
               FROM opportunities
               WHERE status IN ('won', 'lost') AND closed_at >= ? AND closed_at < ?
           ),
           changes AS (
               SELECT h.opportunity_id, h.old_value, h.new_value
               FROM opportunity_history h
               SEMI JOIN closed c ON c.opportunity_id = h.opportunity_id
               WHERE h.field = 'stage'
           ),
           visits AS (
               SELECT opportunity_id, old_value AS stage FROM changes
               WHERE old_value IS NOT NULL
               UNION
               SELECT opportunity_id, new_value AS stage FROM changes
               WHERE new_value IS NOT NULL
           )
           SELECT v.stage, SUM(c.won)::BIGINT AS won, COUNT(*) AS closed
           FROM visits v JOIN closed c USING (opportunity_id)
           GROUP BY v.stage ORDER BY v.stage""",
        [first, before],
    ).df()


def closed_totals(
    cur: duckdb.DuckDBPyConnection, first: dt.datetime, before: dt.datetime
) -> tuple[int, int]:
    """Deals won and deals closed (won or lost) in [first, before)."""
    won, closed = cur.execute(
        """SELECT COUNT(*) FILTER (WHERE status = 'won'), COUNT(*)
           FROM opportunities
           WHERE status IN ('won', 'lost') AND closed_at >= ? AND closed_at < ?""",
        [first, before],
    ).fetchone()
    return int(won), int(closed)


def active_win_model(cur: duckdb.DuckDBPyConnection) -> str | None:
    """The id of the active win-probability model, if any."""
    row = cur.execute(
        "SELECT model_id FROM model_versions WHERE target = 'win' AND is_active"
    ).fetchone()
    return None if row is None else row[0]


def insert_snapshot(cur: duckdb.DuckDBPyConnection, row: dict[str, object]) -> int:
    """Append one forecast call and return its id. Snapshots are never updated."""
    columns = [c for c in SNAPSHOT_COLUMNS if c != "snapshot_id"]
    marks = ", ".join("?" for _ in columns)
    new_id = cur.execute(
        f"INSERT INTO forecast_snapshots ({', '.join(columns)}) VALUES ({marks}) "
        "RETURNING snapshot_id",
        [row.get(c) for c in columns],
    ).fetchone()[0]
    return int(new_id)


def snapshot(cur: duckdb.DuckDBPyConnection, snapshot_id: int) -> dict[str, object] | None:
    """One forecast call by id, as a dict, or None."""
    row = cur.execute(
        f"SELECT {', '.join(SNAPSHOT_COLUMNS)} FROM forecast_snapshots WHERE snapshot_id = ?",
        [snapshot_id],
    ).fetchone()
    return None if row is None else dict(zip(SNAPSHOT_COLUMNS, row, strict=True))


def quarter_snapshots(
    cur: duckdb.DuckDBPyConnection, quarter_start: dt.date, quarter_end: dt.date
) -> pd.DataFrame:
    """Every call for one quarter, oldest first."""
    return cur.execute(
        f"""SELECT {', '.join(SNAPSHOT_COLUMNS)} FROM forecast_snapshots
            WHERE quarter_start = ? AND quarter_end = ?
            ORDER BY submitted_at, snapshot_id""",
        [quarter_start, quarter_end],
    ).df()


def data_version(cur: duckdb.DuckDBPyConnection) -> tuple[object, ...]:
    """Values that change whenever the forecast's inputs change: deals, history, scores, calls
    and the backtest that calibrates its ranges."""
    return cur.execute(
        """SELECT (SELECT COUNT(*) FROM opportunities),
                  (SELECT MAX(loaded_at) FROM opportunities),
                  (SELECT MAX(loaded_at) FROM opportunity_history),
                  (SELECT MAX(scored_at) FROM deal_scores),
                  (SELECT MAX(model_id) FROM model_versions WHERE is_active),
                  (SELECT MAX(snapshot_id) FROM forecast_snapshots),
                  (SELECT MAX(computed_at) FROM forecast_backtests)"""
    ).fetchone()


def created_deals(
    cur: duckdb.DuckDBPyConnection, since: dt.datetime, until: dt.datetime, owners: Owners
) -> tuple[int, int]:
    """Deals created in [since, until): count and current amount."""
    scope, params = owner_filter(owners)
    deals, cents = cur.execute(
        f"""SELECT COUNT(*), COALESCE(SUM(amount_cents), 0)::BIGINT FROM opportunities
            WHERE created_at >= ? AND created_at < ? AND {scope}""",
        [since, until, *params],
    ).fetchone()
    return int(deals), int(cents)


def closed_deals(
    cur: duckdb.DuckDBPyConnection, since: dt.datetime, until: dt.datetime, owners: Owners
) -> dict[str, tuple[int, int]]:
    """Deals won and lost in [since, until) by close time: status -> (count, amount)."""
    scope, params = owner_filter(owners)
    rows = cur.execute(
        f"""SELECT status, COUNT(*), COALESCE(SUM(amount_cents), 0)::BIGINT FROM opportunities
            WHERE status IN ('won', 'lost') AND closed_at >= ? AND closed_at < ? AND {scope}
            GROUP BY status""",
        [since, until, *params],
    ).fetchall()
    found = {status: (int(deals), int(cents)) for status, deals, cents in rows}
    return {status: found.get(status, (0, 0)) for status in ("won", "lost")}


def field_moves(
    cur: duckdb.DuckDBPyConnection, field: str, since: dt.datetime, until: dt.datetime,
    owners: Owners,
) -> pd.DataFrame:
    """Per deal still open at `until`, a field's value before its first change in
    [since, until) and after its last one, with the deal's current amount.

    `field` is a history field name (close_date, amount, stage) chosen by the caller's code.
    """
    scope, params = owner_filter(owners, "o.owner_id")
    return cur.execute(
        f"""SELECT h.opportunity_id,
                   first(h.old_value ORDER BY h.changed_at, h.history_id) AS old_value,
                   last(h.new_value ORDER BY h.changed_at, h.history_id) AS new_value,
                   any_value(COALESCE(o.amount_cents, 0))::BIGINT AS amount_cents
            FROM opportunity_history h JOIN opportunities o USING (opportunity_id)
            WHERE h.field = ? AND h.changed_at >= ? AND h.changed_at < ?
              AND (o.status = 'open' OR o.closed_at >= ?) AND {scope}
            GROUP BY h.opportunity_id ORDER BY h.opportunity_id""",
        [field, since, until, until, *params],
    ).df()


def stage_ranks(cur: duckdb.DuckDBPyConnection) -> dict[str, float]:
    """Each stage's place in the funnel: the average number of days after creation at which
    deals entered it (the stage a deal was created in counts as day 0)."""
    rows = cur.execute(
        """WITH created_in AS (
               SELECT arg_min(old_value, changed_at) AS stage
               FROM opportunity_history WHERE field = 'stage'
               GROUP BY opportunity_id
           ),
           entries AS (
               SELECT h.new_value AS stage,
                      date_diff('second', o.created_at, h.changed_at) / 86400.0 AS day
               FROM opportunity_history h JOIN opportunities o USING (opportunity_id)
               WHERE h.field = 'stage' AND h.new_value IS NOT NULL
               UNION ALL
               SELECT stage, 0.0 AS day FROM created_in WHERE stage IS NOT NULL
           )
           SELECT stage, AVG(day) FROM entries GROUP BY stage"""
    ).fetchall()
    return {stage: float(rank) for stage, rank in rows}
