"""SQL of customer health: point-in-time account measures, churn models, scores and quality.

Every measure of an account at a `moment` uses only rows known then: usage months that had
ended, tickets opened at or before the moment (open when not yet closed then), invoices due
before it (overdue when not yet paid then), activities and NPS answers at or before it. Current
status columns (a ticket's or invoice's `status`, a subscription's `status`) describe the day
of the export, so no measure reads them.
"""

from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd

MOMENTS = "health_moments"
"""The registered frame of (row_id, account_id, moment) the measures are taken for."""

SEVERE_PRIORITIES = ["urgent", "high"]


def subscriptions(cur: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every subscription with its account's name, segment and owner."""
    return cur.execute(
        """SELECT s.subscription_id, s.account_id, s.product_id, s.start_date, s.renewal_date,
                  s.seats, s.arr_cents, s.status, a.name AS account_name, a.segment,
                  a.owner_id, r.name AS owner_name
           FROM subscriptions s
           LEFT JOIN accounts a ON a.account_id = s.account_id
           LEFT JOIN reps r ON r.rep_id = a.owner_id
           ORDER BY s.subscription_id"""
    ).df()


def _with_moments(cur: duckdb.DuckDBPyConnection, moments: pd.DataFrame, sql: str,
                  params: list[object]) -> pd.DataFrame:
    cur.register(MOMENTS, moments[["row_id", "account_id", "moment"]])
    try:
        return cur.execute(sql, params).df()
    finally:
        cur.unregister(MOMENTS)


def usage_at(cur: duckdb.DuckDBPyConnection, moments: pd.DataFrame, recent_months: int,
             previous_months: int) -> pd.DataFrame:
    """Mean monthly active users in the `recent_months` complete months before each moment and
    in the `previous_months` before those, the live seats then, and months of usage seen."""
    return _with_moments(cur, moments, f"""
        WITH bounds AS (
            SELECT row_id, account_id, moment,
                   CAST(date_trunc('month', moment) AS DATE) AS month_now
            FROM {MOMENTS}
        ),
        usage_rows AS (
            SELECT b.row_id,
                   avg(u.active_users) FILTER (
                       WHERE u.month >= b.month_now - to_months(?)) AS active_recent,
                   avg(u.active_users) FILTER (
                       WHERE u.month < b.month_now - to_months(?)) AS active_previous,
                   count(*) AS usage_months
            FROM bounds b JOIN usage u
              ON u.account_id = b.account_id AND u.month < b.month_now
             AND u.month >= b.month_now - to_months(?)
            GROUP BY b.row_id
        ),
        seats AS (
            SELECT b.row_id, sum(s.seats) AS account_seats
            FROM bounds b JOIN subscriptions s
              ON s.account_id = b.account_id AND s.start_date <= b.moment
             AND s.renewal_date > b.moment
            GROUP BY b.row_id
        )
        SELECT b.row_id, r.active_recent, r.active_previous,
               coalesce(r.usage_months, 0) AS usage_months, s.account_seats
        FROM bounds b LEFT JOIN usage_rows r USING (row_id) LEFT JOIN seats s USING (row_id)
        ORDER BY b.row_id""",
        [recent_months, recent_months, recent_months + previous_months])


def tickets_at(cur: duckdb.DuckDBPyConnection, moments: pd.DataFrame,
               window_days: int) -> pd.DataFrame:
    """Tickets opened in the window before each moment (all, urgent or high) and tickets open
    at the moment (all, urgent or high)."""
    return _with_moments(cur, moments, f"""
        SELECT m.row_id,
               count(t.ticket_id) FILTER (WHERE t.opened_at > m.moment - to_days(?))
                   AS tickets_window,
               count(t.ticket_id) FILTER (WHERE t.opened_at > m.moment - to_days(?)
                   AND lower(t.priority) IN (SELECT UNNEST(?::VARCHAR[])))
                   AS severe_tickets_window,
               count(t.ticket_id) FILTER (WHERE t.closed_at IS NULL OR t.closed_at > m.moment)
                   AS open_tickets,
               count(t.ticket_id) FILTER (WHERE (t.closed_at IS NULL OR t.closed_at > m.moment)
                   AND lower(t.priority) IN (SELECT UNNEST(?::VARCHAR[])))
                   AS open_severe_tickets
        FROM {MOMENTS} m LEFT JOIN tickets t
          ON t.account_id = m.account_id AND t.opened_at <= m.moment
        GROUP BY m.row_id ORDER BY m.row_id""",
        [window_days, window_days, SEVERE_PRIORITIES, SEVERE_PRIORITIES])


def invoices_at(cur: duckdb.DuckDBPyConnection, moments: pd.DataFrame,
                lookback_days: int) -> pd.DataFrame:
    """Invoices overdue at each moment (due before it, unpaid then), and the mean days late of
    the invoices due in the lookback before it (an unpaid one counts its days so far)."""
    return _with_moments(cur, moments, f"""
        WITH due AS (
            SELECT m.row_id,
                   (i.paid_on IS NULL OR i.paid_on >= CAST(m.moment AS DATE)) AS unpaid,
                   greatest(datediff('day', i.due_on,
                       least(coalesce(i.paid_on, CAST(m.moment AS DATE)),
                             CAST(m.moment AS DATE))), 0) AS days_late
            FROM {MOMENTS} m JOIN invoices i
              ON i.account_id = m.account_id AND i.due_on < CAST(m.moment AS DATE)
             AND i.due_on >= CAST(m.moment AS DATE) - to_days(?)
             AND i.issued_on <= CAST(m.moment AS DATE)
        )
        SELECT m.row_id, count(d.row_id) FILTER (WHERE d.unpaid) AS overdue_invoices,
               avg(d.days_late) AS mean_days_late, count(d.row_id) AS invoices_due
        FROM {MOMENTS} m LEFT JOIN due d USING (row_id)
        GROUP BY m.row_id ORDER BY m.row_id""", [lookback_days])


def activities_at(cur: duckdb.DuckDBPyConnection, moments: pd.DataFrame,
                  window_days: int) -> pd.DataFrame:
    """Activities on the account (or its deals) in the window before each moment, and the days
    since the latest one at or before it."""
    return _with_moments(cur, moments, f"""
        WITH account_activities AS (
            SELECT coalesce(a.account_id, o.account_id) AS account_id, a.occurred_at
            FROM activities a LEFT JOIN opportunities o ON o.opportunity_id = a.opportunity_id
        )
        SELECT m.row_id,
               count(x.occurred_at) FILTER (WHERE x.occurred_at > m.moment - to_days(?))
                   AS activities_window,
               datediff('day', max(x.occurred_at), m.moment) AS days_since_activity
        FROM {MOMENTS} m LEFT JOIN account_activities x
          ON x.account_id = m.account_id AND x.occurred_at <= m.moment
        GROUP BY m.row_id, m.moment ORDER BY m.row_id""", [window_days])


def nps_at(cur: duckdb.DuckDBPyConnection, moments: pd.DataFrame,
           lookback_days: int) -> pd.DataFrame:
    """The mean NPS answer (0-10) of the account in the lookback before each moment (NULL when
    nobody answered)."""
    return _with_moments(cur, moments, f"""
        SELECT m.row_id, avg(n.score) AS nps
        FROM {MOMENTS} m LEFT JOIN nps_responses n
          ON n.account_id = m.account_id AND n.responded_at <= m.moment
         AND n.responded_at > m.moment - to_days(?)
        GROUP BY m.row_id ORDER BY m.row_id""", [lookback_days])


def horizon_days(cur: duckdb.DuckDBPyConnection) -> int | None:
    """The workspace's setting of how many days before a renewal features are taken."""
    row = cur.execute(
        "SELECT value FROM workspace_settings WHERE key = 'health_horizon_days'").fetchone()
    return None if row is None else int(row[0])


def usage_timeline(cur: duckdb.DuckDBPyConnection, account_id: str,
                   until: dt.datetime) -> pd.DataFrame:
    """The account's monthly active users and events for months ended by `until`."""
    return cur.execute(
        """SELECT month, active_users, events FROM usage
           WHERE account_id = ? AND month < CAST(date_trunc('month', ?::TIMESTAMP) AS DATE)
           ORDER BY month""", [account_id, until]).df()


def ticket_timeline(cur: duckdb.DuckDBPyConnection, account_id: str,
                    until: dt.datetime) -> pd.DataFrame:
    """The account's tickets opened by `until`, with whether each was open then."""
    return cur.execute(
        """SELECT ticket_id, opened_at, CASE WHEN closed_at <= ?::TIMESTAMP THEN closed_at END
                  AS closed_at, priority, (closed_at IS NULL OR closed_at > ?::TIMESTAMP) AS open
           FROM tickets WHERE account_id = ? AND opened_at <= ?::TIMESTAMP
           ORDER BY opened_at""", [until, until, account_id, until]).df()


def invoice_timeline(cur: duckdb.DuckDBPyConnection, account_id: str,
                     until: dt.datetime) -> pd.DataFrame:
    """The account's invoices issued by `until`, with payment as known then."""
    return cur.execute(
        """SELECT invoice_id, subscription_id, issued_on, due_on,
                  CASE WHEN paid_on < CAST(?::TIMESTAMP AS DATE) THEN paid_on END AS paid_on,
                  amount_cents
           FROM invoices WHERE account_id = ? AND issued_on <= CAST(?::TIMESTAMP AS DATE)
           ORDER BY issued_on""", [until, account_id, until]).df()


def insert_model(cur: duckdb.DuckDBPyConnection, row: dict[str, object]) -> None:
    """Store a trained churn model with its card; it becomes the active one."""
    cur.execute("UPDATE churn_models SET is_active = FALSE")
    cur.execute(
        """INSERT INTO churn_models (model_id, trained_at, trained_by, as_of, horizon_days,
               train_from, train_to, test_from, test_to, rows_train, rows_test, features,
               card_json, model_blob, is_active)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, TRUE)""",
        [row["model_id"], row["trained_at"], row["trained_by"], row["as_of"],
         row["horizon_days"], row["train_from"], row["train_to"], row["test_from"],
         row["test_to"], row["rows_train"], row["rows_test"], row["features"],
         row["card_json"], row["model_blob"]])


def model_exists(cur: duckdb.DuckDBPyConnection, model_id: str) -> bool:
    """Whether a churn model with this id is stored."""
    return cur.execute("SELECT count(*) FROM churn_models WHERE model_id = ?",
                       [model_id]).fetchone()[0] > 0


def active_model(cur: duckdb.DuckDBPyConnection) -> tuple[str, bytes] | None:
    """The active churn model's id and serialised form, if any."""
    row = cur.execute(
        "SELECT model_id, model_blob FROM churn_models WHERE is_active").fetchone()
    return None if row is None else (row[0], bytes(row[1]))


def model_cards(cur: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every churn model's card (without the serialised model), newest first."""
    return cur.execute(
        """SELECT model_id, trained_at, trained_by, as_of, horizon_days, train_from, train_to,
                  test_from, test_to, rows_train, rows_test, features, card_json, is_active
           FROM churn_models ORDER BY trained_at DESC, model_id"""
    ).df()


def replace_scores(cur: duckdb.DuckDBPyConnection, scores: pd.DataFrame) -> None:
    """Store scores (columns as in health_scores), replacing those of the same model, account
    and moment."""
    cur.register("new_health_scores", scores)
    try:
        cur.execute(
            """DELETE FROM health_scores h USING new_health_scores n
               WHERE h.model_id = n.model_id AND h.account_id = n.account_id
                 AND h.as_of = n.as_of""")
        cur.execute(
            """INSERT INTO health_scores BY NAME
               SELECT model_id, account_id, as_of, scored_at, subscription_id, renewal_date,
                      arr_cents, health_score, components_json, features_json,
                      churn_probability, reasons_json FROM new_health_scores""")
    finally:
        cur.unregister("new_health_scores")


def scored_moments(cur: duckdb.DuckDBPyConnection, model_id: str) -> list[dt.datetime]:
    """The moments a model has scores for, newest first."""
    rows = cur.execute(
        "SELECT DISTINCT as_of FROM health_scores WHERE model_id = ? ORDER BY as_of DESC",
        [model_id]).fetchall()
    return [row[0] for row in rows]


def scores_at(cur: duckdb.DuckDBPyConnection, model_id: str, as_of: dt.datetime,
              owners: list[str] | None) -> pd.DataFrame:
    """A model's scores at one moment, with each account's name, segment and owner (only the
    accounts of `owners`, or all)."""
    scope = "TRUE" if owners is None else "a.owner_id IN (SELECT UNNEST(?::VARCHAR[]))"
    params: list[object] = [model_id, as_of] + ([] if owners is None else [list(owners)])
    return cur.execute(
        f"""SELECT h.account_id, a.name AS account_name, a.segment, a.owner_id,
                   r.name AS owner_name, h.subscription_id, h.renewal_date, h.arr_cents,
                   h.health_score, h.components_json, h.features_json, h.churn_probability,
                   h.reasons_json, h.model_id, h.as_of, h.scored_at
            FROM health_scores h
            JOIN accounts a ON a.account_id = h.account_id
            LEFT JOIN reps r ON r.rep_id = a.owner_id
            WHERE h.model_id = ? AND h.as_of = ? AND {scope}
            ORDER BY h.renewal_date, h.account_id""", params).df()


def insert_quality(cur: duckdb.DuckDBPyConnection, row: dict[str, object]) -> None:
    """Record a measurement of a churn model's quality."""
    cur.execute(
        """INSERT INTO churn_model_quality (model_id, measured_at, kind, period_from,
               period_to, renewals, churned, auc, brier, base_rate_brier)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
        [row["model_id"], row["measured_at"], row["kind"], row["period_from"],
         row["period_to"], row["renewals"], row["churned"], row["auc"], row["brier"],
         row["base_rate_brier"]])


def model_quality(cur: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every quality measurement of every churn model, oldest first."""
    return cur.execute(
        """SELECT q.model_id, m.trained_at, q.measured_at, q.kind, q.period_from, q.period_to,
                  q.renewals, q.churned, q.auc, q.brier, q.base_rate_brier
           FROM churn_model_quality q JOIN churn_models m USING (model_id)
           ORDER BY q.measured_at, q.model_id, q.kind"""
    ).df()


def model_blob(cur: duckdb.DuckDBPyConnection, model_id: str) -> bytes | None:
    """A stored churn model's serialised form."""
    row = cur.execute("SELECT model_blob FROM churn_models WHERE model_id = ?",
                      [model_id]).fetchone()
    return None if row is None else bytes(row[0])


def account_scores(cur: duckdb.DuckDBPyConnection, model_id: str,
                   account_id: str) -> pd.DataFrame:
    """Every stored score of one account by one model, newest moment first."""
    return cur.execute(
        """SELECT account_id, subscription_id, renewal_date, arr_cents, health_score,
                  components_json, features_json, churn_probability, reasons_json, model_id,
                  as_of, scored_at
           FROM health_scores WHERE model_id = ? AND account_id = ?
           ORDER BY as_of DESC""", [model_id, account_id]).df()


def account_details(cur: duckdb.DuckDBPyConnection, account_id: str) -> dict[str, object] | None:
    """An account's name, segment, owner id and owner name, or None when there is none."""
    row = cur.execute(
        """SELECT a.account_id, a.name, a.segment, a.owner_id, r.name
           FROM accounts a LEFT JOIN reps r ON r.rep_id = a.owner_id
           WHERE a.account_id = ?""", [account_id]).fetchone()
    if row is None:
        return None
    return dict(zip(("account_id", "account_name", "segment", "owner_id", "owner_name"), row,
                    strict=True))
