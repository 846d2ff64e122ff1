"""SQL of webhook delivery: the per-workspace delivery lease and the outbox item states.

One deliverer per workspace at a time: the lease names its holder and lapses at its expiry (a
deliverer that died frees it then); the holder renews it in every transaction it makes. An item
being posted is marked 'sending', so a stop in the middle of a call shows and is sent again.

Every function takes the cursor of the caller's write transaction, so taking the lease, picking
the next item and recording an attempt each commit or roll back with their audit event.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

import duckdb

WEBHOOK_CHANNEL = "webhook"
LEASE_KEY_PREFIX = "writeback.delivery_lease."
"""Workspace setting holding a channel's lease as JSON: owner, acquired_at, expires_at (UTC).
One row per channel, so taking it is one read-modify-write in the caller's transaction."""
WAITING_STATUSES = ("pending", "failed", "sending")
"""Items a deliverer still owes: never sent, refused, or interrupted while being posted."""


@dataclass(frozen=True)
class LeaseHolder:
    """Who holds a delivery lease and until when."""

    owner: str
    acquired_at: dt.datetime
    expires_at: dt.datetime


def _lease_key(channel: str) -> str:
    return f"{LEASE_KEY_PREFIX}{channel}"


def lease_holder(cur: duckdb.DuckDBPyConnection, channel: str) -> LeaseHolder | None:
    """The current holder of the channel's lease, expired or not, or None."""
    row = cur.execute("SELECT value FROM workspace_settings WHERE key = ?",
                      [_lease_key(channel)]).fetchone()
    if row is None:
        return None
    lease = json.loads(row[0])
    return LeaseHolder(lease["owner"], dt.datetime.fromisoformat(lease["acquired_at"]),
                       dt.datetime.fromisoformat(lease["expires_at"]))


def take_lease(cur: duckdb.DuckDBPyConnection, channel: str, owner: str, now: dt.datetime,
               expires_at: dt.datetime) -> LeaseHolder | None:
    """Take or renew the lease for `owner` unless someone else holds it unexpired; return that
    other holder when refused, else None."""
    holder = lease_holder(cur, channel)
    if holder is not None and holder.owner != owner and holder.expires_at > now:
        return holder
    acquired = holder.acquired_at if holder is not None and holder.owner == owner else now
    value = json.dumps({"owner": owner, "acquired_at": acquired.isoformat(),
                        "expires_at": expires_at.isoformat()}, sort_keys=True)
    cur.execute("INSERT OR REPLACE INTO workspace_settings VALUES (?, ?)",
                [_lease_key(channel), value])
    return None


def release_lease(cur: duckdb.DuckDBPyConnection, channel: str, owner: str) -> None:
    """Give the lease up if `owner` still holds it."""
    holder = lease_holder(cur, channel)
    if holder is not None and holder.owner == owner:
        cur.execute("DELETE FROM workspace_settings WHERE key = ?", [_lease_key(channel)])


def next_waiting_item(cur: duckdb.DuckDBPyConnection) -> dict | None:
    """The waiting outbox item with the lowest sequence number, as a dict, or None."""
    cur.execute(
        "SELECT * FROM writeback_outbox WHERE status IN (?, ?, ?) ORDER BY sequence LIMIT 1",
        list(WAITING_STATUSES))
    row = cur.fetchone()
    if row is None:
        return None
    return dict(zip([d[0] for d in cur.description], row, strict=True))


def count_waiting(cur: duckdb.DuckDBPyConnection) -> int:
    """How many outbox items are not delivered yet."""
    return int(cur.execute("SELECT count(*) FROM writeback_outbox WHERE status IN (?, ?, ?)",
                           list(WAITING_STATUSES)).fetchone()[0])


def mark_sending(cur: duckdb.DuckDBPyConnection, key: str) -> None:
    """Mark an item as being posted now."""
    cur.execute("UPDATE writeback_outbox SET status = 'sending' WHERE idempotency_key = ?",
                [key])


def record_delivered(cur: duckdb.DuckDBPyConnection, key: str, now: dt.datetime) -> None:
    """The receiver accepted the item."""
    cur.execute("""UPDATE writeback_outbox SET status = 'delivered', attempts = attempts + 1,
                   last_error = NULL, delivered_at = ? WHERE idempotency_key = ?""", [now, key])


def record_failed(cur: duckdb.DuckDBPyConnection, key: str, error: str) -> None:
    """The receiver refused the item or could not be reached."""
    cur.execute("""UPDATE writeback_outbox SET status = 'failed', attempts = attempts + 1,
                   last_error = ? WHERE idempotency_key = ?""", [error, key])
