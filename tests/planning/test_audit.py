"""The audit chain: transactional recording, hash linkage, tamper detection, concurrent writers.

Tampering is done with plain SQL on a copy of a closed workspace file, as someone with access to
the database file could do it, and `verify_chain` has to name the row that no longer fits.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
import threading
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from planning import audit
from planning.access.policy import system_principal
from planning.audit import GENESIS_HASH, audit_events, event_hash, verify_chain
from planning.store import Workspace, close_all_workspaces, open_workspace
from planning.store.audit_anchor import anchor_path
from planning.store.audit_log import AUDIT_COLUMNS, HEAD_HASH_KEY, HEAD_SEQ_KEY

CHAIN_LENGTH = 50


def rows(ws: Workspace) -> list[dict]:
    def read(cur) -> list[dict]:
        cur.execute(f"SELECT {', '.join(AUDIT_COLUMNS)} FROM audit_events ORDER BY seq")
        return [dict(zip(AUDIT_COLUMNS, r, strict=True)) for r in cur.fetchall()]

    return ws.read(read)


def head(ws: Workspace) -> dict[str, str]:
    return dict(ws.read(lambda cur: cur.execute(
        "SELECT key, value FROM workspace_settings WHERE key IN (?, ?)",
        [HEAD_SEQ_KEY, HEAD_HASH_KEY]).fetchall()))


def record_one(ws: Workspace, i: int) -> audit.AuditEvent:
    """One event with varied content: JSON, unicode, missing optional fields."""
    return ws.write(lambda cur: audit.record(
        cur,
        actor=f"user{i % 3}@example.com",
        actor_role=None if i % 7 == 0 else ["admin", "revops", "manager"][i % 3],
        action=["plan.save", "plan.submit", "access.grant"][i % 3],
        entity="plan_version",
        entity_id=None if i % 11 == 0 else i,
        before=None if i % 5 == 0 else {"n": i - 1, "tags": ["a", "b"]},
        after={"n": i, "name": "Zoë ✓", "amount_cents": i * 1000},
        reason=None if i % 4 == 0 else f"reason {i}: «why»",
    ))


def build_chain(ws: Workspace, n: int = CHAIN_LENGTH) -> list[audit.AuditEvent]:
    return [record_one(ws, i) for i in range(1, n + 1)]


# --- recording ------------------------------------------------------------------------------

def test_event_rolls_back_with_a_failed_change(workspace: Workspace) -> None:
    def change_then_fail(cur) -> None:
        cur.execute("INSERT INTO workspace_settings VALUES ('probe', 'x')")
        audit.record(cur, actor="a@example.com", action="probe.set", entity="setting",
                     entity_id="probe", after={"value": "x"})
        raise RuntimeError("the change failed after its event was recorded")

    with pytest.raises(RuntimeError):
        workspace.write(change_then_fail)
    assert rows(workspace) == []
    assert head(workspace) == {}
    assert workspace.read(lambda cur: cur.execute(
        "SELECT count(*) FROM workspace_settings WHERE key = 'probe'").fetchone()[0]) == 0
    assert verify_chain(workspace).ok


def test_event_rolls_back_when_the_database_refuses_the_change(workspace: Workspace) -> None:
    build_chain(workspace, 3)

    def record_then_violate(cur) -> None:
        audit.record(cur, actor="a@example.com", action="probe.set", entity="setting")
        cur.execute("INSERT INTO workspace_settings VALUES ('currency', 'EUR')")  # duplicate key

    with pytest.raises(duckdb.ConstraintException):
        workspace.write(record_then_violate)
    assert [r["seq"] for r in rows(workspace)] == [1, 2, 3]
    assert head(workspace)[HEAD_SEQ_KEY] == "3"
    # The next event continues the chain where the committed one ended.
    event = record_one(workspace, 4)
    assert event.seq == 4
    assert event.prev_hash == rows(workspace)[2]["hash"]
    assert verify_chain(workspace).ok


def test_chain_links_every_event(workspace: Workspace) -> None:
    recorded = build_chain(workspace)
    stored = rows(workspace)
    assert [r["seq"] for r in stored] == list(range(1, CHAIN_LENGTH + 1))
    assert stored[0]["prev_hash"] == GENESIS_HASH == "0" * 64
    for before, after in zip(stored, stored[1:], strict=False):
        assert after["prev_hash"] == before["hash"]
    assert len({r["hash"] for r in stored}) == CHAIN_LENGTH
    for row, event in zip(stored, recorded, strict=True):
        assert row["hash"] == event.hash and row["seq"] == event.seq
        assert len(row["hash"]) == 64 and int(row["hash"], 16) >= 0
        assert row["hash"] == event_hash(row["prev_hash"], row)
    assert head(workspace) == {HEAD_SEQ_KEY: str(CHAIN_LENGTH), HEAD_HASH_KEY: stored[-1]["hash"]}


def test_hash_is_sha256_over_previous_hash_and_canonical_content(workspace: Workspace) -> None:
    event = record_one(workspace, 1)
    row = rows(workspace)[0]
    content = {k: row[k] for k in AUDIT_COLUMNS if k not in ("prev_hash", "hash")}
    content["occurred_at"] = row["occurred_at"].isoformat(timespec="microseconds")
    payload = GENESIS_HASH + "\n" + json.dumps(content, sort_keys=True, separators=(",", ":"))
    assert event.hash == hashlib.sha256(payload.encode()).hexdigest()


def test_values_are_stored_as_canonical_json(workspace: Workspace) -> None:
    workspace.write(lambda cur: audit.record(
        cur, actor="a@example.com", action="x", entity="y", entity_id=42,
        before={"b": 2, "a": [1, dt.date(2026, 1, 2)]}, after=None))
    row = rows(workspace)[0]
    assert row["entity_id"] == "42"
    assert row["before_json"] == '{"a":[1,"2026-01-02"],"b":2}'
    assert row["after_json"] is None
    assert row["actor_role"] is None and row["reason"] is None


def test_intact_chain_verifies(workspace: Workspace) -> None:
    empty = verify_chain(workspace)
    assert empty.ok and empty.events == 0
    build_chain(workspace)
    result = verify_chain(workspace)
    assert result.ok
    assert (result.events, result.first_broken_seq, result.problem) == (CHAIN_LENGTH, None, None)
    assert result.anchored_through == CHAIN_LENGTH
    assert result.to_text() == (f"Audit chain intact: {CHAIN_LENGTH} events verified, "
                                f"anchored through event #{CHAIN_LENGTH}.")


def test_audit_events_filters_newest_first(workspace: Workspace) -> None:
    build_chain(workspace, 12)
    everything = audit_events(workspace, system_principal(workspace.name))
    assert list(everything["seq"]) == list(range(12, 0, -1))
    saves = audit_events(workspace, system_principal(workspace.name), action="plan.save")
    assert list(saves["seq"]) == [12, 9, 6, 3]
    by_user = audit_events(workspace, system_principal(workspace.name), actor="user1@example.com")
    assert list(by_user["seq"]) == [10, 7, 4, 1]
    assert list(audit_events(workspace, system_principal(workspace.name),
                             text="reason 7:")["seq"]) == [7]
    assert list(audit_events(workspace, system_principal(workspace.name),
                             limit=2)["seq"]) == [12, 11]
    assert audit_events(workspace, system_principal(workspace.name), entity="nothing").empty


# --- tampering ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def chain_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A closed workspace file holding an intact chain of CHAIN_LENGTH events."""
    folder = tmp_path_factory.mktemp("audit-chain")
    ws = open_workspace("chain", create=True, base=folder)
    build_chain(ws)
    ws.close()
    path = folder / "chain.duckdb"
    assert not path.with_name("chain.duckdb.wal").exists()
    return path


