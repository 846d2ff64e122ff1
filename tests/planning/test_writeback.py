"""CRM writeback on the small demo: preview, guarded publishing into the outbox, Data Loader
files and signed webhook delivery to a real local HTTP receiver."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pandas as pd
import pytest

from planning.access.policy import Action, can, system_principal
from planning.access.roles import Role
from planning.access.users import User
from planning.approvals import decide, submit_version
from planning.errors import RevPlanError
from planning.store import Workspace
from planning.versions import VersionIntegrityError, create_version, read_version
from planning.writeback import (
    PublishResult,
    data_loader_csv,
    deliver_webhook,
    outbox,
    preview,
    publish,
)

DELIVERER = system_principal("demo")
SECRET = "s3cret"
PLANNER = User("planner@example.com", "Planner", "demo", roles=frozenset({Role.REVOPS}))
PUBLISHER = User("pat@example.com", "Pat", "demo", roles=frozenset({Role.REVOPS}))
KINDS = ["quota", "territory"]
FIELDS = {"quota": ["Quota.QuotaAmount"], "territory": ["Account.OwnerId", "Opportunity.OwnerId"]}
NOT_ALLOWED = {  # holds no role that may write the fields of that kind
    "quota": User("fin@example.com", "Fin", "demo", roles=frozenset({Role.FINANCE})),
    "territory": User("comp@example.com", "Comp", "demo",
                      roles=frozenset({Role.COMP, Role.SALES_LEADER})),
}


# ----------------------------------------------------------------------------- building


def accounts(ws: Workspace) -> pd.DataFrame:
    return ws.read(lambda cur: cur.execute(
        "SELECT account_id, owner_id, segment FROM accounts ORDER BY account_id").df())


def accounts_to_move(ws: Workspace, count: int = 3, skip: int = 0) -> list[str]:
    """Non-enterprise accounts with open opportunities (so the move touches deals)."""
    return [a for (a,) in ws.read(lambda cur: cur.execute(
        """SELECT a.account_id FROM accounts a
           WHERE a.segment <> 'Enterprise' AND EXISTS (
               SELECT 1 FROM opportunities o WHERE o.account_id = a.account_id
               AND o.status = 'open')
           ORDER BY a.account_id LIMIT ? OFFSET ?""", [count, skip]).fetchall())]


def new_owner(ws: Workspace, current: str) -> str:
    return ws.read(lambda cur: cur.execute(
        "SELECT max(rep_id) FROM reps WHERE role = 'rep' AND rep_id <> ?", [current]
    ).fetchone()[0])


def territory_version(ws: Workspace, move: list[str], name: str = "FY27 territories") -> str:
    """The whole book as it stands, with `move` assigned to another rep."""
    book = accounts(ws)
    assignee = [new_owner(ws, owner) if account in move else owner
                for account, owner in zip(book["account_id"], book["owner_id"], strict=True)]
    items = pd.DataFrame({"subject": book["account_id"], "assignee": assignee,
                          "previous": book["owner_id"]})
    return ws.write(lambda cur: create_version(
        cur, kind="territory", name=name, items=items, parameters={"balance": "workload"},
        solver={"status": "optimal"}, metrics={}, author=PLANNER.email, actor_role="revops"))


def quota_version(ws: Workspace, percent: int = 105, name: str = "FY27 quotas",
                  fiscal_year: int = 2027, changed: dict[str, int] | None = None) -> str:
    """Next year's quotas at `percent` of this year's (or this year's, with `changed`)."""
    base = ws.read(lambda cur: cur.execute(
        "SELECT rep_id, quota_cents FROM rep_quotas WHERE fiscal_year = 2026 ORDER BY rep_id"
    ).df())
    amounts = [int(q) * percent // 100 for q in base["quota_cents"]]
    if changed:
        amounts = [changed.get(r, a) for r, a in zip(base["rep_id"], amounts, strict=True)]
    items = pd.DataFrame({"subject": base["rep_id"], "amount_cents": amounts})
    return ws.write(lambda cur: create_version(
        cur, kind="quota", name=name, items=items, parameters={"percent": percent},
        solver={"status": "optimal"}, metrics={}, author=PLANNER.email, actor_role="revops",
        fiscal_year=fiscal_year))


def make_version(ws: Workspace, kind: str, variant: int = 0) -> str:
    if kind == "quota":
        return quota_version(ws, percent=105 + variant, name=f"quotas {variant}")
    return territory_version(ws, accounts_to_move(ws, 3, skip=3 * variant),
                             name=f"territories {variant}")


def approve(ws: Workspace, version_id: str) -> str:
    """Submit as the planner and approve every step, each by a different person."""
    request_id = submit_version(ws, version_id, PLANNER)
    steps = ws.read(lambda cur: cur.execute(
        "SELECT step_no, role FROM approval_steps WHERE request_id = ? ORDER BY step_no",
        [request_id]).fetchall())
    outcome = None
    for step_no, role in steps:
        approver = User(f"{role}-{step_no}@example.com", role.title(), "demo",
                        roles=frozenset({Role(role)}))
        outcome = decide(ws, request_id, step_no, approver, "approved")
    assert outcome == "approved"
    return request_id


def status_of(ws: Workspace, version_id: str) -> str:
    return ws.read(lambda cur: read_version(cur, version_id)).status


def hash_of(ws: Workspace, version_id: str) -> str:
    return ws.read(lambda cur: read_version(cur, version_id)).content_hash


def outbox_rows(ws: Workspace) -> int:
    return ws.read(lambda cur: cur.execute("SELECT count(*) FROM writeback_outbox"
                                           ).fetchone()[0])


def tamper(ws: Workspace, version_id: str) -> None:
    ws.write(lambda cur: cur.execute(
        """UPDATE plan_version_items SET assignee = coalesce(previous, assignee),
               amount_cents = amount_cents + 100
           WHERE version_id = ? AND subject = (SELECT max(subject) FROM plan_version_items
                                               WHERE version_id = ? AND (assignee <> previous
                                                     OR amount_cents IS NOT NULL))""",
        [version_id, version_id]))


def expected_key(content_hash: str, row: dict) -> str:
    text = "\n".join([content_hash, row["object"], row["record_id"], row["field"],
                      str(row["new_value"])])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# ----------------------------------------------------------------------------- preview


def moved_open_opportunities(ws: Workspace, move: list[str], version_id: str) -> set[tuple]:
    return set(ws.read(lambda cur: cur.execute(
        """SELECT o.opportunity_id, o.owner_id, i.assignee FROM opportunities o
           JOIN plan_version_items i ON i.subject = o.account_id AND i.version_id = ?
           WHERE o.status = 'open' AND list_contains(?, o.account_id)
             AND o.owner_id IS DISTINCT FROM i.assignee""", [version_id, move]).fetchall()))


def test_preview_lists_the_moved_accounts_and_their_open_deals(demo_copy: Workspace) -> None:
    move = accounts_to_move(demo_copy, 3)
    version_id = territory_version(demo_copy, move)
    changes = preview(demo_copy, version_id)

    assert list(changes.columns) == ["object", "record_id", "field", "old_value", "new_value",
                                     "queued"]
    assert not changes["queued"].any()
    account_rows = changes[changes["object"] == "Account"]
    owners = dict(zip(accounts(demo_copy)["account_id"], accounts(demo_copy)["owner_id"],
                      strict=True))
    assert sorted(account_rows["record_id"]) == sorted(move)
    assert set(account_rows["field"]) == {"OwnerId"}
    for row in account_rows.to_dict("records"):
        assert row["old_value"] == owners[row["record_id"]]
        assert row["new_value"] == new_owner(demo_copy, owners[row["record_id"]])

    expected = moved_open_opportunities(demo_copy, move, version_id)
    assert expected, "the moved accounts have open deals"
    opportunity_rows = changes[changes["object"] == "Opportunity"]
    found = set(zip(opportunity_rows["record_id"], opportunity_rows["old_value"],
                    opportunity_rows["new_value"], strict=True))
    assert expected <= found
    assert set(opportunity_rows["field"]) == {"OwnerId"}
    assert list(changes["object"]) == sorted(changes["object"])  # accounts first
    assert outbox_rows(demo_copy) == 0
    assert status_of(demo_copy, version_id) == "draft"
    assert demo_copy.read(lambda cur: cur.execute(
        "SELECT count(*) FROM writeback_batches").fetchone()[0]) == 0


def test_preview_touches_no_deal_of_an_account_that_keeps_its_owner(
        demo_copy: Workspace) -> None:
    move = accounts_to_move(demo_copy, 3)
    version_id = territory_version(demo_copy, move)
    changes = preview(demo_copy, version_id)
    opportunity_rows = changes[changes["object"] == "Opportunity"]
    found = set(zip(opportunity_rows["record_id"], opportunity_rows["old_value"],
                    opportunity_rows["new_value"], strict=True))
    assert found == moved_open_opportunities(demo_copy, move, version_id)


def test_preview_of_an_unchanged_book_moves_no_account(demo_copy: Workspace) -> None:
    version_id = territory_version(demo_copy, [])
    assert preview(demo_copy, version_id).query("object == 'Account'").empty


def test_quota_preview_diffs_against_the_crm_quotas(demo_copy: Workspace) -> None:
    base = demo_copy.read(lambda cur: cur.execute(
        "SELECT rep_id, quota_cents FROM rep_quotas WHERE fiscal_year = 2026 ORDER BY rep_id"
    ).fetchall())
    (rep_a, cents_a), (rep_b, cents_b) = base[0], base[1]
    version_id = quota_version(demo_copy, percent=100, fiscal_year=2026,
                               changed={rep_a: cents_a + 12_345, rep_b: cents_b - 100})
    changes = preview(demo_copy, version_id)
    assert not changes["queued"].any()
    assert changes.drop(columns="queued").to_dict("records") == [
        {"object": "Quota", "record_id": f"{rep_a}-FY2026", "field": "QuotaAmount",
         "old_value": f"{cents_a / 100:.2f}", "new_value": f"{(cents_a + 12_345) / 100:.2f}"},
        {"object": "Quota", "record_id": f"{rep_b}-FY2026", "field": "QuotaAmount",
         "old_value": f"{cents_b / 100:.2f}", "new_value": f"{(cents_b - 100) / 100:.2f}"},
    ]
    next_year = preview(demo_copy, quota_version(demo_copy, percent=105))
    assert len(next_year) == len(base)
    assert next_year["old_value"].isna().all()
    assert outbox_rows(demo_copy) == 0


# ----------------------------------------------------------------------------- publishing


@pytest.mark.parametrize("kind", ["quota", "territory"])
def test_a_draft_cannot_be_published(demo_copy: Workspace, kind: str) -> None:
    version_id = make_version(demo_copy, kind)
    with pytest.raises(RevPlanError, match="only an approved"):
        publish(demo_copy, version_id, PUBLISHER)
    assert outbox_rows(demo_copy) == 0
    assert status_of(demo_copy, version_id) == "draft"


@pytest.mark.parametrize("kind", KINDS)
def test_a_submitted_version_cannot_be_published(demo_copy: Workspace, kind: str) -> None:
    version_id = make_version(demo_copy, kind)
    submit_version(demo_copy, version_id, PLANNER)
    with pytest.raises(RevPlanError, match="submitted"):
        publish(demo_copy, version_id, PUBLISHER)
    assert outbox_rows(demo_copy) == 0
    assert status_of(demo_copy, version_id) == "submitted"


def test_a_partly_approved_version_cannot_be_published(demo_copy: Workspace) -> None:
    version_id = make_version(demo_copy, "quota")
    request_id = submit_version(demo_copy, version_id, PLANNER)
    finance = User("fin@example.com", "Fin", "demo", roles=frozenset({Role.FINANCE}))
    assert decide(demo_copy, request_id, 1, finance, "approved") == "pending"
    with pytest.raises(RevPlanError, match="submitted"):
        publish(demo_copy, version_id, PUBLISHER)
    assert outbox_rows(demo_copy) == 0


def test_a_rejected_version_cannot_be_published(demo_copy: Workspace) -> None:
    version_id = make_version(demo_copy, "quota")
    request_id = submit_version(demo_copy, version_id, PLANNER)
    finance = User("fin@example.com", "Fin", "demo", roles=frozenset({Role.FINANCE}))
    decide(demo_copy, request_id, 1, finance, "rejected", "Too high overall")
    with pytest.raises(RevPlanError, match="rejected"):
        publish(demo_copy, version_id, PUBLISHER)
    assert outbox_rows(demo_copy) == 0


@pytest.mark.parametrize("kind", KINDS)
def test_publishing_needs_a_role_that_may_write_every_field(demo_copy: Workspace,
                                                             kind: str) -> None:
    """Comp may publish but not write owners (a field row of the policy refuses it); finance
    may not publish at all (the action row refuses it before any field is looked at)."""
    version_id = make_version(demo_copy, kind)
    approve(demo_copy, version_id)
    may_publish = can(NOT_ALLOWED[kind], Action.PUBLISH_VERSION)
    with pytest.raises(RevPlanError, match="may not write" if may_publish
                       else "may not version.publish") as refused:
        publish(demo_copy, version_id, NOT_ALLOWED[kind])
    for field in FIELDS[kind] if may_publish else []:
        assert field in str(refused.value)
    assert [can(NOT_ALLOWED[kind], Action.WRITE_FIELD, field) for field in FIELDS[kind]] == [
        False] * len(FIELDS[kind])
    assert outbox_rows(demo_copy) == 0
    assert status_of(demo_copy, version_id) == "approved"


@pytest.mark.parametrize("kind", KINDS)
def test_publish_queues_one_item_per_change_once(demo_copy: Workspace, kind: str) -> None:
    version_id = make_version(demo_copy, kind)
    approve(demo_copy, version_id)
    expected = preview(demo_copy, version_id)
    assert len(expected) > 0

    result = publish(demo_copy, version_id, PUBLISHER)
    assert isinstance(result, PublishResult)
    assert result.new_items == len(expected)
    assert preview(demo_copy, version_id)["queued"].all()
    assert result.already_queued == 0
    assert result.batch_id is not None
    assert result.superseded == ()
    assert status_of(demo_copy, version_id) == "published"

    items = outbox(demo_copy)
    assert len(items) == len(expected)
    assert items["idempotency_key"].is_unique
    assert set(items["batch_id"]) == {result.batch_id}
    assert list(items["sequence"]) == list(range(1, len(expected) + 1))
    assert set(items["status"]) == {"pending"}
    assert (items["attempts"] == 0).all()
    queued = items[["object", "record_id", "field", "old_value", "new_value"]]
    assert queued.to_dict("records") == expected.drop(columns="queued").to_dict("records")
    content_hash = hash_of(demo_copy, version_id)
    assert [expected_key(content_hash, r) for r in items.to_dict("records")] == list(
        items["idempotency_key"])
    batch = demo_copy.read(lambda cur: cur.execute(
        "SELECT version_id, content_hash, published_by, items FROM writeback_batches"
    ).fetchall())
    assert batch == [(version_id, content_hash, PUBLISHER.email, len(expected))]

    again = publish(demo_copy, version_id, PUBLISHER)
    assert (again.batch_id, again.new_items, again.already_queued) == (
        None, 0, len(expected))
    assert outbox_rows(demo_copy) == len(expected)
    assert demo_copy.read(lambda cur: cur.execute(
        "SELECT count(*) FROM writeback_batches").fetchone()[0]) == 1
    assert status_of(demo_copy, version_id) == "published"
    events = demo_copy.read(lambda cur: cur.execute(
        "SELECT after_json FROM audit_events WHERE action = 'writeback.publish' "
        "AND entity_id = ? ORDER BY seq", [version_id]).fetchall())
    assert [json.loads(a)["new_items"] for (a,) in events] == [len(expected), 0]


@pytest.mark.parametrize("kind", KINDS)
def test_publishing_a_newer_version_supersedes_the_older(demo_copy: Workspace,
                                                          kind: str) -> None:
    first = make_version(demo_copy, kind, variant=0)
    approve(demo_copy, first)
    publish(demo_copy, first, PUBLISHER)
    queued = outbox_rows(demo_copy)

    second = make_version(demo_copy, kind, variant=1)
    approve(demo_copy, second)
    result = publish(demo_copy, second, PUBLISHER)
    assert result.superseded == (first,)
    assert status_of(demo_copy, first) == "superseded"
    assert status_of(demo_copy, second) == "published"
    assert result.new_items == len(preview(demo_copy, second))
    items = outbox(demo_copy)
    assert len(items) == queued + result.new_items
    assert list(items["sequence"]) == list(range(1, len(items) + 1))
    assert items["idempotency_key"].is_unique


def test_a_quota_version_of_another_year_is_not_superseded(demo_copy: Workspace) -> None:
    this_year = quota_version(demo_copy, percent=100, fiscal_year=2026,
                              changed={"005000000000000003": 9_000_000})
    approve(demo_copy, this_year)
    publish(demo_copy, this_year, PUBLISHER)
    next_year = quota_version(demo_copy, percent=104)
    approve(demo_copy, next_year)
    assert publish(demo_copy, next_year, PUBLISHER).superseded == ()
    assert status_of(demo_copy, this_year) == "published"


@pytest.mark.parametrize("kind", KINDS)
def test_publishing_tampered_content_is_refused(demo_copy: Workspace, kind: str) -> None:
    version_id = make_version(demo_copy, kind)
    approve(demo_copy, version_id)
    tamper(demo_copy, version_id)
    with pytest.raises(VersionIntegrityError):
        publish(demo_copy, version_id, PUBLISHER)
    with pytest.raises(VersionIntegrityError):
        preview(demo_copy, version_id)
    assert outbox_rows(demo_copy) == 0
    assert status_of(demo_copy, version_id) == "approved"


@pytest.mark.parametrize("kind", KINDS)
def test_republishing_after_tampering_is_refused(demo_copy: Workspace, kind: str) -> None:
    version_id = make_version(demo_copy, kind)
    approve(demo_copy, version_id)
    queued = publish(demo_copy, version_id, PUBLISHER).new_items
    tamper(demo_copy, version_id)
    with pytest.raises(VersionIntegrityError):
        publish(demo_copy, version_id, PUBLISHER)
    assert outbox_rows(demo_copy) == queued


# ----------------------------------------------------------------------------- files


def test_data_loader_csv_for_accounts(demo_copy: Workspace) -> None:
    move = accounts_to_move(demo_copy, 3)
    version_id = territory_version(demo_copy, move)
    approve(demo_copy, version_id)
    batch_id = publish(demo_copy, version_id, PUBLISHER).batch_id
    text = data_loader_csv(demo_copy, batch_id, "Account", DELIVERER)
    lines = text.splitlines()
    assert lines[0] == "Id,OwnerId"
    owners = dict(zip(accounts(demo_copy)["account_id"], accounts(demo_copy)["owner_id"],
                      strict=True))
    assert sorted(lines[1:]) == sorted(f"{a},{new_owner(demo_copy, owners[a])}" for a in move)
    opportunities = data_loader_csv(demo_copy, batch_id, "Opportunity", DELIVERER)
    assert opportunities.splitlines()[0] == "Id,OwnerId"
    assert data_loader_csv(demo_copy, batch_id, "Quota", DELIVERER) == ""


def test_data_loader_csv_for_quotas(demo_copy: Workspace) -> None:
    version_id = quota_version(demo_copy, percent=105)
    approve(demo_copy, version_id)
    batch_id = publish(demo_copy, version_id, PUBLISHER).batch_id
    lines = data_loader_csv(demo_copy, batch_id, "Quota", DELIVERER).splitlines()
    assert lines[0] == "Id,QuotaAmount"
    base = demo_copy.read(lambda cur: cur.execute(
        "SELECT rep_id, quota_cents FROM rep_quotas WHERE fiscal_year = 2026").fetchall())
    assert sorted(lines[1:]) == sorted(
        f"{rep}-FY2027,{int(cents) * 105 // 100 / 100:.2f}" for rep, cents in base)
    assert data_loader_csv(demo_copy, batch_id, "Account", DELIVERER) == ""


# ----------------------------------------------------------------------------- webhook


class Receiver:
    """A local HTTP receiver that fails the first `fail_first` requests (or all) with 500."""

    def __init__(self, fail_first: int | None) -> None:
        self.fail_first = fail_first
        self.lock = threading.Lock()
        self.requests: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server naming
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver.lock:
                    number = len(receiver.requests)
                    accept = receiver.fail_first is not None and number >= receiver.fail_first
                    headers = {k.lower(): v for k, v in self.headers.items()}
                    receiver.requests.append({"body": body, "headers": headers,
                                              "accepted": accept})
                self.send_response(200 if accept else 500)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/crm/writeback"

    def accepted(self) -> list[dict]:
        with self.lock:
            return [json.loads(r["body"]) for r in self.requests if r["accepted"]]

    def count(self) -> int:
        with self.lock:
            return len(self.requests)


@pytest.fixture
def receiver_factory(monkeypatch: pytest.MonkeyPatch) -> Iterator:
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy",
                 "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    started: list[Receiver] = []

    def start(fail_first: int | None) -> Receiver:
        receiver = Receiver(fail_first)
        receiver.thread.start()
        started.append(receiver)
        return receiver

    yield start
    for receiver in started:
        receiver.server.shutdown()
        receiver.server.server_close()
        receiver.thread.join(timeout=5)


def signature_ok(request: dict) -> bool:
    expected = "sha256=" + hmac.new(SECRET.encode("utf-8"), request["body"],
                                    hashlib.sha256).hexdigest()
    return hmac.compare_digest(request["headers"].get("x-revplan-signature", ""), expected)


@pytest.mark.parametrize("kind", KINDS)
def test_webhook_delivers_every_item_once_in_order(demo_copy: Workspace, receiver_factory,
                                                   kind: str) -> None:
    version_id = make_version(demo_copy, kind)
    approve(demo_copy, version_id)
    count = publish(demo_copy, version_id, PUBLISHER).new_items
    assert count >= 3
    receiver = receiver_factory(fail_first=2)

    report = deliver_webhook(demo_copy, receiver.url, SECRET, user=DELIVERER, backoff_seconds=0.01)
    assert (report.delivered, report.failed, report.remaining) == (count, 0, 0)
    assert report.attempts == count + 2
    assert receiver.count() == count + 2

    items = outbox(demo_copy)
    accepted = receiver.accepted()
    per_key = Counter(body["idempotency_key"] for body in accepted)
    assert set(per_key) == set(items["idempotency_key"])
    assert set(per_key.values()) == {1}
    assert [body["sequence"] for body in accepted] == list(items["sequence"])
    assert [body["idempotency_key"] for body in accepted] == list(items["idempotency_key"])
    first = items.iloc[0]
    assert accepted[0]["record_id"] == first["record_id"]
    assert accepted[0]["new_value"] == first["new_value"]
    for request in receiver.requests:
        assert signature_ok(request)
        assert request["headers"]["idempotency-key"] == json.loads(
            request["body"])["idempotency_key"]
    # The two refused calls were the first item's.
    assert {json.loads(r["body"])["sequence"] for r in receiver.requests[:2]} == {1}

    assert set(items["status"]) == {"delivered"}
    assert list(items["attempts"]) == [3] + [1] * (count - 1)
    assert items["last_error"].isna().all()
    assert items["delivered_at"].notna().all()

    again = deliver_webhook(demo_copy, receiver.url, SECRET, user=DELIVERER, backoff_seconds=0.01)
    assert (again.delivered, again.failed, again.attempts, again.remaining) == (0, 0, 0, 0)
    assert receiver.count() == count + 2

    republished = publish(demo_copy, version_id, PUBLISHER)
    assert republished.new_items == 0
    deliver_webhook(demo_copy, receiver.url, SECRET, user=DELIVERER, backoff_seconds=0.01)
    assert receiver.count() == count + 2
    assert set(outbox(demo_copy)["status"]) == {"delivered"}


@pytest.mark.parametrize("kind", KINDS)
def test_a_failing_receiver_keeps_items_failed_and_in_order(
        demo_copy: Workspace, receiver_factory, kind: str) -> None:
    version_id = make_version(demo_copy, kind)
    approve(demo_copy, version_id)
    count = publish(demo_copy, version_id, PUBLISHER).new_items
    assert count >= 2
    down = receiver_factory(fail_first=None)

    report = deliver_webhook(demo_copy, down.url, SECRET, user=DELIVERER, max_attempts=3,
                             backoff_seconds=0.01)
    assert (report.delivered, report.failed, report.attempts) == (0, 1, 3)
    assert report.remaining == count
    items = outbox(demo_copy)
    first_key = items.iloc[0]["idempotency_key"]
    assert [json.loads(r["body"])["idempotency_key"] for r in down.requests] == [first_key] * 3
    assert all(signature_ok(r) for r in down.requests)
    assert items.iloc[0]["status"] == "failed"
    assert items.iloc[0]["attempts"] == 3
    assert items.iloc[0]["last_error"] == "HTTP 500"
    assert pd.isna(items.iloc[0]["delivered_at"])
    assert set(items.iloc[1:]["status"]) == {"pending"}
    assert (items.iloc[1:]["attempts"] == 0).all()

    again = deliver_webhook(demo_copy, down.url, SECRET, user=DELIVERER, max_attempts=2,
                            backoff_seconds=0.01)
    assert (again.delivered, again.failed, again.attempts) == (0, 1, 2)
    items = outbox(demo_copy)
    assert items.iloc[0]["status"] == "failed"
    assert items.iloc[0]["attempts"] == 5
    assert items.iloc[0]["last_error"] == "HTTP 500"
    assert down.count() == 5

    up = receiver_factory(fail_first=0)
    recovered = deliver_webhook(demo_copy, up.url, SECRET, user=DELIVERER, backoff_seconds=0.01)
    assert (recovered.delivered, recovered.failed, recovered.remaining) == (count, 0, 0)
    assert [b["sequence"] for b in up.accepted()] == list(items["sequence"])
    assert set(outbox(demo_copy)["status"]) == {"delivered"}
    assert outbox(demo_copy).iloc[0]["attempts"] == 6


def test_an_unreachable_receiver_is_recorded_as_failed(demo_copy: Workspace,
                                                       receiver_factory) -> None:
    version_id = make_version(demo_copy, "quota")
    approve(demo_copy, version_id)
    publish(demo_copy, version_id, PUBLISHER)
    closed = receiver_factory(fail_first=0)
    url = closed.url
    closed.server.shutdown()
    closed.server.server_close()
    report = deliver_webhook(demo_copy, url, SECRET, user=DELIVERER, max_attempts=2,
                             backoff_seconds=0.01)
    assert (report.delivered, report.failed) == (0, 1)
    first = outbox(demo_copy).iloc[0]
    assert first["status"] == "failed"
    assert first["last_error"]


def test_webhook_settings_are_checked(demo_copy: Workspace) -> None:
    with pytest.raises(RevPlanError, match="http"):
        deliver_webhook(demo_copy, "ftp://example.com/hook", SECRET, user=DELIVERER)
    with pytest.raises(RevPlanError, match="secret"):
        deliver_webhook(demo_copy, "http://127.0.0.1:9/hook", "", user=DELIVERER)
