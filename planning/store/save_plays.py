"""SQL of save plays: play runs, their tasks, renewal outcomes and the plays they credit, the
renewal a play works on, the newest health score of accounts, and the CRM writeback state of
play fields."""

from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd

PLAY_COLUMNS = (
    "play_run_id", "account_id", "play", "status", "started_by", "started_at", "activated_at",
    "closed_at", "subscription_ids", "renewal_date", "arr_cents", "concession_pct",
    "concession_cents", "commercial", "reasons", "churn_probability", "note", "terms_hash",
    "request_id",
)
TASK_COLUMNS = ("task_id", "play_run_id", "seq", "title", "owner_role", "owner_email",
                "due_date", "status", "completed_by", "completed_at")


def _row(cur: duckdb.DuckDBPyConnection) -> dict | None:
    row = cur.fetchone()
    if row is None:
        return None
    return dict(zip([d[0] for d in cur.description], row, strict=True))


def account(cur: duckdb.DuckDBPyConnection, account_id: str) -> dict | None:
    """An account's name and owner (rep id, name, email), or None when there is none."""
    cur.execute(
        """SELECT a.account_id, a.name, a.owner_id, r.name AS owner_name,
                  lower(trim(r.email)) AS owner_email
           FROM accounts a LEFT JOIN reps r ON r.rep_id = a.owner_id
           WHERE a.account_id = ?""", [account_id])
    return _row(cur)


def pending_renewal(cur: duckdb.DuckDBPyConnection, account_id: str) -> dict | None:
    """The account's earliest renewal of active subscriptions without a recorded outcome:
    renewal_date, subscription_ids and their summed arr_cents; None when there is none."""
    cur.execute(
        """SELECT s.renewal_date, list(s.subscription_id ORDER BY s.subscription_id)
                      AS subscription_ids, sum(s.arr_cents)::BIGINT AS arr_cents
           FROM subscriptions s
           WHERE s.account_id = ? AND s.status = 'active'
             AND NOT EXISTS (SELECT 1 FROM renewal_outcomes o
                             WHERE o.account_id = s.account_id
                               AND o.renewal_date = s.renewal_date)
           GROUP BY s.renewal_date ORDER BY s.renewal_date LIMIT 1""", [account_id])
    return _row(cur)


def latest_health(cur: duckdb.DuckDBPyConnection,
                  account_ids: list[str] | None = None) -> pd.DataFrame:
    """The newest health score of the active churn model per account (all accounts, or the
    given ones): account_id, health_score, churn_probability, reasons_json, as_of."""
    scope = "TRUE" if account_ids is None else "h.account_id IN (SELECT UNNEST(?::VARCHAR[]))"
    params = [] if account_ids is None else [list(account_ids)]
    return cur.execute(
        f"""SELECT h.account_id, h.health_score, h.churn_probability, h.reasons_json, h.as_of
            FROM health_scores h JOIN churn_models m ON m.model_id = h.model_id AND m.is_active
            WHERE {scope}
            QUALIFY row_number() OVER (PARTITION BY h.account_id ORDER BY h.as_of DESC) = 1
            ORDER BY h.account_id""", params).df()


def role_holder(cur: duckdb.DuckDBPyConnection, role: str) -> str | None:
    """The first member (by email) holding a role, or None when nobody does."""
    row = cur.execute(
        """SELECT email FROM workspace_members WHERE list_contains(roles, ?)
           ORDER BY email LIMIT 1""", [role]).fetchone()
    return None if row is None else row[0]


def is_member(cur: duckdb.DuckDBPyConnection, email: str) -> bool:
    """Whether a person is a member of the workspace."""
    return bool(cur.execute("SELECT count(*) FROM workspace_members WHERE email = ?",
                            [email]).fetchone()[0])


def insert_play(cur: duckdb.DuckDBPyConnection, row: dict[str, object]) -> None:
    """Store a started play run (columns as PLAY_COLUMNS)."""
    names = ", ".join(PLAY_COLUMNS)
    marks = ", ".join("?" for _ in PLAY_COLUMNS)
    cur.execute(f"INSERT INTO save_plays ({names}) VALUES ({marks})",
                [row.get(name) for name in PLAY_COLUMNS])


def play(cur: duckdb.DuckDBPyConnection, play_run_id: str) -> dict | None:
    """One play run as a dict, or None."""
    cur.execute("SELECT * FROM save_plays WHERE play_run_id = ?", [play_run_id])
    return _row(cur)


def set_play_status(cur: duckdb.DuckDBPyConnection, play_run_id: str, status: str, *,
                    activated_at: dt.datetime | None = None,
                    closed_at: dt.datetime | None = None) -> None:
    """Set a play run's status, and when given the moment it became active or closed."""
    cur.execute(
        """UPDATE save_plays SET status = ?, activated_at = coalesce(?, activated_at),
                  closed_at = coalesce(?, closed_at) WHERE play_run_id = ?""",
        [status, activated_at, closed_at, play_run_id])


