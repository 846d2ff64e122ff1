"""CRM-safe writeback: publish an approved version as a batch of field changes in an outbox,
then deliver them as Data Loader CSV files or signed webhook calls, each exactly once.

Publishing re-verifies the version's hash, diffs it against the CRM state in the workspace
(account and open-opportunity owners for territories, quota records for quotas), checks the
publisher may write every field touched, and inserts one outbox item per record and field with
an idempotency key (SHA-256 of version hash, object, record, field and new value): publishing
the same content again inserts nothing new. Delivery goes in sequence order; an item is marked
delivered only after the receiver accepted it, and a failed item is retried with backoff and
stays visible (failed, with its error) while it keeps failing. One deliverer at a time holds
the workspace's delivery lease, so concurrent Deliver presses never send an item twice; every
attempt is audited with its outcome.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
import socket
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import duckdb
import pandas as pd

from planning import audit
from planning.access.entry_points import entry_point
from planning.access.policy import Action, can
from planning.access.users import User
from planning.background import BackgroundTask, start_task
from planning.clock import now_utc
from planning.csv_safety import spreadsheet_rows_csv
from planning.errors import RevPlanError
from planning.progress import ProgressCallback, no_progress
from planning.store import Workspace
from planning.store import approvals as approvals_repo
from planning.store import plan_versions as version_queries
from planning.store import webhook_delivery as delivery_repo
from planning.store import writeback_outbox as outbox_repo
from planning.versions import read_items, set_status, verify_version

SIGNATURE_HEADER = "X-RevPlan-Signature"
CHANGE_COLUMNS = ["object", "record_id", "field", "old_value", "new_value"]
FIELD_NAMES: dict[tuple[str, str], str] = {
    ("Account", "OwnerId"): "Account owner",
    ("Opportunity", "OwnerId"): "Opportunity owner",
    ("Quota", "QuotaAmount"): "Annual quota",
}
"""What each CRM field is, in words, for the dry run."""
PUBLISH_CHUNK = 500
"""Outbox rows inserted per statement while publishing (and per progress report)."""


def _role_of(user: User) -> str | None:
    return user.primary_role.value if user.primary_role else None


def _quota_changes(cur: duckdb.DuckDBPyConnection, items: pd.DataFrame,
                   fiscal_year: int) -> pd.DataFrame:
    current = outbox_repo.crm_quotas(cur, fiscal_year)
    rows = []
    for subject, cents in zip(items["subject"], items["amount_cents"], strict=True):
        old = current.get(subject)
        if old is None or int(old) != int(cents):
            rows.append({"object": "Quota", "record_id": f"{subject}-FY{fiscal_year}",
                         "field": "QuotaAmount",
                         "old_value": None if old is None else f"{int(old) / 100:.2f}",
                         "new_value": f"{int(cents) / 100:.2f}"})
    return pd.DataFrame(rows, columns=CHANGE_COLUMNS)


def planned_changes(cur: duckdb.DuckDBPyConnection, version_id: str) -> pd.DataFrame:
    """The field changes publishing `version_id` would make, in delivery order."""
    version = verify_version(cur, version_id)
    if version.kind == "quote":
        raise RevPlanError(f"{version.name} is a quote: an approved quote goes to the CRM with "
                           "planning.cpq.quotes.sync_approved_quote (the Quote page).")
    items = read_items(cur, version_id)
    if version.kind == "territory":
        return outbox_repo.territory_owner_changes(cur, items)
    if version.fiscal_year is None:
        raise RevPlanError(f"Quota version {version_id} has no fiscal year.")
    return _quota_changes(cur, items, version.fiscal_year)


def preview(workspace: Workspace, version_id: str) -> pd.DataFrame:
    """Dry run: the exact changes a publish would send, nothing written; `queued` marks the
    ones already in the outbox (publishing again would not send them twice)."""

    def read(cur) -> pd.DataFrame:
        changes = planned_changes(cur, version_id)
        digest = verify_version(cur, version_id).content_hash
        keys = [idempotency_key(digest, change) for change in changes.to_dict("records")]
        queued = outbox_repo.queued_keys(cur, keys)
        return changes.assign(queued=[key in queued for key in keys])

    return workspace.read_snapshot(read)


def named_preview(workspace: Workspace, version_id: str) -> pd.DataFrame:
    """The dry run with names next to ids: the record's name (account, deal or rep), the
    field in words and the old and new owner's name."""
    changes = preview(workspace, version_id)

    def read(cur) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
        owners = {v for o, f, old, new in zip(changes["object"], changes["field"],
                                              changes["old_value"], changes["new_value"],
                                              strict=True)
                  if f == "OwnerId" for v in (old, new) if isinstance(v, str)}
        quota_reps = {r.rsplit("-FY", 1)[0] for o, r in zip(changes["object"],
                                                            changes["record_id"], strict=True)
                      if o == "Quota"}
        reps = approvals_repo.rep_names(cur, sorted(owners | quota_reps))
        accounts = approvals_repo.account_names_and_revenue(
            cur, changes.loc[changes["object"] == "Account", "record_id"].tolist())
        account_names = dict(zip(accounts["account_id"], accounts["name"], strict=True))
        deals = approvals_repo.opportunity_names(
            cur, changes.loc[changes["object"] == "Opportunity", "record_id"].tolist())
        return account_names, deals, reps

    account_names, deals, reps = workspace.read(read)

    def record_name(obj: str, record_id: str) -> str | None:
        if obj == "Account":
            return account_names.get(record_id)
        if obj == "Opportunity":
            return deals.get(record_id)
        return reps.get(record_id.rsplit("-FY", 1)[0])

    def owner_name(field: str, value: object) -> str | None:
        return reps.get(value) if field == "OwnerId" and isinstance(value, str) else None

    named = changes.assign(
        record_name=[record_name(o, r) for o, r in zip(changes["object"], changes["record_id"],
                                                        strict=True)],
        field_name=[FIELD_NAMES.get((o, f), f) for o, f in zip(changes["object"],
                                                              changes["field"], strict=True)],
        old_name=[owner_name(f, v) for f, v in zip(changes["field"], changes["old_value"],
                                                   strict=True)],
        new_name=[owner_name(f, v) for f, v in zip(changes["field"], changes["new_value"],
                                                   strict=True)])
    return named[["object", "record_name", "record_id", "field_name", "field", "old_name",
                  "old_value", "new_name", "new_value", "queued"]]


