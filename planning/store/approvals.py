"""SQL of approval routing checks, withdrawals, approver summaries and named dry runs."""

from __future__ import annotations

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
    cur.execute("UPDATE approval_requests SET status = 'withdrawn' WHERE request_id = ?",
                [request_id])
    cur.execute("UPDATE approval_steps SET status = 'skipped' WHERE request_id = ? "
                "AND status = 'pending'", [request_id])


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
