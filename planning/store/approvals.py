"""SQL of approvals: policies, requests and their steps, routing checks, withdrawals,
approver summaries and named dry runs."""

from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd

ALTERNATE_PREFIX = "approval_alternate."
"""workspace_settings key prefix of a role's alternate approver (value: member email)."""


def role_holders(cur: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every workspace member with their display name and roles (a list), by email."""
    return cur.execute(
        "SELECT email, display_name, roles FROM workspace_members ORDER BY email").df()


def member_names(cur: duckdb.DuckDBPyConnection, emails: list[str]) -> dict[str, str]:
    """Display names of members (falling back to the CRM name of the same email)."""
    rows = cur.execute(
        """SELECT e.email, coalesce(m.display_name, r.name)
           FROM (SELECT UNNEST(?::VARCHAR[]) AS email) e
           LEFT JOIN workspace_members m ON m.email = e.email
           LEFT JOIN reps r ON lower(r.email) = e.email""", [emails]).fetchall()
    return {email: name for email, name in rows if name}


def alternates(cur: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Alternate approver email per role, as configured by an admin."""
    rows = cur.execute("SELECT key, value FROM workspace_settings WHERE starts_with(key, ?)",
                       [ALTERNATE_PREFIX]).fetchall()
    return {key[len(ALTERNATE_PREFIX):]: value for key, value in rows if value}


def set_alternate(cur: duckdb.DuckDBPyConnection, role: str, email: str | None) -> None:
    """Set (or with None remove) the alternate approver of a role."""
    cur.execute("DELETE FROM workspace_settings WHERE key = ?", [ALTERNATE_PREFIX + role])
    if email:
        cur.execute("INSERT INTO workspace_settings VALUES (?, ?)",
                    [ALTERNATE_PREFIX + role, email])


def request_row(cur: duckdb.DuckDBPyConnection, request_id: str) -> dict | None:
    """One approval request as a dict, or None."""
    cur.execute("SELECT * FROM approval_requests WHERE request_id = ?", [request_id])
    row = cur.fetchone()
    if row is None:
        return None
    return dict(zip([d[0] for d in cur.description], row, strict=True))


def request_steps(cur: duckdb.DuckDBPyConnection, request_ids: list[str]) -> pd.DataFrame:
    """The steps of the given requests, in order."""
    return cur.execute(
        """SELECT request_id, step_no, role, reason, status, decided_by, decided_at, comment
           FROM approval_steps WHERE request_id IN (SELECT UNNEST(?::VARCHAR[]))
           ORDER BY request_id, step_no""", [request_ids]).df()


def requests_with_route(cur: duckdb.DuckDBPyConnection,
                        request_ids: list[str]) -> dict[str, tuple[str, str]]:
    """Submitter and route JSON of the given requests."""
    rows = cur.execute(
        """SELECT request_id, submitted_by, route FROM approval_requests
           WHERE request_id IN (SELECT UNNEST(?::VARCHAR[]))""", [request_ids]).fetchall()
    return {rid: (submitted_by, route) for rid, submitted_by, route in rows}


def mark_withdrawn(cur: duckdb.DuckDBPyConnection, request_id: str) -> None:
    """Set a request withdrawn and its open steps skipped."""
    set_request_status(cur, request_id, "withdrawn")
    skip_pending_steps(cur, request_id)


def published_version_id(cur: duckdb.DuckDBPyConnection, kind: str,
                         fiscal_year: int | None, exclude: str) -> str | None:
    """The currently published version of a kind (and fiscal year), other than `exclude`."""
    row = cur.execute(
        """SELECT version_id FROM plan_versions WHERE kind = ? AND status = 'published'
           AND fiscal_year IS NOT DISTINCT FROM ? AND version_id <> ?
           ORDER BY created_at DESC LIMIT 1""", [kind, fiscal_year, exclude]).fetchone()
    return None if row is None else row[0]


def last_year_quotas(cur: duckdb.DuckDBPyConnection, fiscal_year: int) -> pd.DataFrame:
    """Last fiscal year's CRM quotas (subject = rep id, amount_cents)."""
    return cur.execute("SELECT rep_id AS subject, quota_cents AS amount_cents FROM rep_quotas "
                       "WHERE fiscal_year = ?", [fiscal_year - 1]).df()


def rep_names(cur: duckdb.DuckDBPyConnection, rep_ids: list[str]) -> dict[str, str]:
    """Rep names by id."""
    return dict(cur.execute("SELECT rep_id, name FROM reps WHERE rep_id IN "
                            "(SELECT UNNEST(?::VARCHAR[]))", [rep_ids]).fetchall())


def account_names_and_revenue(cur: duckdb.DuckDBPyConnection,
                              account_ids: list[str]) -> pd.DataFrame:
    """Account name and annual revenue (cents) by id."""
    return cur.execute(
        """SELECT account_id, name, coalesce(annual_revenue_cents, 0) AS revenue_cents
           FROM accounts WHERE account_id IN (SELECT UNNEST(?::VARCHAR[]))""",
        [account_ids]).df()


def opportunity_names(cur: duckdb.DuckDBPyConnection, ids: list[str]) -> dict[str, str]:
    """Opportunity names (the account's name when a deal has none) by id."""
    return dict(cur.execute(
        """SELECT o.opportunity_id, coalesce(o.name, a.name, o.opportunity_id)
           FROM opportunities o LEFT JOIN accounts a USING (account_id)
           WHERE o.opportunity_id IN (SELECT UNNEST(?::VARCHAR[]))""", [ids]).fetchall())


def latest_policy(cur: duckdb.DuckDBPyConnection) -> tuple[int, str] | None:
    """The newest approval policy's version and rules (JSON text), or None before the first."""
    row = cur.execute("SELECT policy_version, rules FROM approval_policies "
                      "ORDER BY policy_version DESC LIMIT 1").fetchone()
    return None if row is None else (int(row[0]), row[1])


def insert_policy(cur: duckdb.DuckDBPyConnection, policy_version: int, rules_json: str,
                  published_at: dt.datetime, published_by: str) -> None:
    """Store a policy version (older ones are kept)."""
    cur.execute("INSERT INTO approval_policies VALUES (?, ?, ?, ?)",
                [policy_version, rules_json, published_at, published_by])


def enterprise_account_count(cur: duckdb.DuckDBPyConnection, account_ids: list[str]) -> int:
    """How many of the given accounts are of the Enterprise segment."""
    return int(cur.execute(
        """SELECT count(*) FROM accounts WHERE segment = 'Enterprise'
           AND account_id IN (SELECT UNNEST(?::VARCHAR[]))""", [account_ids]).fetchall()[0][0])


def insert_request(cur: duckdb.DuckDBPyConnection, *, request_id: str, version_id: str,
                   content_hash: str, policy_version: int, route_json: str,
                   submitted_by: str, submitted_at: dt.datetime) -> None:
    """Open a pending approval request for one content hash of a version."""
    cur.execute("INSERT INTO approval_requests VALUES (?, ?, ?, ?, ?, ?, ?, 'pending')",
                [request_id, version_id, content_hash, policy_version, route_json,
                 submitted_by, submitted_at])


def insert_step(cur: duckdb.DuckDBPyConnection, *, request_id: str, step_no: int, role: str,
                reason: str, status: str, decided_by: str | None,
                decided_at: dt.datetime | None, comment: str | None) -> None:
    """Add one step of a request's route (pending, or already signed by the submitter)."""
    cur.execute("""INSERT INTO approval_steps (request_id, step_no, role, reason, status,
                       decided_by, decided_at, comment)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?)""",
                [request_id, step_no, role, reason, status, decided_by, decided_at, comment])


def set_request_status(cur: duckdb.DuckDBPyConnection, request_id: str, status: str) -> None:
    """Set a request's status (approved, rejected, changes_requested, withdrawn)."""
    cur.execute("UPDATE approval_requests SET status = ? WHERE request_id = ?",
                [status, request_id])


def skip_pending_steps(cur: duckdb.DuckDBPyConnection, request_id: str) -> None:
    """Mark a closed request's steps that were still pending as skipped."""
    cur.execute("UPDATE approval_steps SET status = 'skipped' WHERE request_id = ? "
                "AND status = 'pending'", [request_id])


def step_state(cur: duckdb.DuckDBPyConnection, request_id: str,
               step_no: int) -> tuple[str, str] | None:
    """Role and status of one step of a request, or None when it has no such step."""
    row = cur.execute("SELECT role, status FROM approval_steps WHERE request_id = ? "
                      "AND step_no = ?", [request_id, step_no]).fetchone()
    return None if row is None else (row[0], row[1])


def steps_decided_by(cur: duckdb.DuckDBPyConnection, request_id: str, email: str) -> int:
    """How many steps of a request the person with this (canonical) email decided."""
    return int(cur.execute("SELECT count(*) FROM approval_steps WHERE request_id = ? AND "
                           "lower(trim(decided_by)) = ?", [request_id, email]).fetchone()[0])


def record_decision(cur: duckdb.DuckDBPyConnection, *, request_id: str, step_no: int,
                    decision: str, decided_by: str, decided_at: dt.datetime,
                    comment: str | None) -> None:
    """Record who decided a step, how, when and why."""
    cur.execute("""UPDATE approval_steps SET status = ?, decided_by = ?, decided_at = ?,
                   comment = ? WHERE request_id = ? AND step_no = ?""",
                [decision, decided_by, decided_at, comment, request_id, step_no])


def pending_step_count(cur: duckdb.DuckDBPyConnection, request_id: str) -> int:
    """How many steps of a request are still pending."""
    return int(cur.execute("SELECT count(*) FROM approval_steps WHERE request_id = ? AND "
                           "status = 'pending'", [request_id]).fetchone()[0])


def has_approval(cur: duckdb.DuckDBPyConnection, version_id: str, content_hash: str) -> bool:
    """Whether a request approved this version with exactly this content hash."""
    return bool(cur.execute(
        "SELECT count(*) FROM approval_requests WHERE version_id = ? AND status = "
        "'approved' AND content_hash = ?", [version_id, content_hash]).fetchone()[0])


def open_steps_for(cur: duckdb.DuckDBPyConnection, email: str) -> pd.DataFrame:
    """Pending steps of pending requests not submitted by `email` (canonical) and of requests
    where that person decided nothing yet, oldest first, with the version and the route JSON
    (the caller keeps those of the person's roles or named alternate)."""
    return cur.execute(
        """SELECT s.request_id, s.step_no, s.role, s.reason, r.version_id, v.kind, v.name,
                  r.submitted_by, r.submitted_at, r.content_hash, r.policy_version, r.route
           FROM approval_steps s
           JOIN approval_requests r USING (request_id)
           JOIN plan_versions v ON v.version_id = r.version_id
           WHERE s.status = 'pending' AND r.status = 'pending'
             AND lower(trim(r.submitted_by)) <> ?
             AND NOT EXISTS (SELECT 1 FROM approval_steps d WHERE d.request_id = s.request_id
                             AND lower(trim(d.decided_by)) = ?)
           ORDER BY r.submitted_at, s.step_no""",
        [email, email]).df()


def request_overview(cur: duckdb.DuckDBPyConnection,
                     submitted_by: str | None) -> pd.DataFrame:
    """Requests newest first (one submitter's, or all with None) with their version and their
    steps in words ("role: status by who (comment); …")."""
    return cur.execute(
        """SELECT r.request_id, r.version_id, v.kind, v.name, r.status, r.submitted_by,
                  r.submitted_at, r.policy_version,
                  string_agg(s.role || ': ' || s.status
                             || coalesce(' by ' || s.decided_by, '')
                             || coalesce(' (' || s.comment || ')', ''), '; '
                             ORDER BY s.step_no) AS steps
           FROM approval_requests r JOIN plan_versions v USING (version_id)
           JOIN approval_steps s USING (request_id)
           WHERE ?::VARCHAR IS NULL OR r.submitted_by = ?
           GROUP BY ALL ORDER BY r.submitted_at DESC""",
        [submitted_by, submitted_by]).df()
