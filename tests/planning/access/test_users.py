"""One email, one person: every entry (sign-in, User, `--as`, grants, approvals, audit) compares
the canonical form, also against rows stored before emails were stored canonically."""

from __future__ import annotations

import json

import pytest

from auth.settings import load_auth_settings
from planning.access.membership import grant_roles, resolve_user, revoke_access, roles_in
from planning.access.policy import system_principal
from planning.access.roles import Role
from planning.access.users import Identity, User, canonical_email, same_email
from planning.approvals import DecisionError, decide, submit_version, waiting_for, withdraw_request
from planning.audit import audit_events
from planning.cli import main
from planning.store import Workspace, open_workspace
from tests.planning.test_approvals import simple_quota

PLANNER = "planner@example.com"
PEOPLE = {PLANNER: Role.REVOPS, "fiona@example.com": Role.FINANCE,
          "carl@example.com": Role.COMP, "sally@example.com": Role.SALES_LEADER}


def person(email: str, *roles: Role) -> User:
    return User(email, email.split("@")[0], "test", roles=frozenset(roles))


@pytest.fixture
def staffed(workspace: Workspace) -> Workspace:
    """The test workspace with one member per approval role (and the planner)."""
    for email, role in PEOPLE.items():
        grant_roles(workspace, None, email, [role.value])
    return workspace


def test_canonical_email_trims_and_lowercases() -> None:
    assert canonical_email("  Planner@Example.COM ") == PLANNER
    assert canonical_email(None) == ""
    assert same_email("PLANNER@EXAMPLE.COM", PLANNER)
    assert not same_email("", "")
    assert not same_email(PLANNER, "fiona@example.com")


def test_user_and_identity_hold_the_canonical_email() -> None:
    assert person(" PLANNER@Example.com", Role.REVOPS).email == PLANNER
    assert Identity("PLANNER@EXAMPLE.COM", "P", "oidc").email == PLANNER
    assert User("PLANNER@EXAMPLE.COM", "P", "test", frozenset()) == User(PLANNER, "P", "test",
                                                                          frozenset())


def test_deciding_ones_own_request_in_upper_case_is_refused(staffed: Workspace) -> None:
    both = "both@example.com"
    grant_roles(staffed, None, both, [Role.FINANCE.value, Role.REVOPS.value])
    request_id = submit_version(staffed, simple_quota(staffed),
                                person(both, Role.FINANCE, Role.REVOPS))
    shouting = person(both.upper(), Role.FINANCE, Role.REVOPS)
    with pytest.raises(DecisionError, match="You submitted this version"):
        decide(staffed, request_id, 1, shouting, "approved")
    assert waiting_for(staffed, shouting).empty


def test_a_submitter_stored_in_mixed_case_still_cannot_decide(staffed: Workspace) -> None:
    both = "both@example.com"
    request_id = submit_version(staffed, simple_quota(staffed),
                                person(both, Role.FINANCE, Role.REVOPS))
    staffed.write(lambda cur: cur.execute(
        "UPDATE approval_requests SET submitted_by = ? WHERE request_id = ?",
        [" Both@Example.COM", request_id]))
    with pytest.raises(DecisionError, match="You submitted this version"):
        decide(staffed, request_id, 1, person(both, Role.FINANCE), "approved")
    assert waiting_for(staffed, person(both, Role.FINANCE)).empty
    withdraw_request(staffed, request_id, person(both.upper(), Role.FINANCE))
    assert staffed.read(lambda cur: cur.execute(
        "SELECT status FROM approval_requests WHERE request_id = ?",
        [request_id]).fetchone()[0]) == "withdrawn"


def test_one_person_in_two_spellings_cannot_decide_two_steps(staffed: Workspace) -> None:
    dual = "dual@example.com"
    request_id = submit_version(staffed, simple_quota(staffed), person(PLANNER, Role.REVOPS))
    assert decide(staffed, request_id, 1, person(dual, Role.FINANCE, Role.COMP),
                  "approved") == "pending"
    with pytest.raises(DecisionError, match="already decided a step"):
        decide(staffed, request_id, 2, person("DUAL@example.com", Role.FINANCE, Role.COMP),
               "approved")


def test_a_grant_in_mixed_case_is_found_in_any_case(workspace: Workspace) -> None:
    settings = load_auth_settings({})
    grant_roles(workspace, None, "  Mixed.Case@Example.COM ", ["finance"])
    for spelling in ("mixed.case@example.com", "MIXED.CASE@EXAMPLE.COM"):
        assert roles_in(workspace, Identity(spelling, "", "demo"), settings) == {Role.FINANCE}
    user = resolve_user(workspace, Identity("MIXED.case@example.com", "", "demo"), settings)
    assert user.email == "mixed.case@example.com"
    grant_roles(workspace, None, "mixed.case@EXAMPLE.com", ["finance", "comp"])
    assert workspace.read(lambda cur: cur.execute(
        "SELECT email, roles FROM workspace_members WHERE email LIKE 'mixed%'").fetchall()) == [
        ("mixed.case@example.com", ["comp", "finance"])]
    revoke_access(workspace, None, "MIXED.CASE@example.com")
    assert roles_in(workspace, Identity("mixed.case@example.com", "", "demo"), settings) == set()


def test_a_member_row_stored_in_mixed_case_is_found(workspace: Workspace) -> None:
    workspace.write(lambda cur: cur.execute(
        "INSERT INTO workspace_members (email, display_name, roles, granted_by, granted_at, "
        "updated_at) VALUES ('Old.Row@Example.com', 'Old', ['viewer'], 'cli', now(), now())"))
    assert roles_in(workspace, Identity("old.row@example.com", "", "demo"),
                    load_auth_settings({})) == {Role.VIEWER}


def test_audit_actor_is_the_canonical_email(staffed: Workspace) -> None:
    submit_version(staffed, simple_quota(staffed), person("Planner@Example.com", Role.REVOPS))
    actors = set(audit_events(staffed, system_principal(staffed.name),
                              action="approval.submit")["actor"])
    assert actors == {PLANNER}
    assert len(audit_events(staffed, system_principal(staffed.name),
                            actor="PLANNER@example.com", action="approval.submit")) == 1


def test_cli_as_in_upper_case_is_the_same_person(staffed: Workspace,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    ws = ["--workspace", staffed.name]
    version_id = simple_quota(staffed)
    assert main(["versions", "submit", version_id, *ws, "--as", "PLANNER@EXAMPLE.COM",
                 "--json"]) == 0
    request_id = json.loads(capsys.readouterr().out)["request_id"]
    submitted_by = open_workspace(staffed.name).read(lambda cur: cur.execute(
        "SELECT submitted_by FROM approval_requests WHERE request_id = ?",
        [request_id]).fetchone()[0])
    assert submitted_by == PLANNER
    assert main(["versions", "withdraw", request_id, *ws, "--as", " Planner@example.com",
                 "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "withdrawn"
    assert main(["versions", "list", *ws, "--as", "FIONA@EXAMPLE.COM"]) == 0
    assert version_id in capsys.readouterr().out
