"""Facts about the workspace tables shared by repositories: names, row counts, fingerprints."""

from __future__ import annotations

from planning.store.workspace import Workspace

CRM_TABLES: tuple[str, ...] = (
    "reps", "accounts", "geo_units", "opportunities", "opportunity_history", "activities",
    "products", "price_books", "price_book_entries", "subscriptions", "usage", "tickets",
    "invoices",
)
"""The CRM mirror, loaded by imports and the demo generator."""

LOAD_STAMPED_TABLES: frozenset[str] = frozenset(CRM_TABLES) - {
    "geo_units", "price_book_entries"
}
"""Tables whose rows carry a `loaded_at` time, which says when, not what, and is not content."""


def _known(table: str) -> str:
    if table not in CRM_TABLES:
        raise ValueError(f"Unknown table {table!r}.")
    return table


def row_counts(workspace: Workspace, tables: tuple[str, ...] = CRM_TABLES) -> dict[str, int]:
    """Rows per table."""
    def count(cur) -> dict[str, int]:
        return {
            t: cur.execute(f"SELECT count(*) FROM {_known(t)}").fetchone()[0] for t in tables
        }

    return workspace.read(count)


def table_fingerprints(
    workspace: Workspace, tables: tuple[str, ...] = CRM_TABLES
) -> dict[str, str]:
    """An MD5 over every row's content per table, independent of physical row order.

    Two workspaces with the same fingerprints hold the same data (load times aside).
    """
    def fingerprint(cur) -> dict[str, str]:
        result = {}
        for table in tables:
            exclude = " EXCLUDE (loaded_at)" if table in LOAD_STAMPED_TABLES else ""
            result[table] = cur.execute(
                "SELECT coalesce(md5(string_agg(r, chr(10) ORDER BY r)), '') FROM "
                f"(SELECT CAST(s AS VARCHAR) AS r FROM (SELECT *{exclude} FROM {_known(table)}) s)"
            ).fetchone()[0]
        return result

    return workspace.read(fingerprint)
