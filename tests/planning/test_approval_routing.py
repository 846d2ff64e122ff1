"""Approvals that cannot deadlock and do not go blind: routes checked against the people who
hold each role at submit time, alternates, withdrawal, whom a step waits for, the approver's
summary, a named dry run and publish progress."""

from __future__ import annotations

import pandas as pd
import pytest

from planning.access.membership import grant_roles
from planning.access.policy import AccessDeniedError, system_principal
from planning.access.roles import Role
from planning.approvals import (
    DecisionError,
    UnroutableError,
    alternates,
    approver_summary,
    decide,
    requests,
    set_alternate,
    submit_version,
    waiting_for,
    waits_for,
    withdraw_request,
)
from planning.audit import verify_chain
from planning.store import Workspace
from planning.writeback import named_preview, publish
from tests.planning.test_approvals import (
    book_with_moves,
    demo_accounts,
    quota_version,
    request_row,
    status_of,
    territory_version,
)
from tests.views.test_pages import demo_user


def audit_actions(ws: Workspace, action: str) -> list[dict]:
    return ws.read(lambda cur: cur.execute(
        "SELECT actor, entity_id, reason FROM audit_events WHERE action = ? ORDER BY seq",
        [action]).df()).to_dict("records")


def shown(ws: Workspace, email: str) -> str:
    """A member as the waits-for lists show them: "Display Name <email>"."""
    name = ws.read(lambda cur: cur.execute(
        "SELECT display_name FROM workspace_members WHERE email = ?", [email]).fetchone()[0])
    return f"{name} <{email}>"


def moved_book(ws: Workspace, share: float = 0.06) -> pd.DataFrame:
    accounts = demo_accounts(ws)
    smb = list(accounts.loc[accounts["segment"] == "SMB", "account_id"])
    return book_with_moves(ws, smb[: int(share * len(accounts))])


def test_a_territory_request_by_the_only_revops_person_is_refused(demo_copy: Workspace) -> None:
    revops = demo_user(demo_copy, Role.REVOPS)
    version_id = territory_version(demo_copy, moved_book(demo_copy), author=revops.email)
    with pytest.raises(UnroutableError, match="The RevOps step can only be decided by you, "
                                              "the submitter: grant RevOps to someone else or "
                                              "set an alternate"):
        submit_version(demo_copy, version_id, revops)
    assert status_of(demo_copy, version_id) == "draft"
    assert demo_copy.read(lambda cur: cur.execute(
        "SELECT count(*) FROM approval_requests").fetchone()[0]) == 0


def test_a_role_nobody_holds_is_refused(demo_copy: Workspace) -> None:
    revops = demo_user(demo_copy, Role.REVOPS)
    leader = demo_user(demo_copy, Role.SALES_LEADER)
    grant_roles(demo_copy, None, leader.email, [Role.REVOPS])
    grant_roles(demo_copy, None, "second.revops@example.com", [Role.REVOPS])
    version_id = territory_version(demo_copy, moved_book(demo_copy), author=revops.email)
    with pytest.raises(UnroutableError, match="Nobody in this workspace holds sales leader"):
        submit_version(demo_copy, version_id, revops)


def test_an_alternate_makes_the_route_decidable(demo_copy: Workspace) -> None:
    revops = demo_user(demo_copy, Role.REVOPS)
    finance = demo_user(demo_copy, Role.FINANCE)
    leader = demo_user(demo_copy, Role.SALES_LEADER)
    admin = demo_user(demo_copy, Role.ADMIN)
    with pytest.raises(AccessDeniedError):
        set_alternate(demo_copy, "revops", finance.email, revops)
    set_alternate(demo_copy, "revops", finance.email, admin, reason="only one RevOps person")
    assert alternates(demo_copy) == {"revops": finance.email}
    assert audit_actions(demo_copy, "approval.alternate") == [
        {"actor": admin.email, "entity_id": "revops", "reason": "only one RevOps person"}]

    version_id = territory_version(demo_copy, moved_book(demo_copy), author=revops.email)
    request_id = submit_version(demo_copy, version_id, revops)
    waits = waits_for(demo_copy, request_id)
    assert waits[1] == [shown(demo_copy, finance.email) + " (alternate)"]
    assert waits[2] == [shown(demo_copy, leader.email)]
    assert list(waiting_for(demo_copy, finance)["request_id"]) == [request_id]
    assert decide(demo_copy, request_id, 1, finance, "approved") == "pending"
    assert decide(demo_copy, request_id, 2, leader, "approved") == "approved"
    assert status_of(demo_copy, version_id) == "approved"
    assert verify_chain(demo_copy).ok