@pytest.fixture
def tampered(chain_file: Path, data_dir: Path) -> Workspace:
    """A private copy of the chain file, opened as workspace 'tampered'."""
    close_all_workspaces()
    shutil.copy(chain_file, data_dir / "tampered.duckdb")
    shutil.copy(chain_file.with_suffix(".audit-anchor"), data_dir / "tampered.audit-anchor")
    ws = open_workspace("tampered")
    original = verify_chain(ws)
    assert original.ok and original.events == CHAIN_LENGTH
    return ws


def sql(*statements: str) -> Callable[[Workspace], None]:
    def apply(ws: Workspace) -> None:
        for statement in statements:
            ws.write(lambda cur, s=statement: cur.execute(s))

    return apply


def rehash(seq: int, **changes: object) -> Callable[[Workspace], None]:
    """Change a row and give it a correct hash for its new content (the next row then breaks)."""
    def apply(ws: Workspace) -> None:
        row = next(r for r in rows(ws) if r["seq"] == seq)
        row.update(changes)
        row["hash"] = event_hash(row["prev_hash"], row)
        ws.write(lambda cur: cur.execute(
            "UPDATE audit_events SET actor = ?, hash = ? WHERE seq = ?",
            [row["actor"], row["hash"], seq]))

    return apply


def swap_contents(a: int, b: int) -> Callable[[Workspace], None]:
    """Swap every column but seq between two rows."""
    def apply(ws: Workspace) -> None:
        by_seq = {r["seq"]: r for r in rows(ws)}
        columns = [c for c in AUDIT_COLUMNS if c != "seq"]
        assignments = ", ".join(f"{c} = ?" for c in columns)

        def work(cur) -> None:
            for target, source in ((a, b), (b, a)):
                cur.execute(f"UPDATE audit_events SET {assignments} WHERE seq = ?",
                            [by_seq[source][c] for c in columns] + [target])

        ws.write(work)

    return apply


