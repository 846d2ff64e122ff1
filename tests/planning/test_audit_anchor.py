"""The audit anchor log outside the database: truncation and rewritten tails are caught, a stop
between commit and anchoring is told apart from an addition, and the head is printed."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from planning import audit
from planning.audit import audit_head, start_anchor, verify_chain
from planning.cli import main
from planning.store import Workspace, close_all_workspaces, open_workspace
from planning.store.audit_anchor import AuditAnchorError, anchor_path, read_anchor
from planning.store.audit_log import HEAD_HASH_KEY, HEAD_SEQ_KEY


def record(ws: Workspace, n: int, events_per_write: int = 1) -> None:
    for i in range(n):
        def write(cur, i=i) -> None:
            for j in range(events_per_write):
                audit.record(cur, actor="tester@example.com", action="probe.write",
                             entity="probe", entity_id=f"{i}.{j}", after={"i": i, "j": j})

        ws.write(write)


def tail(ws: Workspace) -> list[tuple[int, str]]:
    return ws.read(lambda cur: cur.execute(
        "SELECT seq, hash FROM audit_events ORDER BY seq").fetchall())


def truncate_and_move_head(ws: Workspace, keep: int) -> None:
    """The attack of the issue: delete the newest events, set the recorded head back."""
    kept_hash = dict(tail(ws))[keep]

    def work(cur) -> None:
        cur.execute("DELETE FROM audit_events WHERE seq > ?", [keep])
        cur.execute("UPDATE workspace_settings SET value = ? WHERE key = ?",
                    [str(keep), HEAD_SEQ_KEY])
        cur.execute("UPDATE workspace_settings SET value = ? WHERE key = ?",
                    [kept_hash, HEAD_HASH_KEY])

    ws.write(work)


def drop_anchor_lines(ws: Workspace, count: int) -> None:
    path = anchor_path(ws.path)
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:-count]))


def test_every_audited_write_is_announced_then_anchored(workspace: Workspace) -> None:
    record(workspace, 3)
    record(workspace, 1, events_per_write=2)
    path = workspace.path.with_name("test.audit-anchor")
    assert anchor_path(workspace.path) == path
    kinds = [line.split()[0] if line.startswith("begin") else "entry"
             for line in path.read_text().splitlines()]
    assert kinds == ["begin", "entry"] * 3 + ["begin", "entry", "entry"]
    assert read_anchor(path).entries == dict(tail(workspace))
    assert verify_chain(workspace).anchored_through == 5


def test_tail_truncation_with_the_head_moved_back_is_caught(
        workspace: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    record(workspace, 12)
    truncate_and_move_head(workspace, 10)
    result = verify_chain(workspace)
    assert not result.ok
    assert result.first_broken_seq == 11
    assert "anchor log vouches for events up to #12 but the chain ends at #10" in result.problem
    assert main(["audit", "verify", "--workspace", "test"]) == 1
    out = capsys.readouterr().out
    assert out.startswith("Audit chain BROKEN at event #11: it is missing")


def test_an_altered_event_with_a_recomputed_chain_is_named(workspace: Workspace) -> None:
    record(workspace, 8)
    stored = workspace.read(lambda cur: cur.execute(
        "SELECT * FROM audit_events ORDER BY seq").df()).to_dict("records")
    prev_hash = stored[4]["prev_hash"]
    for row in stored[4:]:
        if row["seq"] == 5:
            row["reason"] = "nothing happened"
        row["prev_hash"] = prev_hash
        row["hash"] = prev_hash = audit.event_hash(prev_hash, row)
    workspace.write(lambda cur: cur.executemany(
        "UPDATE audit_events SET reason = ?, prev_hash = ?, hash = ? WHERE seq = ?",
        [[r["reason"], r["prev_hash"], r["hash"], r["seq"]] for r in stored[4:]]))
    workspace.write(lambda cur: cur.execute(
        "UPDATE workspace_settings SET value = ? WHERE key = ?", [prev_hash, HEAD_HASH_KEY]))
    result = verify_chain(workspace)
    assert (result.ok, result.first_broken_seq) == (False, 5)
    assert result.to_text().startswith("Audit chain BROKEN at event #5: its hash differs")


def test_anchor_prints_the_head_for_a_witness(workspace: Workspace,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    record(workspace, 4)
    seq, digest = tail(workspace)[-1]
    head = audit_head(workspace)
    assert (head.seq, head.hash, head.anchored_through) == (4, digest, 4)
    assert main(["audit", "anchor", "--workspace", "test"]) == 0
    first, second = capsys.readouterr().out.splitlines()
    assert first.startswith(f"revplan audit head: workspace=test seq=4 sha256={digest} ")
    assert second == (f"Anchor log {anchor_path(workspace.path)}: anchored through event #4.")


def test_a_stop_between_commit_and_anchoring_is_accepted_and_said(workspace: Workspace) -> None:
    record(workspace, 3)
    record(workspace, 1, events_per_write=2)
    drop_anchor_lines(workspace, 2)  # the last write's two entry lines; its `begin` stays
    result = verify_chain(workspace)
    assert result.ok and result.anchored_through == 3
    assert "Events #4..#5 are the last write's" in result.to_text()
    record(workspace, 1)  # the next write anchors again; #4..#5 are chained under #6
    after = verify_chain(workspace)
    assert after.ok and after.anchored_through == 6 and after.note is None


def test_unannounced_events_at_the_end_are_refused(workspace: Workspace) -> None:
    record(workspace, 3)
    record(workspace, 1, events_per_write=2)
    drop_anchor_lines(workspace, 3)  # the `begin` line too: nothing says a write was under way
    result = verify_chain(workspace)
    assert not result.ok and result.first_broken_seq == 4
    assert "#4..#5 are not in the anchor log" in result.problem


def test_a_process_killed_after_commit_before_anchoring(data_dir: Path) -> None:
    """A real stop: the child commits an audited write and exits before its anchor line."""
    ws = open_workspace("test", create=True)
    record(ws, 2)
    close_all_workspaces()
    script = textwrap.dedent("""
        import os
        from planning import audit
        from planning.store import open_workspace
        from planning.store.workspace import current_write_transaction

        def work(cur):
            current_write_transaction().after_commit["stop"] = lambda: os._exit(0)
            audit.record(cur, actor="tester@example.com", action="probe.write", entity="probe")

        open_workspace("test").write(work)
        """)
    child = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                           timeout=120, cwd=Path(__file__).resolve().parents[2])
    assert child.returncode == 0, child.stderr
    ws = open_workspace("test")
    assert [seq for seq, _ in tail(ws)] == [1, 2, 3]
    assert read_anchor(anchor_path(ws.path)).last_begin == 3
    result = verify_chain(ws)
    assert result.ok and result.anchored_through == 2
    assert "Events #3..#3 are the last write's" in result.to_text()


def test_an_anchor_log_that_cannot_be_written_refuses_the_change(
        data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = data_dir / "not-a-folder"
    blocker.write_text("")
    ws = open_workspace("test", create=True)
    monkeypatch.setenv("REVPLAN_AUDIT_ANCHOR_DIR", str(blocker))

    def change(cur) -> None:
        cur.execute("INSERT INTO workspace_settings VALUES ('probe', 'x')")
        audit.record(cur, actor="a@example.com", action="probe.set", entity="setting")

    with pytest.raises(AuditAnchorError, match="Cannot append to the audit anchor log"):
        ws.write(change)
    assert tail(ws) == []
    assert ws.read(lambda cur: cur.execute(
        "SELECT count(*) FROM workspace_settings WHERE key = 'probe'").fetchone()[0]) == 0


def test_a_configured_anchor_folder_is_used(data_dir: Path, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "witness"
    monkeypatch.setenv("REVPLAN_AUDIT_ANCHOR_DIR", str(folder))
    ws = open_workspace("test", create=True)
    record(ws, 2)
    assert (folder / "test.audit-anchor").exists()
    assert not (data_dir / "test.audit-anchor").exists()
    assert verify_chain(ws).anchored_through == 2


def test_a_missing_anchor_log_fails_until_started(workspace: Workspace,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    record(workspace, 3)
    anchor_path(workspace.path).unlink()
    result = verify_chain(workspace)
    assert not result.ok and "anchor log" in result.problem and "is missing" in result.problem
    assert main(["audit", "anchor", "--workspace", "test", "--start"]) == 0
    assert "seq=3" in capsys.readouterr().out
    workspace = open_workspace("test")
    assert verify_chain(workspace).ok
    with pytest.raises(AuditAnchorError, match="already exists"):
        start_anchor(workspace)
    truncate_and_move_head(workspace, 2)
    assert verify_chain(workspace).first_broken_seq == 3


def test_an_edited_anchor_line_fails_verification(workspace: Workspace) -> None:
    record(workspace, 2)
    path = anchor_path(workspace.path)
    path.write_text(path.read_text().replace("begin 2", "begin two"))
    result = verify_chain(workspace)
    assert not result.ok and "line 3: 'begin two' is not an anchor line" in result.problem


def test_recreating_a_workspace_retires_its_old_anchor_log(data_dir: Path) -> None:
    ws = open_workspace("test", create=True)
    record(ws, 3)
    ws.close()
    (data_dir / "test.duckdb").unlink()
    fresh = open_workspace("test", create=True)
    assert [p.name.split(".retired-")[0] for p in data_dir.glob("test.audit-anchor.retired-*")
            ] == ["test.audit-anchor"]
    record(fresh, 1)
    assert verify_chain(fresh).ok

