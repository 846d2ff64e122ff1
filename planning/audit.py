"""The audit trail: append-only events, each carrying the SHA-256 of the one before.

`record` is called with the cursor of the transaction that makes the change, so the change and
its event commit or roll back together. Audited writes in one process are serialised by the
workspace's write lock, and DuckDB lets only one process write a file, so the chain has one tail.
`verify_chain` recomputes every hash and names the first event that does not fit.

The database also records the chain head, but whoever can rewrite the file can move that too.
So each audited write also appends its events' sequence numbers and hashes to an anchor log
outside the database (`planning.store.audit_anchor`): announced before commit, anchored after.
`verify_chain` names the first event missing from the database or differing from its anchor.
Only the newest write may be unanchored, and only when the log shows it was announced (the
process stopped between commit and anchoring); any other unanchored event fails verification.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from planning.access.entry_points import entry_point
from planning.access.policy import Action
from planning.access.users import User, canonical_email
from planning.clock import now_utc
from planning.csv_safety import spreadsheet_csv
from planning.store import audit_anchor, audit_log
from planning.store.workspace import Workspace, current_write_transaction

GENESIS_HASH = "0" * 64
ANCHOR_ACTION = "audit-anchor"
logger = logging.getLogger(__name__)


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
        "occurred_at": now_utc(),
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
    _anchor_after_commit(seq, str(fields["hash"]))
    return AuditEvent(**fields)  # type: ignore[arg-type]


@dataclass
class _AnchorAppend:
    """The anchor lines a write transaction owes once it has committed."""

    path: Path
    entries: list[tuple[int, str]]

    def __call__(self) -> None:
        try:
            audit_anchor.append_entries(self.path, self.entries)
        except audit_anchor.AuditAnchorError as exc:
            logger.error("The change committed but its audit anchor was not written: %s "
                         "`revplan audit verify` will report the unanchored events.", exc)


def _anchor_after_commit(seq: int, digest: str) -> None:
    """Announce the write in the anchor log (before commit: failing here rolls the change
    back) on its first event, and queue every event's anchor line for after the commit."""
    transaction = current_write_transaction()
    if transaction is None:
        return
    pending = transaction.after_commit.get(ANCHOR_ACTION)
    if not isinstance(pending, _AnchorAppend):
        path = audit_anchor.anchor_path(transaction.workspace.path)
        audit_anchor.announce(path, seq)
        pending = _AnchorAppend(path, [])
        transaction.after_commit[ANCHOR_ACTION] = pending
    pending.entries.append((seq, digest))


@dataclass(frozen=True)
class ChainVerification:
    """The outcome of recomputing the chain and comparing it with the anchor log."""

    events: int
    first_broken_seq: int | None
    problem: str | None
    anchored_through: int = 0
    """The newest event the anchor log vouches for (0: none)."""
    note: str | None = None
    """Something accepted but worth knowing (events not yet anchored after a stop)."""

    @property
    def ok(self) -> bool:
        """True when every event fits the chain and the anchor log."""
        return self.first_broken_seq is None and self.problem is None

    def to_text(self) -> str:
        """One line for people."""
        if self.ok:
            noun = "event" if self.events == 1 else "events"
            text = f"Audit chain intact: {self.events:,} {noun} verified"
            if self.anchored_through:
                text += f", anchored through event #{self.anchored_through}"
            return text + (f". {self.note}" if self.note else ".")
        where = f"event #{self.first_broken_seq}" if self.first_broken_seq else "the chain head"
        return f"Audit chain BROKEN at {where}: {self.problem}"


def _check_anchor(anchor: audit_anchor.AnchorLog, count: int,
                  tail_hash: str) -> ChainVerification | None:
    """Compare the end of an intact chain of `count` events with the anchor log."""
    if not anchor.exists:
        if not count:
            return None
        return ChainVerification(
            count, None,
            f"the anchor log {anchor.path} is missing, so removal of the newest events cannot "
            "be ruled out (for a workspace older than anchoring, start one with "
            "`revplan audit anchor --start`)")
    if anchor.last_seq > count:
        return ChainVerification(
            count, count + 1,
            f"it is missing: the anchor log vouches for events up to #{anchor.last_seq} but the "
            f"chain ends at #{count} (the newest events #{count + 1}..#{anchor.last_seq} "
            "were removed)", anchor.last_seq)
    if anchor.last_seq == count or not count:
        return None
    first_unanchored = anchor.last_seq + 1
    if anchor.last_begin == first_unanchored:
        return ChainVerification(
            count, None, None, anchor.last_seq,
            f"Events #{first_unanchored}..#{count} are the last write's, which stopped between "
            "its commit and its anchor line; they chain onto the anchored events.")
    return ChainVerification(
        count, first_unanchored,
        f"events #{first_unanchored}..#{count} are not in the anchor log: they were added "
        "without the application (or the anchor log was replaced); the chain ends at "
        f"{tail_hash[:12]}…", anchor.last_seq)


