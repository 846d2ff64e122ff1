"""SQL of the audit chain: the tail, appends, the head anchor and reads for filters and export."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import duckdb
import pandas as pd

AUDIT_COLUMNS = (
    "seq", "occurred_at", "actor", "actor_role", "action", "entity", "entity_id",
    "before_json", "after_json", "reason", "prev_hash", "hash",
)
HEAD_SEQ_KEY = "audit_head_seq"
HEAD_HASH_KEY = "audit_head_hash"


def chain_tail(cur: duckdb.DuckDBPyConnection) -> tuple[int, str] | None:
    """The last event's sequence number and hash, or None for an empty chain."""
    row = cur.execute("SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1").fetchone()
    return (int(row[0]), row[1]) if row else None


def append_event(cur: duckdb.DuckDBPyConnection, values: dict[str, object]) -> None:
    """Insert one event row and move the recorded chain head to it."""
    cur.execute(
        f"INSERT INTO audit_events ({', '.join(AUDIT_COLUMNS)}) "
        f"VALUES ({', '.join('?' for _ in AUDIT_COLUMNS)})",
        [values[c] for c in AUDIT_COLUMNS],
    )
    cur.executemany(
        "INSERT OR REPLACE INTO workspace_settings VALUES (?, ?)",
        [[HEAD_SEQ_KEY, str(values["seq"])], [HEAD_HASH_KEY, str(values["hash"])]],
    )


def recorded_head(cur: duckdb.DuckDBPyConnection) -> tuple[int, str] | None:
    """The chain head recorded beside the chain (catches deletion of the newest events)."""
    rows = dict(cur.execute(
        "SELECT key, value FROM workspace_settings WHERE key IN (?, ?)",
        [HEAD_SEQ_KEY, HEAD_HASH_KEY],
    ).fetchall())
    if HEAD_SEQ_KEY not in rows:
        return None
    return int(rows[HEAD_SEQ_KEY]), rows.get(HEAD_HASH_KEY, "")


def event_time(cur: duckdb.DuckDBPyConnection, seq: int) -> dt.datetime | None:
    """When event `seq` was recorded (UTC), or None when there is no such event."""
    row = cur.execute("SELECT occurred_at FROM audit_events WHERE seq = ?", [seq]).fetchone()
    return row[0] if row else None


def iter_events(cur: duckdb.DuckDBPyConnection, batch: int = 10_000) -> Iterator[tuple]:
    """Every event in sequence order, as tuples in AUDIT_COLUMNS order."""
    cur.execute(f"SELECT {', '.join(AUDIT_COLUMNS)} FROM audit_events ORDER BY seq")
    while rows := cur.fetchmany(batch):
        yield from rows


def filtered_events(
    cur: duckdb.DuckDBPyConnection,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    actor: str | None = None,
    action: str | None = None,
    entity: str | None = None,
    text: str | None = None,
    limit: int | None = None,
) -> pd.DataFrame:
    """Events matching every given filter, newest first."""
    conditions = [
        ("occurred_at >= ?", since),
        ("occurred_at < ?", until),
        ("lower(trim(actor)) = lower(trim(?))", actor or None),
        ("action = ?", action or None),
        ("entity = ?", entity or None),
        ("(coalesce(entity_id, '') || ' ' || coalesce(reason, '') || ' ' || "
         "coalesce(before_json, '') || ' ' || coalesce(after_json, '')) ILIKE ?",
         f"%{text}%" if text else None),
    ]
    clauses = [sql for sql, value in conditions if value is not None]
    params: list[object] = [value for _, value in conditions if value is not None]
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    limit_sql = "LIMIT ?" if limit else ""
    if limit:
        params.append(limit)
    return cur.execute(
        f"SELECT {', '.join(AUDIT_COLUMNS)} FROM audit_events {where} "
        f"ORDER BY seq DESC {limit_sql}",
        params,
    ).df()


def distinct_values(cur: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    """The actors, actions and entities present, for filter pickers."""
    return {
        column: [r[0] for r in cur.execute(
            f"SELECT DISTINCT {column} FROM audit_events WHERE {column} IS NOT NULL ORDER BY 1"
        ).fetchall()]
        for column in ("actor", "action", "entity")
    }