def forge_at_end(update_head: bool) -> Callable[[Workspace], None]:
    """Append a well-formed event with a correct hash, as a forger with SQL access could."""
    def apply(ws: Workspace) -> None:
        last = rows(ws)[-1]
        row = dict(last, seq=last["seq"] + 1, actor="mallory@example.com",
                   action="access.grant", after_json='{"roles":["admin"]}')
        row["prev_hash"] = last["hash"]
        row["hash"] = event_hash(row["prev_hash"], row)

        def work(cur) -> None:
            cur.execute(
                f"INSERT INTO audit_events ({', '.join(AUDIT_COLUMNS)}) "
                f"VALUES ({', '.join('?' for _ in AUDIT_COLUMNS)})",
                [row[c] for c in AUDIT_COLUMNS])
            if update_head:
                cur.execute("UPDATE workspace_settings SET value = ? WHERE key = ?",
                            [str(row["seq"]), HEAD_SEQ_KEY])
                cur.execute("UPDATE workspace_settings SET value = ? WHERE key = ?",
                            [row["hash"], HEAD_HASH_KEY])

        ws.write(work)

    return apply


def truncate_with_head(keep: int) -> Callable[[Workspace], None]:
    """Delete the events after `keep` and move the recorded head back to match."""
    def apply(ws: Workspace) -> None:
        kept = rows(ws)[keep - 1]

        def work(cur) -> None:
            cur.execute("DELETE FROM audit_events WHERE seq > ?", [keep])
            cur.execute("UPDATE workspace_settings SET value = ? WHERE key = ?",
                        [str(keep), HEAD_SEQ_KEY])
            cur.execute("UPDATE workspace_settings SET value = ? WHERE key = ?",
                        [kept["hash"], HEAD_HASH_KEY])

        ws.write(work)

    return apply


def rewrite_tail(seq: int) -> Callable[[Workspace], None]:
    """Change event `seq`, recompute its hash and every later one, and move the head: a chain
    that is consistent in itself."""
    def apply(ws: Workspace) -> None:
        stored = rows(ws)
        prev_hash = stored[seq - 2]["hash"]
        updates = []
        for row in stored[seq - 1:]:
            if row["seq"] == seq:
                row["actor"] = "mallory@example.com"
            row["prev_hash"] = prev_hash
            row["hash"] = prev_hash = event_hash(prev_hash, row)
            updates.append([row["actor"], row["prev_hash"], row["hash"], row["seq"]])

        def work(cur) -> None:
            cur.executemany("UPDATE audit_events SET actor = ?, prev_hash = ?, hash = ? "
                            "WHERE seq = ?", updates)
            cur.execute("UPDATE workspace_settings SET value = ? WHERE key = ?",
                        [prev_hash, HEAD_HASH_KEY])

        ws.write(work)

    return apply


