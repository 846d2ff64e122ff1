"""`revplan audit verify` and `revplan access grant|revoke|list` against real workspaces."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from planning import audit
from planning.access.policy import system_principal
from planning.cli import build_parser, main
from planning.store import Workspace, close_all_workspaces, open_workspace


def _has_command(name: str) -> bool:
    parser = build_parser()
    return any(
        isinstance(action, argparse._SubParsersAction) and name in action.choices
        for action in parser._actions
    )


pytestmark = pytest.mark.skipif(
    not _has_command("audit"), reason="`revplan audit` has not landed in planning/cli.py yet"
)

EMAIL = "new.ops@example.com"


def record_events(ws: Workspace, n: int) -> None:
    for i in range(n):
        ws.write(lambda cur, i=i: audit.record(
            cur, actor="tester", action="probe.write", entity="probe", entity_id=str(i),
            after={"i": i}))


def output(capsys: pytest.CaptureFixture[str]) -> tuple[str, str]:
    captured = capsys.readouterr()
    return captured.out, captured.err


def member_roles(name: str) -> dict[str, list[str]]:
    ws = open_workspace(name)
    rows = ws.read(lambda cur: cur.execute(
        "SELECT email, roles FROM workspace_members").fetchall())
    return {email: list(roles) for email, roles in rows}


def audit_rows(name: str, action: str) -> list[dict]:
    frame = audit.audit_events(open_workspace(name), system_principal(name), action=action)
    return frame.to_dict("records")


# --- audit verify ---------------------------------------------------------------------------

def test_verify_intact_chain(workspace: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    record_events(workspace, 12)
    assert main(["audit", "verify", "--workspace", "test"]) == 0
    out, _ = output(capsys)
    assert ("Audit chain intact: 12 events verified, anchored through event #12."
            in out.splitlines())


def test_verify_broken_chain(workspace: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    record_events(workspace, 12)
    workspace.write(lambda cur: cur.execute(
        "UPDATE audit_events SET actor = 'mallory' WHERE seq = 5"))
    assert main(["audit", "verify", "--workspace", "test"]) == 1
    out, err = output(capsys)
    lines = (out + err).splitlines()
    assert any(line.startswith("Audit chain BROKEN at event #5") for line in lines), lines


def test_verify_removed_newest_event(
    workspace: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    record_events(workspace, 3)
    workspace.write(lambda cur: cur.execute("DELETE FROM audit_events WHERE seq = 3"))
    assert main(["audit", "verify", "--workspace", "test"]) == 1
    out, err = output(capsys)
    assert "Audit chain BROKEN" in out + err


def test_verify_missing_workspace_is_an_error_and_creates_nothing(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["audit", "verify", "--workspace", "nowhere"]) == 2
    _, err = output(capsys)
    assert err.startswith("error: ") and "nowhere" in err
    assert not (data_dir / "nowhere.duckdb").exists()


def test_verify_demo_workspace(demo_copy: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "verify", "--workspace", "demo"]) == 0
    out, _ = output(capsys)
    assert out.startswith("Audit chain intact: ")


# --- access grant / list / revoke -----------------------------------------------------------

def test_grant_list_revoke(demo_copy: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["access", "grant", "--workspace", "demo", "--email", EMAIL,
                 "--role", "admin", "--role", "revops"]) == 0
    assert member_roles("demo")[EMAIL] == ["admin", "revops"]
    (event,) = audit_rows("demo", "access.grant")
    assert event["entity_id"] == EMAIL
    assert json.loads(event["after_json"]) == {"roles": ["admin", "revops"]}
    close_all_workspaces()
    output(capsys)

    assert main(["access", "list", "--workspace", "demo"]) == 0
    out, _ = output(capsys)
    (line,) = [line for line in out.splitlines() if EMAIL in line]
    assert "admin" in line and "revops" in line
    manager_lines = [line for line in out.splitlines() if line.rstrip().endswith("manager")]
    assert len(manager_lines) == 1  # every member is listed with their roles

    assert main(["access", "revoke", "--workspace", "demo", "--email", EMAIL]) == 0
    assert EMAIL not in member_roles("demo")
    (event,) = audit_rows("demo", "access.revoke")
    assert json.loads(event["before_json"]) == {"roles": ["admin", "revops"]}
    close_all_workspaces()
    output(capsys)

    assert main(["access", "list", "--workspace", "demo"]) == 0
    out, _ = output(capsys)
    assert EMAIL not in out
    assert main(["audit", "verify", "--workspace", "demo"]) == 0


def test_grant_changes_roles(demo_copy: Workspace) -> None:
    assert main(["access", "grant", "--workspace", "demo", "--email", EMAIL,
                 "--role", "viewer"]) == 0
    assert main(["access", "grant", "--workspace", "demo", "--email", EMAIL.upper(),
                 "--role", "finance"]) == 0
    assert member_roles("demo")[EMAIL] == ["finance"]
    (event,) = audit_rows("demo", "access.change_roles")
    assert json.loads(event["before_json"]) == {"roles": ["viewer"]}


def test_revoking_the_last_admin_is_refused(
    demo_copy: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    admins = [e for e, roles in member_roles("demo").items() if "admin" in roles]
    assert len(admins) == 1
    close_all_workspaces()
    assert main(["access", "revoke", "--workspace", "demo", "--email", admins[0]]) == 2
    _, err = output(capsys)
    assert err.startswith("error: ") and "last admin" in err
    assert admins[0] in member_roles("demo")


def test_unknown_role_is_refused(demo_copy: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    close_all_workspaces()
    try:
        code = main(["access", "grant", "--workspace", "demo", "--email", EMAIL,
                     "--role", "superuser"])
    except SystemExit as exc:  # argparse refuses choices it does not know
        code = exc.code
    assert code == 2
    _, err = output(capsys)
    assert "superuser" in err and "unexpected failure" not in err
    assert EMAIL not in member_roles("demo")


def test_invalid_email_is_refused(demo_copy: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    close_all_workspaces()
    assert main(["access", "grant", "--workspace", "demo", "--email", "not-an-email",
                 "--role", "viewer"]) == 2
    _, err = output(capsys)
    assert err.startswith("error: ") and "not an email address" in err


def test_list_empty_workspace(workspace: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["access", "list", "--workspace", "test"]) == 0
    out, _ = output(capsys)
    assert "Nobody has access" in out