def verify_chain(workspace: Workspace) -> ChainVerification:
    """Recompute every hash in order and compare with the anchor log; report the first event
    that was changed, removed or moved, or added or removed at the end."""
    def verify(cur: duckdb.DuckDBPyConnection) -> ChainVerification:
        try:
            anchor = audit_anchor.read_anchor(audit_anchor.anchor_path(workspace.path))
        except audit_anchor.AuditAnchorError as exc:
            return ChainVerification(0, None, str(exc))
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
            anchored = anchor.entries.get(seq)
            if anchored is not None and anchored != fields["hash"]:
                return ChainVerification(
                    count, seq,
                    f"its hash differs from the one the anchor log recorded for it "
                    f"({anchored[:12]}…): the event was altered and the chain recomputed",
                    anchor.last_seq)
            prev_hash, expected_seq, count = fields["hash"], seq + 1, count + 1
        anchored_problem = _check_anchor(anchor, count, prev_hash)
        if anchored_problem is not None and not anchored_problem.ok:
            return anchored_problem
        head = audit_log.recorded_head(cur)
        if head is not None and (head[0] != expected_seq - 1 or head[1] != prev_hash):
            return ChainVerification(
                count, None,
                f"the chain ends at event #{expected_seq - 1} but the recorded head is event "
                f"#{head[0]}: the newest events were removed or replaced",
            )
        if head is None and count:
            return ChainVerification(count, None, "the recorded chain head is missing")
        return anchored_problem or ChainVerification(count, None, None, anchor.last_seq)

    with workspace.write_lock:
        return workspace.read_snapshot(verify)


@dataclass(frozen=True)
class AuditHead:
    """The newest event of a workspace's chain, for an external witness."""

    workspace: str
    seq: int
    hash: str
    occurred_at: dt.datetime | None
    anchor_path: Path
    anchored_through: int

    def to_text(self) -> str:
        """One line to paste into a ticket, an email or a timestamping request."""
        when = _timestamp_text(self.occurred_at) if self.occurred_at else "-"
        return (f"revplan audit head: workspace={self.workspace} seq={self.seq} "
                f"sha256={self.hash} occurred_at={when}Z")


def audit_head(workspace: Workspace) -> AuditHead:
    """The chain's newest event and how far the anchor log vouches for it."""
    def read(cur: duckdb.DuckDBPyConnection) -> AuditHead:
        tail = audit_log.chain_tail(cur)
        seq, digest = tail if tail else (0, GENESIS_HASH)
        occurred = audit_log.event_time(cur, seq) if tail else None
        path = audit_anchor.anchor_path(workspace.path)
        return AuditHead(workspace.name, seq, digest, occurred, path,
                         audit_anchor.read_anchor(path).last_seq)

    with workspace.write_lock:
        return workspace.read_snapshot(read)


def start_anchor(workspace: Workspace) -> AuditHead:
    """Begin the anchor log of a workspace that has none (one older than anchoring) at its
    current head; refused when a log exists, since restarting it would hide a truncation."""
    with workspace.write_lock:
        head = audit_head(workspace)
        if head.anchor_path.exists():
            raise audit_anchor.AuditAnchorError(
                f"The anchor log {head.anchor_path} already exists; it is only ever appended "
                "to. Run `revplan audit verify` to compare it with the database.")
        audit_anchor.append_entries(head.anchor_path, [(head.seq, head.hash)] if head.seq
                                    else [])
        return audit_head(workspace)


@entry_point(Action.READ_AUDIT)
def audit_events(
    workspace: Workspace,
    user: User,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    actor: str | None = None,
    action: str | None = None,
    entity: str | None = None,
    text: str | None = None,
    limit: int | None = 5_000,
) -> pd.DataFrame:
    """Events matching the filters, newest first (for the Audit page and its CSV export), as
    `user` (an admin or RevOps person, or the system principal) may read them."""
    return workspace.read(
        lambda cur: audit_log.filtered_events(cur, since, until, actor, action, entity, text,
                                              limit)
    )


@entry_point(Action.EXPORT_AUDIT)
def audit_export_csv(workspace: Workspace, user: User, events: pd.DataFrame) -> str:
    """Events read by `audit_events` as a CSV a spreadsheet opens safely, every column
    included (hashes too, so the chain can be checked elsewhere); only for `user`s who may
    export the audit trail."""
    return spreadsheet_csv(events)


def audit_filter_values(workspace: Workspace) -> dict[str, list[str]]:
    """Actors, actions and entities present in the trail."""
    return workspace.read(audit_log.distinct_values)
