"""SQL of guided selling: the accounts a seller may quote, with their segment and owner."""

from __future__ import annotations

import duckdb
import pandas as pd


def quotable_accounts(cur: duckdb.DuckDBPyConnection, owner_ids: list[str] | None
                      ) -> pd.DataFrame:
    """Accounts by name with their segment and owner (id, name, email and the roles the
    owner holds as a workspace member, empty when not a member); only those owned by
    `owner_ids` unless None."""
    return cur.execute(
        """SELECT a.account_id, a.name, a.segment, a.owner_id, r.name AS owner_name,
                  r.email AS owner_email,
                  coalesce(m.roles, []::VARCHAR[]) AS owner_roles
           FROM accounts a LEFT JOIN reps r ON r.rep_id = a.owner_id
           LEFT JOIN workspace_members m ON lower(trim(m.email)) = lower(trim(r.email))
           WHERE ?::VARCHAR[] IS NULL OR list_contains(?::VARCHAR[], a.owner_id)
           ORDER BY a.name, a.account_id""",
        [owner_ids, owner_ids]).df()