def test_an_alternate_must_be_a_member(demo_copy: Workspace) -> None:
    system = system_principal(demo_copy.name)
    with pytest.raises(Exception, match="not a member"):
        set_alternate(demo_copy, "revops", "stranger@example.com", system)
    with pytest.raises(Exception, match="Unknown role"):
        set_alternate(demo_copy, "wizard", demo_user(demo_copy, Role.FINANCE).email,
                      system)


def test_requests_say_whom_each_open_step_waits_for(demo_copy: Workspace) -> None:
    comp = demo_user(demo_copy, Role.COMP)
    finance = demo_user(demo_copy, Role.FINANCE)
    leader = demo_user(demo_copy, Role.SALES_LEADER)
    items = pd.DataFrame({"subject": ["rep-a", "rep-b"], "amount_cents": [100_00, 200_00]})
    version_id = quota_version(demo_copy, items, author=comp.email)
    request_id = submit_version(demo_copy, version_id, comp)
    row = requests(demo_copy).set_index("request_id").loc[request_id]
    assert row["waiting_for"] == (f"finance: {shown(demo_copy, finance.email)}; "
                                  f"sales leader: {shown(demo_copy, leader.email)}")
    decide(demo_copy, request_id, 1, finance, "approved")
    assert waits_for(demo_copy, request_id) == {3: [shown(demo_copy, leader.email)]}


def test_the_submitter_withdraws_and_resubmits(demo_copy: Workspace) -> None:
    comp = demo_user(demo_copy, Role.COMP)
    finance = demo_user(demo_copy, Role.FINANCE)
    items = pd.DataFrame({"subject": ["rep-a"], "amount_cents": [100_00]})
    version_id = quota_version(demo_copy, items, author=comp.email)
    request_id = submit_version(demo_copy, version_id, comp)
    with pytest.raises(DecisionError, match="Only the submitter"):
        withdraw_request(demo_copy, request_id, finance)
    withdraw_request(demo_copy, request_id, comp, reason="wrong version")
    assert request_row(demo_copy, request_id)["status"] == "withdrawn"
    assert status_of(demo_copy, version_id) == "draft"
    assert waiting_for(demo_copy, finance).empty
    assert audit_actions(demo_copy, "approval.withdraw") == [
        {"actor": comp.email, "entity_id": request_id, "reason": "wrong version"}]
    with pytest.raises(DecisionError, match="only an open request"):
        withdraw_request(demo_copy, request_id, comp)
    again = submit_version(demo_copy, version_id, comp)
    assert again != request_id and status_of(demo_copy, version_id) == "submitted"
    assert verify_chain(demo_copy).ok


