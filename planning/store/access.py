"""SQL of workspace membership and the reporting lines that define a manager's team."""

from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd


def member_roles(cur: duckdb.DuckDBPyConnection, email: str) -> list[str] | None:
    """The roles granted to an email in this workspace, or None when it is not a member."""
    row = cur.execute(
        "SELECT roles FROM workspace_members WHERE lower(trim(email)) = ?",
        [email.strip().lower()],
    ).fetchone()
    return None if row is None else list(row[0])


def member(cur: duckdb.DuckDBPyConnection, email: str) -> dict | None:
    """One member row as a dict, or None."""
    cur.execute(
        "SELECT email, display_name, roles, granted_by, granted_at, updated_at "
        "FROM workspace_members WHERE lower(trim(email)) = ?", [email.strip().lower()],
    )
    row = cur.fetchone()
    if row is None:
        return None
    names = [d[0] for d in cur.description]
    return dict(zip(names, row, strict=True))


def upsert_member(
    cur: duckdb.DuckDBPyConnection, email: str, display_name: str | None, roles: list[str],
    granted_by: str, now: dt.datetime,
) -> None:
    """Create or replace a member's roles."""
    cur.execute(
        """INSERT INTO workspace_members
               (email, display_name, roles, granted_by, granted_at, updated_at)
           VALUES (?, ?, ?, ?, ?, ?)
           ON CONFLICT (email) DO UPDATE SET
               display_name = coalesce(EXCLUDED.display_name, workspace_members.display_name),
               roles = EXCLUDED.roles, granted_by = EXCLUDED.granted_by,
               updated_at = EXCLUDED.updated_at""",
        [email.lower(), display_name, sorted(roles), granted_by, now, now],
    )


def delete_member(cur: duckdb.DuckDBPyConnection, email: str) -> None:
    """Remove a member (their access to the workspace)."""
    cur.execute("DELETE FROM workspace_members WHERE lower(trim(email)) = ?",
                [email.strip().lower()])


def members_frame(cur: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every member with roles and the CRM person their email matches, if any."""
    return cur.execute(
        """SELECT m.email, m.display_name, array_to_string(m.roles, ', ') AS roles,
                  r.rep_id, r.title, r.team, m.granted_by, m.granted_at, m.updated_at
           FROM workspace_members m LEFT JOIN reps r ON lower(r.email) = m.email
           ORDER BY m.email"""
    ).df()


def admin_count(cur: duckdb.DuckDBPyConnection) -> int:
    """How many members hold the admin role."""
    return int(cur.execute(
        "SELECT count(*) FROM workspace_members WHERE list_contains(roles, 'admin')"
    ).fetchone()[0])


def rep_for_email(cur: duckdb.DuckDBPyConnection, email: str) -> str | None:
    """The rep id whose CRM email is this email (case-insensitive), if exactly one matches."""
    rows = cur.execute(
        "SELECT rep_id FROM reps WHERE lower(email) = ? ORDER BY rep_id LIMIT 2", [email.lower()]
    ).fetchall()
    return rows[0][0] if len(rows) == 1 else None


def reporting_subtree(cur: duckdb.DuckDBPyConnection, rep_id: str) -> list[str]:
    """The rep and everyone reporting to them, directly or through others."""
    rows = cur.execute(
        """WITH RECURSIVE team(rep_id) AS (
               SELECT ?::VARCHAR
               UNION
               SELECT r.rep_id FROM reps r JOIN team t ON r.manager_id = t.rep_id
           )
           SELECT rep_id FROM team ORDER BY rep_id""",
        [rep_id],
    ).fetchall()
    return [r[0] for r in rows]
