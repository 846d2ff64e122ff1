"""The audit trail: append-only events, each carrying the SHA-256 of the one before.

`record` is called with the cursor of the transaction that makes the change, so the change and
its event commit or roll back together. Audited writes in one process are serialised by the
workspace's write lock, and DuckDB lets only one process write a file, so the chain has one tail.
`verify_chain` recomputes every hash and names the first event that does not fit.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

import duckdb
import pandas as pd

from auth.users import canonical_email
from planning.store import audit_log
from planning.store.workspace import Workspace

GENESIS_HASH = "0" * 64


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def to_json(value: Any) -> str | None:
    """Canonical JSON (sorted keys, no spaces) of a before/after value, or None."""
    if value is None:
        return None
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def event_hash(prev_hash: str, fields: dict[str, object]) -> str:
    """SHA-256 over the previous hash and the event's content in canonical form."""
    content = {k: v for k, v in fields.items() if k not in ("prev_hash", "hash")}
    content["occurred_at"] = _timestamp_text(content["occurred_at"])
    payload = prev_hash + "\n" + json.dumps(content, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _timestamp_text(value: object) -> str:
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None).isoformat(timespec="microseconds")
    return str(value)


@dataclass(frozen=True)
class AuditEvent:
    """One recorded event."""

    seq: int
    occurred_at: dt.datetime
    actor: str
    actor_role: str | None
    action: str
    entity: str
    entity_id: str | None
    before_json: str | None
    after_json: str | None
    reason: str | None
    prev_hash: str
    hash: str


def record(
    cur: duckdb.DuckDBPyConnection,
    *,
    actor: str,
    action: str,
    entity: str,
    entity_id: str | None = None,
    before: Any = None,
    after: Any = None,
    reason: str | None = None,
    actor_role: str | None = None,
) -> AuditEvent:
    """Append an event inside the caller's transaction (use the cursor given to `write`)."""
    tail = audit_log.chain_tail(cur)
    seq, prev_hash = (tail[0] + 1, tail[1]) if tail else (1, GENESIS_HASH)
    fields: dict[str, object] = {
        "seq": seq,
        "occurred_at": _now(),
        "actor": canonical_email(actor),
        "actor_role": actor_role,
        "action": action,
        "entity": entity,
        "entity_id": None if entity_id is None else str(entity_id),
        "before_json": to_json(before),
        "after_json": to_json(after),
        "reason": reason,
        "prev_hash": prev_hash,
    }
    fields["hash"] = event_hash(prev_hash, fields)
    audit_log.append_event(cur, fields)
    return AuditEvent(**fields)  # type: ignore[arg-type]


@dataclass(frozen=True)
class ChainVerification:
    """The outcome of recomputing the chain."""

    events: int
    first_broken_seq: int | None
    problem: str | None

    @property
    def ok(self) -> bool:
        """True when every event fits the chain."""
        return self.first_broken_seq is None and self.problem is None

    def to_text(self) -> str:
        """One line for people."""
        if self.ok:
            noun = "event" if self.events == 1 else "events"
            return f"Audit chain intact: {self.events:,} {noun} verified."
        where = f"event #{self.first_broken_seq}" if self.first_broken_seq else "the chain head"
        return f"Audit chain BROKEN at {where}: {self.problem}"


def verify_chain(workspace: Workspace) -> ChainVerification:
    """Recompute every hash in order; report the first event that was changed, removed or moved."""
    def verify(cur: duckdb.DuckDBPyConnection) -> ChainVerification:
        expected_seq, prev_hash, count = 1, GENESIS_HASH, 0
        for row in audit_log.iter_events(cur):
            fields = dict(zip(audit_log.AUDIT_COLUMNS, row, strict=True))
            seq = int(fields["seq"])
            if seq != expected_seq:
                return ChainVerification(
                    count, seq,
                    f"expected event #{expected_seq} next but found #{seq}: "
                    f"event(s) #{expected_seq}..#{seq - 1} were removed",
                )
            if fields["prev_hash"] != prev_hash:
                return ChainVerification(
                    count, seq, f"its previous-hash does not match event #{seq - 1}"
                )
            if event_hash(prev_hash, fields) != fields["hash"]:
                return ChainVerification(
                    count, seq, "its content does not match its hash (the row was changed)"
                )
            prev_hash, expected_seq, count = fields["hash"], seq + 1, count + 1
        head = audit_log.recorded_head(cur)
        if head is not None and (head[0] != expected_seq - 1 or head[1] != prev_hash):
            return ChainVerification(
                count, None,
                f"the chain ends at event #{expected_seq - 1} but the recorded head is event "
                f"#{head[0]}: the newest events were removed or replaced",
            )
        if head is None and count:
            return ChainVerification(count, None, "the recorded chain head is missing")
        return ChainVerification(count, None, None)

    return workspace.read_snapshot(verify)


def audit_events(
    workspace: Workspace,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    actor: str | None = None,
    action: str | None = None,
    entity: str | None = None,
    text: str | None = None,
    limit: int | None = 5_000,
) -> pd.DataFrame:
    """Events matching the filters, newest first (for the Audit page and its CSV export)."""
    return workspace.read(
        lambda cur: audit_log.filtered_events(cur, since, until, actor, action, entity, text,
                                              limit)
    )


def audit_filter_values(workspace: Workspace) -> dict[str, list[str]]:
    """Actors, actions and entities present in the trail."""
    return workspace.read(audit_log.distinct_values)