def idempotency_key(content_hash: str, change: dict) -> str:
    text = "\n".join([content_hash, change["object"], change["record_id"], change["field"],
                      str(change["new_value"])])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class PublishResult:
    """A publish: its batch, how many changes were new, how many were already in the outbox."""

    batch_id: str | None
    """None when every change was already in the outbox (nothing new to send)."""
    new_items: int
    already_queued: int
    superseded: tuple[str, ...]


@entry_point(Action.PUBLISH_VERSION)
def publish(workspace: Workspace, version_id: str, user: User,
            progress: ProgressCallback = no_progress) -> PublishResult:
    """Publish an approved version: outbox items for every change (audited); `progress`
    hears the share of changes queued so far. Each changed CRM field is checked against
    the policy's field rows (`Action.WRITE_FIELD`)."""

    def write(cur) -> PublishResult:
        version = verify_version(cur, version_id)
        if version.status not in ("approved", "published"):
            raise RevPlanError(f"Version {version_id} is {version.status}; only an approved "
                               "version can be published.")
        if not approvals_repo.has_approval(cur, version_id, version.content_hash):
            raise RevPlanError(f"Version {version_id} has no approval of its current content.")
        changes = planned_changes(cur, version_id)
        fields = set(zip(changes["object"], changes["field"], strict=True))
        refused = sorted(f"{o}.{f}" for o, f in fields
                         if not can(user, Action.WRITE_FIELD, f"{o}.{f}"))
        if refused:
            raise RevPlanError(f"Your roles may not write {', '.join(refused)}; ask RevOps to "
                               "publish.")
        batch_id = f"batch-{now_utc():%Y%m%d-%H%M%S%f}"
        start = outbox_repo.last_sequence(cur)
        records = changes.to_dict("records")
        keys = [idempotency_key(version.content_hash, change) for change in records]
        existing = outbox_repo.queued_keys(cur, keys)
        rows: list[outbox_repo.OutboxRow] = []
        for key, change in zip(keys, records, strict=True):
            if key in existing:
                continue
            existing.add(key)
            rows.append((key, batch_id, start + len(rows) + 1, change["object"],
                         change["record_id"], change["field"], change["old_value"],
                         change["new_value"]))
        new = len(rows)
        progress(0.0, f"queuing {new:,} change(s)")
        for first in range(0, new, PUBLISH_CHUNK):
            outbox_repo.insert_items(cur, rows[first:first + PUBLISH_CHUNK])
            done = min(first + PUBLISH_CHUNK, new)
            progress(done / new * 0.95, f"queued {done:,} of {new:,} change(s)")
        if new:
            outbox_repo.insert_batch(cur, batch_id=batch_id, version_id=version_id,
                                     content_hash=version.content_hash,
                                     published_by=user.email, published_at=now_utc(),
                                     items=new)
        superseded = version_queries.other_published(cur, version.kind, version.fiscal_year,
                                                     version_id)
        for old in superseded:
            set_status(cur, old, "superseded", actor=user.email, actor_role=_role_of(user),
                       reason=f"superseded by {version_id}")
        if version.status != "published":
            set_status(cur, version_id, "published", actor=user.email,
                       actor_role=_role_of(user))
        audit.record(cur, actor=user.email, actor_role=_role_of(user),
                     action="writeback.publish", entity="plan_version", entity_id=version_id,
                     after={"batch_id": batch_id if new else None,
                            "content_hash": version.content_hash,
                            "new_items": new, "already_queued": len(changes) - new,
                            "superseded": list(superseded)})
        progress(1.0, f"done: {new:,} new change(s) queued")
        return PublishResult(batch_id=batch_id if new else None, new_items=new,
                             already_queued=len(changes) - new, superseded=superseded)

    return workspace.write(write)