def insert_tasks(cur: duckdb.DuckDBPyConnection, rows: list[dict[str, object]]) -> None:
    """Store a play's tasks (columns as TASK_COLUMNS)."""
    names = ", ".join(TASK_COLUMNS)
    marks = ", ".join("?" for _ in TASK_COLUMNS)
    cur.executemany(f"INSERT INTO save_play_tasks ({names}) VALUES ({marks})",
                    [[row.get(name) for name in TASK_COLUMNS] for row in rows])


def tasks(cur: duckdb.DuckDBPyConnection, play_run_id: str) -> pd.DataFrame:
    """A play's tasks in order."""
    return cur.execute("SELECT * FROM save_play_tasks WHERE play_run_id = ? ORDER BY seq",
                       [play_run_id]).df()


def task(cur: duckdb.DuckDBPyConnection, task_id: str) -> dict | None:
    """One task as a dict, or None."""
    cur.execute("SELECT * FROM save_play_tasks WHERE task_id = ?", [task_id])
    return _row(cur)


def set_task_statuses(cur: duckdb.DuckDBPyConnection, play_run_id: str, before: str,
                      after: str) -> None:
    """Move every task of a play in status `before` to `after`."""
    cur.execute("UPDATE save_play_tasks SET status = ? WHERE play_run_id = ? AND status = ?",
                [after, play_run_id, before])


def complete_task(cur: duckdb.DuckDBPyConnection, task_id: str, by: str,
                  at: dt.datetime) -> None:
    """Mark a task done by someone at a moment."""
    cur.execute("""UPDATE save_play_tasks SET status = 'done', completed_by = ?,
                   completed_at = ? WHERE task_id = ?""", [by, at, task_id])


def reassign_task(cur: duckdb.DuckDBPyConnection, task_id: str, owner_email: str) -> None:
    """Give a task another owner."""
    cur.execute("UPDATE save_play_tasks SET owner_email = ? WHERE task_id = ?",
                [owner_email, task_id])


def open_task_count(cur: duckdb.DuckDBPyConnection, play_run_id: str) -> int:
    """How many tasks of a play are not done."""
    return int(cur.execute("SELECT count(*) FROM save_play_tasks WHERE play_run_id = ? AND "
                           "status <> 'done'", [play_run_id]).fetchone()[0])


def play_by_request(cur: duckdb.DuckDBPyConnection, request_id: str) -> str | None:
    """The play run an approval request is about, or None."""
    row = cur.execute("SELECT play_run_id FROM save_plays WHERE request_id = ?",
                      [request_id]).fetchone()
    return None if row is None else row[0]


def account_plays(cur: duckdb.DuckDBPyConnection, account_id: str) -> pd.DataFrame:
    """Every play run on an account, oldest first."""
    return cur.execute("SELECT * FROM save_plays WHERE account_id = ? ORDER BY started_at",
                       [account_id]).df()


def credited_plays(cur: duckdb.DuckDBPyConnection) -> set[str]:
    """Play runs some outcome already credits."""
    return {r[0] for r in cur.execute("SELECT play_run_id FROM save_play_credits").fetchall()}


