"""SQL of CPQ quotes: the row of each saved quote version (its lineage and the catalog and
price book versions it was priced with), the account a quote is for, the approvals of a quote
version and its syncs to the CRM."""

from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd

QUOTE_COLUMNS = ("version_id", "quote_id", "version_no", "account_id", "seller", "seller_role",
                 "segment", "region", "currency", "catalog_version", "price_book_id",
                 "price_book_version", "priced_on", "list_cents", "net_cents", "cost_cents",
                 "created_by", "created_at")


def _row(cur: duckdb.DuckDBPyConnection) -> dict | None:
    row = cur.fetchone()
    if row is None:
        return None
    return dict(zip([d[0] for d in cur.description], row, strict=True))


def account(cur: duckdb.DuckDBPyConnection, account_id: str) -> dict | None:
    """An account's id, name, segment and owner rep id, or None when there is none."""
    cur.execute("SELECT account_id, name, segment, owner_id FROM accounts WHERE account_id = ?",
                [account_id])
    return _row(cur)


def insert_quote_version(cur: duckdb.DuckDBPyConnection, row: dict) -> None:
    """Record a saved quote version (columns as QUOTE_COLUMNS), in the caller's transaction."""
    cur.execute(f"INSERT INTO cpq_quote_versions ({', '.join(QUOTE_COLUMNS)}) "
                f"VALUES ({', '.join('?' for _ in QUOTE_COLUMNS)})",
                [row[c] for c in QUOTE_COLUMNS])


def quote_version(cur: duckdb.DuckDBPyConnection, version_id: str) -> dict | None:
    """One quote version's row, or None."""
    cur.execute(f"SELECT {', '.join(QUOTE_COLUMNS)} FROM cpq_quote_versions "
                "WHERE version_id = ?", [version_id])
    return _row(cur)


def latest_quote_version(cur: duckdb.DuckDBPyConnection, quote_id: str) -> dict | None:
    """The newest version of a quote, or None when the quote has none yet."""
    cur.execute(f"SELECT {', '.join(QUOTE_COLUMNS)} FROM cpq_quote_versions "
                "WHERE quote_id = ? ORDER BY version_no DESC LIMIT 1", [quote_id])
    return _row(cur)


def quote_list(cur: duckdb.DuckDBPyConnection, quote_id: str | None,
               account_ids: list[str] | None) -> pd.DataFrame:
    """Quote versions newest first with their status (one quote's with `quote_id`; only of
    `account_ids` unless None)."""
    return cur.execute(
        f"""SELECT {', '.join('q.' + c for c in QUOTE_COLUMNS)}, v.name, v.parent_id, v.status,
                   v.content_hash
            FROM cpq_quote_versions q JOIN plan_versions v USING (version_id)
            WHERE (?::VARCHAR IS NULL OR q.quote_id = ?)
              AND (?::VARCHAR[] IS NULL OR list_contains(?::VARCHAR[], q.account_id))
            ORDER BY q.created_at DESC, q.version_no DESC""",
        [quote_id, quote_id, account_ids, account_ids]).df()


def approved_request(cur: duckdb.DuckDBPyConnection, version_id: str) -> dict | None:
    """The newest approved request of a version (id, content hash, policy version), or None."""
    cur.execute("""SELECT request_id, content_hash, policy_version FROM approval_requests
                   WHERE version_id = ? AND status = 'approved'
                   ORDER BY submitted_at DESC LIMIT 1""", [version_id])
    return _row(cur)


def open_request(cur: duckdb.DuckDBPyConnection, version_id: str) -> str | None:
    """The id of a version's pending request, or None."""
    row = cur.execute("SELECT request_id FROM approval_requests WHERE version_id = ? "
                      "AND status = 'pending'", [version_id]).fetchone()
    return None if row is None else row[0]


def request_steps(cur: duckdb.DuckDBPyConnection, request_id: str) -> pd.DataFrame:
    """The steps of a request in order: step_no, role, reason, status, decided_by,
    decided_at, comment."""
    return cur.execute(
        """SELECT step_no, role, reason, status, decided_by, decided_at, comment
           FROM approval_steps WHERE request_id = ? ORDER BY step_no""", [request_id]).df()


def insert_sync(cur: duckdb.DuckDBPyConnection, *, version_id: str, batch_id: str,
                content_hash: str, evidence_json: str, synced_by: str,
                synced_at: dt.datetime) -> None:
    """Record a sync of a quote version to the CRM with its evidence."""
    cur.execute("INSERT INTO cpq_quote_syncs VALUES (?, ?, ?, ?, ?, ?)",
                [version_id, batch_id, content_hash, evidence_json, synced_by, synced_at])


def syncs(cur: duckdb.DuckDBPyConnection, version_id: str) -> pd.DataFrame:
    """A quote version's syncs, oldest first."""
    return cur.execute("SELECT * FROM cpq_quote_syncs WHERE version_id = ? ORDER BY synced_at",
                       [version_id]).df()