PUBLISH_TASK = "publish"
"""The kind of a publish's background task (`planning.background`)."""


def publish_in_background(workspace: Workspace, version_id: str, user: User) -> BackgroundTask:
    """Start `publish` in a background thread of the app (a large plan queues thousands of
    changes); the person's publish already running is returned instead of a second one. A
    page follows it with `planning.background.current_task(workspace, user.email,
    PUBLISH_TASK)`."""
    return start_task(workspace, user.email, PUBLISH_TASK,
                      lambda progress: publish(workspace, version_id, user, progress=progress))

def outbox(workspace: Workspace, batch_id: str | None = None) -> pd.DataFrame:
    """Outbox items in delivery order (one batch's when given)."""
    return workspace.read(lambda cur: outbox_repo.outbox_items(cur, batch_id))


@entry_point(Action.EXPORT_WRITEBACK)
def data_loader_csv(workspace: Workspace, batch_id: str, object_name: str, user: User) -> str:
    """A Salesforce Data Loader / Bulk API update file for one object of a batch
    (`Id,<Field>`; quota rows carry the rep and fiscal year in the Id)."""
    items = outbox(workspace, batch_id)
    items = items[items["object"] == object_name]
    if items.empty:
        return ""
    fields = sorted(items["field"].unique())
    wide = items.pivot_table(index="record_id", columns="field", values="new_value",
                             aggfunc="last").reindex(columns=fields)
    rows = [[record_id, *["" if pd.isna(v) else v for v in row]]
            for record_id, row in wide.iterrows()]
    return spreadsheet_rows_csv([["Id", *fields], *rows])


def signature(secret: str, body: bytes) -> str:
    """The webhook signature: `sha256=` + hex HMAC-SHA256 of the body with the shared secret."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class DeliveryReport:
    """What one delivery run did."""

    delivered: int
    failed: int
    attempts: int
    remaining: int
    busy_with: str | None = None
    """Set when another deliverer held the workspace's delivery lease: this run sent nothing."""

    def to_text(self) -> str:
        """One line for people."""
        if self.busy_with is not None:
            return (f"Another delivery is running ({self.busy_with}); nothing was sent by this "
                    f"one. {self.remaining:,} item(s) waiting.")
        return (f"Delivered {self.delivered:,}; failed {self.failed:,}; {self.remaining:,} "
                f"still waiting ({self.attempts:,} attempts).")


"""The audit actor of a delivery started by no person (the command line)."""
LEASE_MARGIN_SECONDS = 30.0
"""How much longer than one call and its backoff a deliverer's lease lasts between renewals."""


def _deliverer_id() -> str:
    return (f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}:"
            f"{uuid.uuid4().hex[:8]}")


