"""Webhook delivery exactly once, in order, under concurrent deliverers sharing the Workspace (as
the app's sessions do), against a real local HTTP receiver; every attempt audited."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from planning.access.policy import system_principal
from planning.audit import audit_events, verify_chain
from planning.errors import RevPlanError
from planning.store import Workspace
from planning.store.webhook_delivery import WEBHOOK_CHANNEL, lease_holder, take_lease
from planning.writeback import deliver_webhook, outbox, publish
from tests.planning.test_writeback import DELIVERER, PUBLISHER, SECRET, approve, make_version


class OrderedReceiver:
    """Accepts every POST after a short pause (to widen any race) and keeps arrival order;
    the first `refuse_first` calls are answered 503."""

    def __init__(self, pause: float = 0.005, refuse_first: int = 0) -> None:
        self.lock = threading.Lock()
        self.arrived: list[dict] = []
        self.calls = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server naming
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                time.sleep(pause)
                with receiver.lock:
                    receiver.calls += 1
                    accept = receiver.calls > refuse_first
                    if accept:
                        receiver.arrived.append(json.loads(body))
                self.send_response(200 if accept else 503)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/crm/writeback"


@pytest.fixture
def receivers(monkeypatch: pytest.MonkeyPatch) -> Iterator:
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy",
                 "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    started: list[OrderedReceiver] = []

    def start(**options: float) -> OrderedReceiver:
        started.append(OrderedReceiver(**options))
        return started[-1]

    yield start
    for receiver in started:
        receiver.server.shutdown()
        receiver.server.server_close()
        receiver.thread.join(timeout=5)


def published(ws: Workspace) -> list[str]:
    """Publish an approved quota version; the outbox keys in delivery order."""
    version_id = make_version(ws, "quota")
    approve(ws, version_id)
    assert publish(ws, version_id, PUBLISHER).new_items >= 12
    return list(outbox(ws)["idempotency_key"])


def attempt_events(ws: Workspace) -> list[dict]:
    events = audit_events(ws, system_principal(ws.name),
                          action="writeback.deliver_attempt", limit=None)
    return [dict(row, after=json.loads(row["after_json"]), before=json.loads(row["before_json"]))
            for row in events.sort_values("seq").to_dict("records")]


@pytest.mark.parametrize("deliverers", [2, 8])
def test_concurrent_deliverers_send_every_item_once_in_order(
        demo_copy: Workspace, receivers, deliverers: int) -> None:
    keys = published(demo_copy)
    receiver = receivers()
    start = threading.Barrier(deliverers)
    reports, failures = [], []

    def deliver(number: int) -> None:
        try:
            start.wait()
            session = dataclasses.replace(PUBLISHER, email=f"session{number}@example.com")
            reports.append(deliver_webhook(demo_copy, receiver.url, SECRET, user=session))
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            failures.append(exc)

    threads = [threading.Thread(target=deliver, args=(n,)) for n in range(deliverers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(t.is_alive() for t in threads) and failures == []

    assert [item["idempotency_key"] for item in receiver.arrived] == keys
    assert [item["sequence"] for item in receiver.arrived] == sorted(
        item["sequence"] for item in receiver.arrived)
    assert sum(r.delivered for r in reports) == len(keys)
    assert len(reports) == deliverers and all(r.failed == 0 for r in reports)
    assert all(r.remaining == 0 for r in reports if r.busy_with is None)
    assert any(r.busy_with is not None or r.delivered == 0 for r in reports)
    items = outbox(demo_copy)
    assert set(items["status"]) == {"delivered"} and set(items["attempts"]) == {1}

    attempts = attempt_events(demo_copy)
    assert [e["entity_id"] for e in attempts] == keys
    assert all(e["after"]["status"] == "delivered" and e["after"]["attempt"] == 1
               for e in attempts)
    assert len({e["after"]["deliverer"] for e in attempts}) >= 1
    assert {e["actor"] for e in attempts} <= {f"session{n}@example.com"
                                              for n in range(deliverers)}
    assert demo_copy.read(lambda cur: lease_holder(cur, WEBHOOK_CHANNEL)) is None
    assert verify_chain(demo_copy).ok


def test_every_refused_attempt_is_audited_with_its_state(demo_copy: Workspace,
                                                         receivers) -> None:
    keys = published(demo_copy)
    receiver = receivers(refuse_first=2)
    report = deliver_webhook(demo_copy, receiver.url, SECRET, user=DELIVERER, max_attempts=2,
                             backoff_seconds=0.01)
    assert (report.delivered, report.failed, report.attempts) == (0, 1, 2)
    assert receiver.arrived == []
    first = attempt_events(demo_copy)
    assert [(e["entity_id"], e["before"], e["after"]["status"], e["after"]["error"])
            for e in first] == [
        (keys[0], {"status": "pending", "attempts": 0}, "failed", "HTTP 503"),
        (keys[0], {"status": "failed", "attempts": 1}, "failed", "HTTP 503")]
    again = deliver_webhook(demo_copy, receiver.url, SECRET, user=DELIVERER)
    assert (again.delivered, again.remaining) == (len(keys), 0)
    assert [item["idempotency_key"] for item in receiver.arrived] == keys
    assert len(attempt_events(demo_copy)) == 2 + len(keys)


def test_a_live_lease_of_another_deliverer_sends_nothing(demo_copy: Workspace,
                                                         receivers) -> None:
    keys = published(demo_copy)
    receiver = receivers()
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    demo_copy.write(lambda cur: take_lease(cur, WEBHOOK_CHANNEL, "other-host:42:1:abcd", now,
                                           now + dt.timedelta(minutes=5)))
    report = deliver_webhook(demo_copy, receiver.url, SECRET, user=DELIVERER)
    assert report.busy_with is not None and "other-host:42:1:abcd" in report.busy_with
    assert (report.delivered, report.attempts, report.remaining) == (0, 0, len(keys))
    assert report.to_text().startswith("Another delivery is running (other-host:42:1:abcd")
    assert receiver.arrived == [] and attempt_events(demo_copy) == []


def test_a_dead_deliverers_lease_lapses_and_its_interrupted_item_is_resent(
        demo_copy: Workspace, receivers) -> None:
    keys = published(demo_copy)
    receiver = receivers()
    past = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(minutes=10)

    def died_mid_call(cur) -> None:
        take_lease(cur, WEBHOOK_CHANNEL, "dead:1:1:0000", past, past + dt.timedelta(minutes=1))
        cur.execute("UPDATE writeback_outbox SET status = 'sending' WHERE idempotency_key = ?",
                    [keys[0]])

    demo_copy.write(died_mid_call)
    report = deliver_webhook(demo_copy, receiver.url, SECRET, user=DELIVERER)
    assert (report.delivered, report.remaining, report.busy_with) == (len(keys), 0, None)
    assert [item["idempotency_key"] for item in receiver.arrived] == keys
    first, *rest = attempt_events(demo_copy)
    assert first["after"]["resent_after_a_stop"] is True
    assert not any(e["after"]["resent_after_a_stop"] for e in rest)


def test_a_deliverer_that_lost_its_lease_sends_nothing_more(demo_copy: Workspace,
                                                           receivers) -> None:
    keys = published(demo_copy)
    receiver = receivers(refuse_first=1)
    later = dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(days=1)

    def paused_past_its_lease(seconds: float) -> None:
        demo_copy.write(lambda cur: take_lease(cur, WEBHOOK_CHANNEL, "successor:2:2:ffff",
                                               later, later + dt.timedelta(minutes=5)))

    with pytest.raises(RevPlanError, match="lost its lease to successor:2:2:ffff"):
        deliver_webhook(demo_copy, receiver.url, SECRET, user=DELIVERER,
                        sleep=paused_past_its_lease)
    assert receiver.calls == 1 and receiver.arrived == []
    (attempt,) = attempt_events(demo_copy)
    assert (attempt["entity_id"], attempt["after"]["status"]) == (keys[0], "failed")
    assert demo_copy.read(lambda cur: lease_holder(cur, WEBHOOK_CHANNEL)).owner == (
        "successor:2:2:ffff")