def insert_outcome(cur: duckdb.DuckDBPyConnection, row: dict[str, object]) -> None:
    """Store a renewal outcome."""
    cur.execute(
        """INSERT INTO renewal_outcomes (outcome_id, account_id, renewal_date, outcome,
               arr_cents_before, arr_cents_after, at_risk, churn_probability, recorded_by,
               recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
        [row["outcome_id"], row["account_id"], row["renewal_date"], row["outcome"],
         row["arr_cents_before"], row["arr_cents_after"], row["at_risk"],
         row["churn_probability"], row["recorded_by"], row["recorded_at"]])


def insert_credits(cur: duckdb.DuckDBPyConnection, outcome_id: str,
                   play_run_ids: list[str]) -> None:
    """Credit an outcome to plays."""
    if play_run_ids:
        cur.executemany("INSERT INTO save_play_credits VALUES (?, ?)",
                        [[outcome_id, run] for run in play_run_ids])


def outcome_for(cur: duckdb.DuckDBPyConnection, account_id: str,
                renewal_date: dt.date) -> dict | None:
    """The outcome recorded for one renewal of an account, or None."""
    cur.execute("SELECT * FROM renewal_outcomes WHERE account_id = ? AND renewal_date = ?",
                [account_id, renewal_date])
    return _row(cur)


def plays_in_scope(cur: duckdb.DuckDBPyConnection, owners: list[str] | None) -> pd.DataFrame:
    """Play runs with the account's name and owner, and the outcome credited to them, newest
    first (accounts of `owners`, or all)."""
    scope = "TRUE" if owners is None else "a.owner_id IN (SELECT UNNEST(?::VARCHAR[]))"
    params = [] if owners is None else [list(owners)]
    return cur.execute(
        f"""SELECT p.*, a.name AS account_name, a.owner_id, o.outcome, o.outcome_id
            FROM save_plays p JOIN accounts a USING (account_id)
            LEFT JOIN save_play_credits c USING (play_run_id)
            LEFT JOIN renewal_outcomes o USING (outcome_id)
            WHERE {scope} ORDER BY p.started_at DESC, p.play_run_id""", params).df()


def outcomes_in_scope(cur: duckdb.DuckDBPyConnection, owners: list[str] | None) -> pd.DataFrame:
    """Recorded renewal outcomes with how many plays each credits (accounts of `owners`, or
    all), oldest first."""
    scope = "TRUE" if owners is None else "a.owner_id IN (SELECT UNNEST(?::VARCHAR[]))"
    params = [] if owners is None else [list(owners)]
    return cur.execute(
        f"""SELECT o.*, (SELECT count(*) FROM save_play_credits c
                         WHERE c.outcome_id = o.outcome_id) AS plays_credited
            FROM renewal_outcomes o JOIN accounts a USING (account_id)
            WHERE {scope} ORDER BY o.recorded_at, o.outcome_id""", params).df()


def pending_renewals(cur: duckdb.DuckDBPyConnection, owners: list[str] | None,
                     first: dt.date, last: dt.date) -> pd.DataFrame:
    """Each account's earliest renewal without an outcome when it falls in [first, last]:
    account_id, renewal_date, arr_cents (accounts of `owners`, or all)."""
    scope = "TRUE" if owners is None else "a.owner_id IN (SELECT UNNEST(?::VARCHAR[]))"
    params: list[object] = [] if owners is None else [list(owners)]
    return cur.execute(
        f"""WITH pending AS (
                SELECT s.account_id, s.renewal_date, sum(s.arr_cents)::BIGINT AS arr_cents
                FROM subscriptions s JOIN accounts a USING (account_id)
                WHERE s.status = 'active' AND {scope}
                  AND NOT EXISTS (SELECT 1 FROM renewal_outcomes o
                                  WHERE o.account_id = s.account_id
                                    AND o.renewal_date = s.renewal_date)
                GROUP BY s.account_id, s.renewal_date
                QUALIFY row_number() OVER (PARTITION BY s.account_id
                                           ORDER BY s.renewal_date) = 1)
            SELECT * FROM pending WHERE renewal_date BETWEEN ? AND ?
            ORDER BY renewal_date, account_id""", [*params, first, last]).df()


def last_queued_values(cur: duckdb.DuckDBPyConnection,
                       fields: list[tuple[str, str, str]]) -> dict[tuple[str, str, str],
                                                                   tuple[str, str]]:
    """For each (object, record_id, field), the newest value queued in the writeback outbox
    and its idempotency key."""
    if not fields:
        return {}
    frame = pd.DataFrame(fields, columns=["object", "record_id", "field"])
    cur.register("wanted_fields", frame)
    try:
        rows = cur.execute(
            """SELECT w.object, w.record_id, w.field, w.new_value, w.idempotency_key
               FROM writeback_outbox w JOIN wanted_fields f
                 ON f.object = w.object AND f.record_id = w.record_id AND f.field = w.field
               QUALIFY row_number() OVER (PARTITION BY w.object, w.record_id, w.field
                                          ORDER BY w.sequence DESC) = 1""").fetchall()
    finally:
        cur.unregister("wanted_fields")
    return {(o, r, f): (value, key) for o, r, f, value, key in rows}


def shift_due_dates(cur: duckdb.DuckDBPyConnection, play_run_id: str, days: int) -> None:
    """Move the due dates of a play's waiting tasks by `days` (when its approval took days)."""
    if days:
        cur.execute("""UPDATE save_play_tasks SET due_date = due_date + ?::INTEGER
                       WHERE play_run_id = ? AND status = 'waiting'""", [days, play_run_id])


def accounts_of(cur: duckdb.DuckDBPyConnection, owners: list[str]) -> list[str]:
    """The ids of the accounts the given reps own."""
    return [r[0] for r in cur.execute(
        "SELECT account_id FROM accounts WHERE owner_id IN (SELECT UNNEST(?::VARCHAR[])) "
        "ORDER BY account_id", [owners]).fetchall()]


def open_play_steps(cur: duckdb.DuckDBPyConnection, email: str) -> pd.DataFrame:
    """Pending steps of pending play approval requests not submitted by `email` (canonical)
    and where that person decided nothing yet, oldest first, with the play and its account."""
    return cur.execute(
        """SELECT s.request_id, s.step_no, s.role, s.reason, p.play_run_id, p.play,
                  p.account_id, a.name AS account_name, p.arr_cents, p.concession_pct,
                  p.concession_cents, p.note, r.submitted_by, r.submitted_at
           FROM approval_steps s
           JOIN approval_requests r USING (request_id)
           JOIN save_plays p ON p.request_id = r.request_id
           JOIN accounts a ON a.account_id = p.account_id
           WHERE s.status = 'pending' AND r.status = 'pending'
             AND lower(trim(r.submitted_by)) <> ?
             AND NOT EXISTS (SELECT 1 FROM approval_steps d WHERE d.request_id = s.request_id
                             AND lower(trim(d.decided_by)) = ?)
           ORDER BY r.submitted_at, s.step_no""", [email, email]).df()