@entry_point(Action.EXPORT_WRITEBACK)
def deliver_webhook(
    workspace: Workspace, url: str, secret: str, *, max_attempts: int = 5,
    backoff_seconds: float = 0.5, timeout: float = 10.0,
    sleep: Callable[[float], None] = time.sleep, user: User,
) -> DeliveryReport:
    """POST every waiting item in sequence order, signed, each exactly once.

    The run first takes the workspace's delivery lease (one deliverer at a time, across the
    app's sessions and threads; a run that finds it held returns at once with `busy_with`), then
    repeatedly, in one transaction each: renews the lease, picks the lowest waiting item and
    marks it sending; posts it; and records the outcome with an audit event of the attempt.
    A refused item is retried with exponential backoff up to `max_attempts`; if it still fails
    the run stops there (order is kept), leaving it failed and visible. An item left 'sending'
    by a run that stopped mid-call is sent again with the same Idempotency-Key header.
    """
    if not url.startswith(("http://", "https://")):
        raise RevPlanError("The webhook URL must start with http:// or https://.")
    if not secret:
        raise RevPlanError("A webhook needs a shared secret for its signatures.")
    owner = _deliverer_id()
    lease = dt.timedelta(seconds=timeout + backoff_seconds * 2 ** max(max_attempts - 1, 0)
                         + LEASE_MARGIN_SECONDS)

    def take(cur) -> delivery_repo.LeaseHolder | None:
        now = now_utc()
        return delivery_repo.take_lease(cur, delivery_repo.WEBHOOK_CHANNEL, owner, now,
                                        now + lease)

    holder = workspace.write(take)
    if holder is not None:
        return DeliveryReport(0, 0, 0, workspace.read(delivery_repo.count_waiting),
                              busy_with=f"{holder.owner}, until {holder.expires_at:%H:%M:%S} UTC")
    delivered = failed = attempts = 0
    try:
        while failed == 0:
            item = workspace.write(lambda cur: _claim_next(cur, owner, lease))
            if item is None:
                break
            body = json.dumps({k: item[k] for k in (
                "idempotency_key", "batch_id", "sequence", "object", "record_id", "field",
                "old_value", "new_value")}, default=str, sort_keys=True).encode("utf-8")
            error = None
            for attempt in range(max_attempts):
                if attempt:
                    workspace.write(lambda cur: _renew_lease(cur, owner, lease))
                attempts += 1
                error = _post(url, body, secret, item["idempotency_key"], timeout)
                workspace.write(lambda cur, item=item, attempt=attempt, error=error:
                                _record_attempt(cur, item, attempt + 1, error, owner, lease,
                                                user.email, _role_of(user)))
                if error is None:
                    break
                if attempt + 1 < max_attempts:
                    sleep(backoff_seconds * 2**attempt)
            if error is None:
                delivered += 1
            else:
                failed += 1
    finally:
        workspace.write(lambda cur: delivery_repo.release_lease(
            cur, delivery_repo.WEBHOOK_CHANNEL, owner))
    return DeliveryReport(delivered=delivered, failed=failed, attempts=attempts,
                          remaining=workspace.read(delivery_repo.count_waiting))


def _renew_lease(cur: duckdb.DuckDBPyConnection, owner: str, lease: dt.timedelta) -> None:
    """Extend this deliverer's lease, or stop it before another call if it was lost."""
    now = now_utc()
    holder = delivery_repo.take_lease(cur, delivery_repo.WEBHOOK_CHANNEL, owner, now, now + lease)
    if holder is not None:
        raise RevPlanError(f"This delivery lost its lease to {holder.owner} (it was paused "
                           "longer than the lease); it stopped before sending more.")


def _claim_next(cur: duckdb.DuckDBPyConnection, owner: str,
                lease: dt.timedelta) -> dict | None:
    """Renew the lease (refusing if it was lost), pick the next waiting item, mark it sending."""
    _renew_lease(cur, owner, lease)
    item = delivery_repo.next_waiting_item(cur)
    if item is not None:
        delivery_repo.mark_sending(cur, item["idempotency_key"])
    return item


def _post(url: str, body: bytes, secret: str, key: str, timeout: float) -> str | None:
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/json", SIGNATURE_HEADER: signature(secret, body),
        "Idempotency-Key": key})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            if 200 <= response.status < 300:
                return None
            return f"HTTP {response.status}"
    except urllib.error.HTTPError as exc:
        return f"HTTP {exc.code}"
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        return f"{type(exc).__name__}: {exc}"


def _record_attempt(cur: duckdb.DuckDBPyConnection, item: dict, attempt: int,
                    error: str | None, owner: str, lease: dt.timedelta, actor: str,
                    actor_role: str | None) -> None:
    """Record one attempt's outcome and its audit event together; renew the lease."""
    now = now_utc()
    key = item["idempotency_key"]
    if error is None:
        delivery_repo.record_delivered(cur, key, now)
    else:
        delivery_repo.record_failed(cur, key, error)
    delivery_repo.take_lease(cur, delivery_repo.WEBHOOK_CHANNEL, owner, now, now + lease)
    audit.record(cur, actor=actor, actor_role=actor_role, action="writeback.deliver_attempt",
                 entity="writeback_item", entity_id=key,
                 before={"status": item["status"] if attempt == 1 else "failed",
                         "attempts": int(item["attempts"]) + attempt - 1},
                 after={"status": "delivered" if error is None else "failed",
                        "attempt": attempt, "error": error, "sequence": int(item["sequence"]),
                        "batch_id": item["batch_id"], "deliverer": owner,
                        "resent_after_a_stop": item["status"] == "sending"})
