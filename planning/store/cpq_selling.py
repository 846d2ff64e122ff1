"""SQL of guided selling: the accounts a seller may quote, with their segment and owner."""

from __future__ import annotations

import duckdb
import pandas as pd


def quotable_accounts(cur: duckdb.DuckDBPyConnection, owner_ids: list[str] | None
                      ) -> pd.DataFrame:
    """Accounts by name with their segment and owner (id and name); only those owned by
    `owner_ids` unless None."""
    return cur.execute(
        """SELECT a.account_id, a.name, a.segment, a.owner_id, r.name AS owner_name
           FROM accounts a LEFT JOIN reps r ON r.rep_id = a.owner_id
           WHERE ?::VARCHAR[] IS NULL OR list_contains(?::VARCHAR[], a.owner_id)
           ORDER BY a.name, a.account_id""",
        [owner_ids, owner_ids]).df()