def test_the_approver_summary_names_the_biggest_changes(demo_copy: Workspace) -> None:
    planner = demo_user(demo_copy, Role.ADMIN)
    version_id = territory_version(demo_copy, moved_book(demo_copy), author=planner.email)
    request_id = submit_version(demo_copy, version_id, planner)
    summary = approver_summary(demo_copy, request_id, 1)

    assert summary.baseline_id is None and summary.compare_query is None
    assert summary.change_summary is None
    assert summary.baseline_text.startswith("First version")
    assert summary.rule == ("every territory version needs RevOps; more than 5% of accounts "
                            "move (policy version 1)")
    changes = summary.biggest_changes
    assert len(changes) == 10
    names = demo_copy.read(lambda cur: dict(cur.execute(
        "SELECT account_id, name FROM accounts").fetchall()))
    reps = demo_copy.read(lambda cur: dict(cur.execute(
        "SELECT rep_id, name FROM reps").fetchall()))
    assert list(changes["account"]) == [names[a] for a in changes["account_id"]]
    assert set(changes["to_rep"]) <= set(reps.values())
    assert set(changes["from_rep"]) <= set(reps.values())
    assert list(changes["revenue_cents"]) == sorted(changes["revenue_cents"], reverse=True)
    figures = {f.label: f for f in summary.totals}
    moved = len(moved_book(demo_copy).query("assignee != previous"))
    assert figures["Accounts with a new rep"].value == f"{moved:,}"


def test_the_summary_compares_with_the_published_version(demo_copy: Workspace) -> None:
    comp = demo_user(demo_copy, Role.COMP)
    finance = demo_user(demo_copy, Role.FINANCE)
    leader = demo_user(demo_copy, Role.SALES_LEADER)
    reps = demo_copy.read(lambda cur: cur.execute(
        "SELECT rep_id, name FROM reps WHERE role = 'rep' ORDER BY rep_id LIMIT 12").df())
    first = pd.DataFrame({"subject": reps["rep_id"], "amount_cents": [100_000_00] * 12})
    published = quota_version(demo_copy, first, name="First", author=comp.email)
    request_id = submit_version(demo_copy, published, comp)
    decide(demo_copy, request_id, 1, finance, "approved")
    decide(demo_copy, request_id, 3, leader, "approved")
    events: list[tuple[float, str]] = []
    publish(demo_copy, published, comp, progress=lambda f, m: events.append((f, m)))
    assert events[-1][0] == 1.0 and all(0 <= f <= 1 for f, _ in events)

    raised = first.assign(amount_cents=[100_000_00 + 1_000_00 * i for i in range(12)])
    second = quota_version(demo_copy, raised, name="Second", author=comp.email)
    request_id = submit_version(demo_copy, second, comp)
    summary = approver_summary(demo_copy, request_id, 1)
    assert summary.baseline_id == published
    assert summary.compare_query == f"?a={published}&b={second}"
    assert summary.baseline_text == "Compared with the published version First"
    assert summary.change_summary and "nan" not in summary.change_summary
    total = {f.label: f for f in summary.totals}["Total quota"]
    assert (total.value, total.baseline, total.change) == ("$1.27M", "$1.2M", "+$66K (+5.5%)")
    assert list(summary.biggest_changes["rep"]) == list(reps["name"][::-1][:10])
    assert summary.biggest_changes["change_cents"].iloc[0] == 11_000_00


def test_the_dry_run_names_accounts_reps_and_fields(demo_copy: Workspace) -> None:
    admin = demo_user(demo_copy, Role.ADMIN)
    version_id = territory_version(demo_copy, moved_book(demo_copy, 0.01), author=admin.email)
    named = named_preview(demo_copy, version_id)
    names = demo_copy.read(lambda cur: dict(cur.execute(
        "SELECT account_id, name FROM accounts").fetchall()))
    reps = demo_copy.read(lambda cur: dict(cur.execute(
        "SELECT rep_id, name FROM reps").fetchall()))
    accounts = named[named["object"] == "Account"]
    assert len(accounts) > 0
    assert list(accounts["record_name"]) == [names[a] for a in accounts["record_id"]]
    assert list(accounts["new_name"]) == [reps[r] for r in accounts["new_value"]]
    assert list(accounts["old_name"]) == [reps[r] for r in accounts["old_value"]]
    assert set(named["field_name"]) == {"Account owner", "Opportunity owner"}
    assert named[named["object"] == "Opportunity"]["record_name"].notna().all()
