"""SQL for telling plan versions apart: the versions of a kind by content hash and by year."""

from __future__ import annotations

import duckdb
import pandas as pd

VersionRow = tuple[str, str, object, str]
"""name, author, created_at, version_id."""


def version_with_hash(cur: duckdb.DuckDBPyConnection, kind: str, digest: str
                      ) -> VersionRow | None:
    """The oldest `kind` version whose content hash is `digest`, or None."""
    return cur.execute(
        """SELECT name, author, created_at, version_id FROM plan_versions
           WHERE kind = ? AND content_hash = ? ORDER BY created_at LIMIT 1""",
        [kind, digest]).fetchone()


def versions_of_year(cur: duckdb.DuckDBPyConnection, kind: str, fiscal_year: int | None
                     ) -> list[VersionRow]:
    """Every `kind` version of a fiscal year (None: those without one), oldest first."""
    return cur.execute(
        """SELECT name, author, created_at, version_id FROM plan_versions
           WHERE kind = ? AND fiscal_year IS NOT DISTINCT FROM ? ORDER BY created_at""",
        [kind, fiscal_year]).fetchall()


def compare_places(cur: duckdb.DuckDBPyConnection, with_accounts: bool
                   ) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Reps (rep_id, name, team, region, capacity, segment) and, when asked, accounts
    (subject, account, lat, lon), as a comparison names and maps them."""
    reps = cur.execute("SELECT rep_id, name, team, region, capacity, segment FROM reps").df()
    places = (cur.execute("SELECT account_id AS subject, name AS account, lat, lon "
                          "FROM accounts").df() if with_accounts else None)
    return reps, places