HEAD = None  # first_broken_seq for problems found at the chain head
TAMPERING = {
    # name: (tampering, first_broken_seq, words in the problem)
    "actor": (sql("UPDATE audit_events SET actor = 'mallory@example.com' WHERE seq = 17"),
              17, "content does not match"),
    "actor_role": (sql("UPDATE audit_events SET actor_role = 'admin' WHERE seq = 14"),
                   14, "content does not match"),
    "reason": (sql("UPDATE audit_events SET reason = 'nothing to see' WHERE seq = 23"),
               23, "content does not match"),
    "reason added": (sql("UPDATE audit_events SET reason = 'later excuse' WHERE seq = 24"),
                     24, "content does not match"),
    "after_json": (sql("UPDATE audit_events SET after_json = replace(after_json, "
                       "'\"amount_cents\":31000', '\"amount_cents\":31001') WHERE seq = 31"),
                   31, "content does not match"),
    "before_json removed": (sql("UPDATE audit_events SET before_json = NULL WHERE seq = 12"),
                            12, "content does not match"),
    "occurred_at by a second": (
        sql("UPDATE audit_events SET occurred_at = occurred_at + INTERVAL 1 SECOND "
            "WHERE seq = 40"), 40, "content does not match"),
    "occurred_at by a microsecond": (
        sql("UPDATE audit_events SET occurred_at = occurred_at + INTERVAL 1 MICROSECOND "
            "WHERE seq = 41"), 41, "content does not match"),
    "action": (sql("UPDATE audit_events SET action = 'plan.view' WHERE seq = 1"),
               1, "content does not match"),
    "last row's content": (sql("UPDATE audit_events SET entity = 'x' WHERE seq = 50"),
                           50, "content does not match"),
    "hash": (sql("UPDATE audit_events SET hash = repeat('a', 64) WHERE seq = 5"),
             5, "content does not match"),
    "prev_hash": (sql("UPDATE audit_events SET prev_hash = repeat('b', 64) WHERE seq = 9"),
                  9, "previous-hash"),
    "content with a recomputed hash": (rehash(20, actor="mallory@example.com"),
                                       20, "differs from the one the anchor log"),
    "deleted in the middle": (sql("DELETE FROM audit_events WHERE seq = 25"),
                              26, "#25..#25 were removed"),
    "several deleted in the middle": (sql("DELETE FROM audit_events WHERE seq BETWEEN 30 AND 32"),
                                      33, "#30..#32 were removed"),
    "first deleted": (sql("DELETE FROM audit_events WHERE seq = 1"), 2, "#1..#1 were removed"),
    "newest deleted": (sql("DELETE FROM audit_events WHERE seq = 50"),
                       50, "newest events #50..#50 were removed"),
    "three newest deleted": (sql("DELETE FROM audit_events WHERE seq > 47"),
                             48, "newest events #48..#50 were removed"),
    "all deleted": (sql("DELETE FROM audit_events"),
                    1, "newest events #1..#50 were removed"),
    "contents swapped": (swap_contents(10, 30), 10, "previous-hash"),
    "neighbours swapped": (swap_contents(44, 45), 44, "previous-hash"),
    "seq numbers swapped": (sql("UPDATE audit_events SET seq = -10 WHERE seq = 10",
                                "UPDATE audit_events SET seq = 10 WHERE seq = 30",
                                "UPDATE audit_events SET seq = 30 WHERE seq = -10"),
                            10, "previous-hash"),
    "newest renumbered": (sql("UPDATE audit_events SET seq = 52 WHERE seq = 50"),
                          52, "#50..#51 were removed"),
    "forged at the end": (forge_at_end(update_head=False),
                          51, "#51..#51 are not in the anchor log"),
    "forged at the end with the head moved": (forge_at_end(update_head=True),
                                              51, "#51..#51 are not in the anchor log"),
    "newest deleted and the head moved back": (truncate_with_head(49), 50,
                                               "newest events #50..#50 were removed"),
    "newest altered, chain and head recomputed": (rewrite_tail(48), 48,
                                                  "differs from the one the anchor log"),
    "head removed": (sql(f"DELETE FROM workspace_settings WHERE key = '{HEAD_SEQ_KEY}'"),
                     HEAD, "head is missing"),
    "head hash changed": (sql(f"UPDATE workspace_settings SET value = repeat('c', 64) "
                              f"WHERE key = '{HEAD_HASH_KEY}'"),
                          HEAD, "recorded head is event #50"),
}


@pytest.mark.parametrize("name", list(TAMPERING))
def test_tampering_is_detected(tampered: Workspace, name: str) -> None:
    tamper, broken_seq, words = TAMPERING[name]
    tamper(tampered)
    result = verify_chain(tampered)
    assert not result.ok
    assert result.first_broken_seq == broken_seq, result.problem
    assert words in result.problem
    text = result.to_text()
    if broken_seq is HEAD:
        assert text.startswith("Audit chain BROKEN at the chain head: ")
    else:
        assert text.startswith(f"Audit chain BROKEN at event #{broken_seq}: ")


def test_verification_counts_the_events_before_the_break(tampered: Workspace) -> None:
    sql("UPDATE audit_events SET actor = 'x' WHERE seq = 17")(tampered)
    assert verify_chain(tampered).events == 16


