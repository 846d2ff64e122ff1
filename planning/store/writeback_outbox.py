"""SQL of publishing to the CRM: the field changes a plan makes, the outbox items and batches a
publish queues (delivering them is store/webhook_delivery.py)."""

from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd

OutboxRow = tuple[str, str, int, str, str, str, str | None, str | None]
"""idempotency_key, batch_id, sequence, object, record_id, field, old_value, new_value."""


def territory_owner_changes(cur: duckdb.DuckDBPyConnection,
                            items: pd.DataFrame) -> pd.DataFrame:
    """The owner changes a territory plan (items: subject = account id, assignee = rep id)
    makes: every account whose owner differs, then the open deals of those accounts whose
    owner differs, each by record id (object, record_id, field, old_value, new_value)."""
    cur.register("plan_items", items[["subject", "assignee"]])
    try:
        return cur.execute(
            """SELECT 'Account' AS object, a.account_id AS record_id, 'OwnerId' AS field,
                      a.owner_id AS old_value, p.assignee AS new_value, 0 AS kind_order
               FROM plan_items p JOIN accounts a ON a.account_id = p.subject
               WHERE a.owner_id IS DISTINCT FROM p.assignee
               UNION ALL
               SELECT 'Opportunity', o.opportunity_id, 'OwnerId', o.owner_id, p.assignee, 1
               FROM plan_items p
               JOIN accounts a ON a.account_id = p.subject
               JOIN opportunities o ON o.account_id = p.subject
               WHERE a.owner_id IS DISTINCT FROM p.assignee
                 AND o.status = 'open' AND o.owner_id IS DISTINCT FROM p.assignee
               ORDER BY kind_order, record_id""").df().drop(columns="kind_order")
    finally:
        cur.unregister("plan_items")


def crm_quotas(cur: duckdb.DuckDBPyConnection, fiscal_year: int) -> pd.Series:
    """The CRM's quota (cents) of each rep for a fiscal year, by rep id."""
    return cur.execute("SELECT rep_id, quota_cents FROM rep_quotas WHERE fiscal_year = ?",
                       [fiscal_year]).df().set_index("rep_id")["quota_cents"]


def queued_keys(cur: duckdb.DuckDBPyConnection, keys: list[str]) -> set[str]:
    """Those of the idempotency keys already in the outbox."""
    return {k for (k,) in cur.execute(
        "SELECT idempotency_key FROM writeback_outbox WHERE idempotency_key IN "
        "(SELECT UNNEST(?::VARCHAR[]))", [keys]).fetchall()}


def last_sequence(cur: duckdb.DuckDBPyConnection) -> int:
    """The highest outbox sequence number so far (0 for an empty outbox)."""
    return int(cur.execute("SELECT coalesce(max(sequence), 0) FROM writeback_outbox"
                           ).fetchone()[0])


def insert_items(cur: duckdb.DuckDBPyConnection, rows: list[OutboxRow]) -> None:
    """Queue outbox items as pending, in one statement."""
    cur.executemany(
        """INSERT INTO writeback_outbox (idempotency_key, batch_id, sequence, object,
               record_id, field, old_value, new_value, status)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending')""", rows)


def insert_batch(cur: duckdb.DuckDBPyConnection, *, batch_id: str, version_id: str,
                 content_hash: str, published_by: str, published_at: dt.datetime,
                 items: int) -> None:
    """Record a publish batch: which version content it queued, who, when, how many items."""
    cur.execute("INSERT INTO writeback_batches VALUES (?, ?, ?, ?, ?, ?)",
                [batch_id, version_id, content_hash, published_by, published_at, items])


def outbox_items(cur: duckdb.DuckDBPyConnection, batch_id: str | None) -> pd.DataFrame:
    """Outbox items in delivery order (one batch's, or all with None)."""
    return cur.execute(
        """SELECT * FROM writeback_outbox WHERE ?::VARCHAR IS NULL OR batch_id = ?
           ORDER BY sequence""", [batch_id, batch_id]).df()