def test_tampering_a_copy_leaves_the_original_intact(tampered: Workspace,
                                                     chain_file: Path) -> None:
    sql("DELETE FROM audit_events WHERE seq = 3")(tampered)
    assert not verify_chain(tampered).ok
    original = open_workspace("chain", base=chain_file.parent, read_only=True)
    try:
        assert verify_chain(original).ok
    finally:
        original.close()


def test_forgery_with_the_anchor_log_rewritten_too_is_consistent_by_construction(
        tampered: Workspace) -> None:
    """Documented limit: whoever can rewrite the anchor log as well can hide a forgery; only an
    external witness of an earlier head (`revplan audit anchor`) catches that."""
    forge_at_end(update_head=True)(tampered)
    last = rows(tampered)[-1]
    anchor = anchor_path(tampered.path)
    anchor.write_text(anchor.read_text() + f"begin 51\n51 {last['hash']} 2026-11-30T00:00:00Z\n")
    assert verify_chain(tampered).ok


# --- concurrency ----------------------------------------------------------------------------

THREADS = 8
PER_THREAD = 25


def test_concurrent_audited_writes_form_one_chain(workspace: Workspace) -> None:
    workspace.write(lambda cur: cur.execute(
        "INSERT INTO workspace_settings VALUES ('probe.counter', '0')"))
    start = threading.Barrier(THREADS)
    failures: list[BaseException] = []

    def writer(t: int) -> None:
        try:
            start.wait()
            for i in range(PER_THREAD):
                def change(cur, i=i) -> None:
                    cur.execute("INSERT INTO workspace_settings VALUES (?, ?)",
                                [f"probe.{t}.{i}", f"{t}:{i}"])
                    cur.execute("UPDATE workspace_settings SET value = "
                                "CAST(CAST(value AS INTEGER) + 1 AS VARCHAR) "
                                "WHERE key = 'probe.counter'")
                    audit.record(cur, actor=f"thread{t}@example.com", action="probe.write",
                                 entity="probe", entity_id=f"{t}.{i}", after={"t": t, "i": i})

                workspace.write(change)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            failures.append(exc)

    threads = [threading.Thread(target=writer, args=(t,)) for t in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    assert failures == []

    total = THREADS * PER_THREAD
    stored = rows(workspace)
    assert [r["seq"] for r in stored] == list(range(1, total + 1))
    assert sorted(r["entity_id"] for r in stored) == sorted(
        f"{t}.{i}" for t in range(THREADS) for i in range(PER_THREAD))
    for t in range(THREADS):  # each thread's changes appear in the order it made them
        mine = [json.loads(r["after_json"])["i"] for r in stored
                if r["actor"] == f"thread{t}@example.com"]
        assert mine == list(range(PER_THREAD))
    result = verify_chain(workspace)
    assert result.ok and result.events == total

    settings = dict(workspace.read(lambda cur: cur.execute(
        "SELECT key, value FROM workspace_settings WHERE key LIKE 'probe.%'").fetchall()))
    assert settings.pop("probe.counter") == str(total)  # no update was lost
    assert settings == {f"probe.{t}.{i}": f"{t}:{i}"
                        for t in range(THREADS) for i in range(PER_THREAD)}


def test_verify_while_audited_writes_run(workspace: Workspace) -> None:
    """A reader verifying the chain while others append must never see a broken chain."""
    build_chain(workspace, 5)
    stop = threading.Event()
    failures: list[BaseException] = []
    verdicts: list[audit.ChainVerification] = []

    def writer(t: int) -> None:
        try:
            for i in range(PER_THREAD):
                workspace.write(lambda cur, i=i: audit.record(
                    cur, actor=f"w{t}", action="probe.write", entity="probe",
                    entity_id=f"{t}.{i}"))
        except BaseException as exc:  # noqa: BLE001
            failures.append(exc)

    def verifier() -> None:
        try:
            while not stop.is_set():
                verdicts.append(verify_chain(workspace))
        except BaseException as exc:  # noqa: BLE001
            failures.append(exc)

    readers = [threading.Thread(target=verifier) for _ in range(2)]
    writers = [threading.Thread(target=writer, args=(t,)) for t in range(4)]
    for thread in readers + writers:
        thread.start()
    for thread in writers:
        thread.join(timeout=120)
    stop.set()
    for thread in readers:
        thread.join(timeout=120)
    assert failures == []
    assert verdicts
    broken = [v.to_text() for v in verdicts if not v.ok]
    assert broken == [], f"{len(broken)} of {len(verdicts)} verifications: {broken[:3]}"
    assert verify_chain(workspace).events == 5 + 4 * PER_THREAD
