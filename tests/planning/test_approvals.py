"""Approvals: policy routing, facts from real versions, separation of duties, rejection,
tamper refusal, policy versions and concurrent decisions on one step."""

from __future__ import annotations

import dataclasses
import json
import threading

import pandas as pd
import pytest

from planning.access.roles import Role
from planning.access.users import User
from planning.approvals import (
    DEFAULT_RULES,
    DecisionError,
    VersionFacts,
    decide,
    publish_policy,
    route,
    submit_version,
    version_facts,
    waiting_for,
)
from planning.audit import verify_chain
from planning.errors import RevPlanError
from planning.store import Workspace
from planning.versions import VersionIntegrityError, create_version, read_version

QUOTA_ALWAYS = ("every quota version needs finance", "every quota version needs compensation")
REP_CHANGE = "a rep's quota changes by more than 10%"
REVOPS_ALWAYS = "every territory version needs RevOps"
MOVED = "more than 5% of accounts move"
ENTERPRISE = "an enterprise account moves"


def user(email: str, *roles: Role) -> User:
    return User(email, email.split("@")[0].title(), "test", roles=frozenset(roles))


def member_of(ws: Workspace, person: User) -> User:
    """The same person as a user of `ws` (the module's people belong to workspace 'test')."""
    return dataclasses.replace(person, workspace=ws.name)


PLANNER = user("planner@example.com", Role.REVOPS)
FINANCE = user("fiona@example.com", Role.FINANCE)
COMP = user("carl@example.com", Role.COMP)
LEADER = user("sally@example.com", Role.SALES_LEADER)
REVOPS = user("rory@example.com", Role.REVOPS)
ADMIN = user("admin@example.com", Role.ADMIN)


def routed(kind: str, facts: VersionFacts, rules: dict = DEFAULT_RULES) -> list[tuple]:
    return [(step.role, step.reasons) for step in route(rules, kind, facts)]


def quota_version(ws: Workspace, items: pd.DataFrame, *, name: str = "FY27 quotas",
                  fiscal_year: int = 2027, parent_id: str | None = None,
                  author: str = PLANNER.email) -> str:
    return ws.write(lambda cur: create_version(
        cur, kind="quota", name=name, items=items, parameters={"fiscal_year": fiscal_year},
        solver={"status": "optimal"}, metrics={}, author=author, actor_role="revops",
        fiscal_year=fiscal_year, parent_id=parent_id))


def territory_version(ws: Workspace, items: pd.DataFrame, *, name: str = "FY27 territories",
                      author: str = PLANNER.email) -> str:
    return ws.write(lambda cur: create_version(
        cur, kind="territory", name=name, items=items, parameters={"balance": "workload"},
        solver={"status": "optimal"}, metrics={}, author=author, actor_role="revops"))


def simple_quota(ws: Workspace, name: str = "FY27 quotas", first_cents: int = 100_000_00) -> str:
    """A small quota version in an empty workspace (no prior quotas: every rep counts as a
    change, so it routes to finance, comp and sales_leader); `first_cents` tells two apart."""
    items = pd.DataFrame({"subject": ["rep-a", "rep-b", "rep-c"],
                          "amount_cents": [first_cents, 200_000_00, 300_000_00]})
    return quota_version(ws, items, name=name)


def demo_quotas(ws: Workspace, year: int = 2026) -> pd.DataFrame:
    return ws.read(lambda cur: cur.execute(
        "SELECT rep_id, quota_cents FROM rep_quotas WHERE fiscal_year = ? ORDER BY rep_id",
        [year]).df())


def demo_accounts(ws: Workspace) -> pd.DataFrame:
    return ws.read(lambda cur: cur.execute(
        "SELECT account_id, owner_id, segment FROM accounts ORDER BY account_id").df())


def other_rep(ws: Workspace, owner: str) -> str:
    return ws.read(lambda cur: cur.execute(
        "SELECT min(rep_id) FROM reps WHERE role = 'rep' AND rep_id <> ?", [owner]
    ).fetchone()[0])


def book_with_moves(ws: Workspace, move: list[str]) -> pd.DataFrame:
    accounts = demo_accounts(ws)
    assignee = [other_rep(ws, o) if a in move else o
                for a, o in zip(accounts["account_id"], accounts["owner_id"], strict=True)]
    return pd.DataFrame({"subject": accounts["account_id"], "assignee": assignee,
                         "previous": accounts["owner_id"]})


def facts_of(ws: Workspace, version_id: str) -> VersionFacts:
    return ws.read(lambda cur: version_facts(cur, version_id))


def request_row(ws: Workspace, request_id: str) -> dict:
    result = ws.read(lambda cur: cur.execute(
        "SELECT * FROM approval_requests WHERE request_id = ?", [request_id]).df())
    assert len(result) == 1
    return result.iloc[0].to_dict()


def steps_of(ws: Workspace, request_id: str) -> list[dict]:
    return ws.read(lambda cur: cur.execute(
        "SELECT step_no, role, reason, status, decided_by, comment FROM approval_steps "
        "WHERE request_id = ? ORDER BY step_no", [request_id]).df()).to_dict("records")


def status_of(ws: Workspace, version_id: str) -> str:
    return ws.read(lambda cur: read_version(cur, version_id)).status


def step_statuses(ws: Workspace, request_id: str) -> list[str]:
    return [s["status"] for s in steps_of(ws, request_id)]


# ----------------------------------------------------------------------------- routing


@pytest.mark.parametrize(("kind", "facts", "expected"), [
    pytest.param("quota", VersionFacts(0.05, 0.0, 0),
                 [("finance", QUOTA_ALWAYS[:1]), ("comp", QUOTA_ALWAYS[1:])],
                 id="quota-5pct"),
    pytest.param("quota", VersionFacts(0.10, 0.0, 0),
                 [("finance", QUOTA_ALWAYS[:1]), ("comp", QUOTA_ALWAYS[1:])],
                 id="quota-at-threshold"),
    pytest.param("quota", VersionFacts(0.15, 0.0, 0),
                 [("finance", QUOTA_ALWAYS[:1]), ("comp", QUOTA_ALWAYS[1:]),
                  ("sales_leader", (REP_CHANGE,))],
                 id="quota-15pct"),
    pytest.param("quota", VersionFacts(float("inf"), 0.0, 0),
                 [("finance", QUOTA_ALWAYS[:1]), ("comp", QUOTA_ALWAYS[1:]),
                  ("sales_leader", (REP_CHANGE,))],
                 id="quota-new-rep"),
    pytest.param("territory", VersionFacts(0.0, 0.02, 0),
                 [("revops", (REVOPS_ALWAYS,))],
                 id="territory-2pct"),
    pytest.param("territory", VersionFacts(0.0, 0.05, 0),
                 [("revops", (REVOPS_ALWAYS,))],
                 id="territory-at-threshold"),
    pytest.param("territory", VersionFacts(0.0, 0.06, 0),
                 [("revops", (REVOPS_ALWAYS, MOVED)), ("sales_leader", (MOVED,))],
                 id="territory-6pct"),
    pytest.param("territory", VersionFacts(0.0, 0.01, 1),
                 [("revops", (REVOPS_ALWAYS,)), ("sales_leader", (ENTERPRISE,))],
                 id="territory-enterprise"),
    pytest.param("territory", VersionFacts(0.0, 0.06, 2),
                 [("revops", (REVOPS_ALWAYS, MOVED)), ("sales_leader", (MOVED, ENTERPRISE))],
                 id="territory-6pct-enterprise"),
])
def test_route_under_the_default_policy(kind: str, facts: VersionFacts,
                                        expected: list[tuple]) -> None:
    assert routed(kind, facts) == expected


def test_quota_facts_do_not_route_territory_rules() -> None:
    facts = VersionFacts(largest_rep_change=0.9, moved_share=0.0, enterprise_moved=0)
    assert [role for role, _ in routed("territory", facts)] == ["revops"]
    facts = VersionFacts(largest_rep_change=0.0, moved_share=0.9, enterprise_moved=5)
    assert [role for role, _ in routed("quota", facts)] == ["finance", "comp"]


# ----------------------------------------------------------------------------- facts


def test_quota_facts_against_last_years_quotas(demo_copy: Workspace) -> None:
    base = demo_quotas(demo_copy, 2026)
    assert len(base) > 5
    items = pd.DataFrame({"subject": base["rep_id"],
                          "amount_cents": [int(q) * 105 // 100 for q in base["quota_cents"]]})
    version_id = quota_version(demo_copy, items)
    facts = facts_of(demo_copy, version_id)
    assert facts.largest_rep_change == pytest.approx(0.05, abs=1e-9)
    assert (facts.moved_share, facts.enterprise_moved) == (0.0, 0)
    assert [s.role for s in route(DEFAULT_RULES, "quota", facts)] == ["finance", "comp"]

    bumped = items.copy()
    bumped.loc[3, "amount_cents"] = int(base.loc[3, "quota_cents"]) * 120 // 100
    bumped_id = quota_version(demo_copy, bumped, name="bumped")
    facts = facts_of(demo_copy, bumped_id)
    assert facts.largest_rep_change == pytest.approx(0.20, abs=1e-9)
    assert [s.role for s in route(DEFAULT_RULES, "quota", facts)] == [
        "finance", "comp", "sales_leader"]

    cut = items.copy()
    cut.loc[0, "amount_cents"] = int(base.loc[0, "quota_cents"]) * 70 // 100
    facts = facts_of(demo_copy, quota_version(demo_copy, cut, name="cut"))
    assert facts.largest_rep_change == pytest.approx(0.30, abs=1e-9)


def test_quota_facts_count_a_rep_without_last_years_quota_as_a_change(
        demo_copy: Workspace) -> None:
    base = demo_quotas(demo_copy, 2026)
    items = pd.DataFrame({"subject": [*base["rep_id"], "rep-new-hire"],
                          "amount_cents": [*base["quota_cents"], 50_000_000]})
    facts = facts_of(demo_copy, quota_version(demo_copy, items))
    assert facts.largest_rep_change == float("inf")


def test_quota_facts_of_a_child_compare_with_the_parent(demo_copy: Workspace) -> None:
    base = demo_quotas(demo_copy, 2026)
    doubled = pd.DataFrame({"subject": base["rep_id"],
                            "amount_cents": [int(q) * 2 for q in base["quota_cents"]]})
    parent = quota_version(demo_copy, doubled, name="doubled")
    assert facts_of(demo_copy, parent).largest_rep_change == pytest.approx(1.0, abs=1e-9)
    child_items = doubled.copy()
    child_items.loc[2, "amount_cents"] = int(child_items.loc[2, "amount_cents"]) * 103 // 100
    child = quota_version(demo_copy, child_items, name="tweaked", parent_id=parent)
    assert facts_of(demo_copy, child).largest_rep_change == pytest.approx(0.03, abs=1e-6)


def test_a_quota_raised_by_exactly_ten_percent_is_not_more_than_ten_percent(
        demo_copy: Workspace) -> None:
    base = demo_quotas(demo_copy, 2026)
    items = pd.DataFrame({"subject": base["rep_id"],
                          "amount_cents": [int(q) * 110 // 100 for q in base["quota_cents"]]})
    facts = facts_of(demo_copy, quota_version(demo_copy, items))
    assert [s.role for s in route(DEFAULT_RULES, "quota", facts)] == ["finance", "comp"]


@pytest.mark.parametrize("k", [0, 3, 12, 40])
def test_territory_facts_match_direct_sql(demo_copy: Workspace, k: int) -> None:
    accounts = demo_accounts(demo_copy)
    # Every 7th account, so the moved set mixes segments.
    move = list(accounts["account_id"].iloc[::7][:k])
    assert len(move) == k
    version_id = territory_version(demo_copy, book_with_moves(demo_copy, move))
    facts = facts_of(demo_copy, version_id)
    assert facts.moved_share == pytest.approx(k / len(accounts), abs=1e-12)
    enterprise = demo_copy.read(lambda cur: cur.execute(
        "SELECT count(*) FROM accounts WHERE segment = 'Enterprise' AND list_contains(?, "
        "account_id)", [move]).fetchone()[0])
    assert facts.enterprise_moved == enterprise
    assert facts.largest_rep_change == 0.0


def test_territory_facts_count_enterprise_moves(demo_copy: Workspace) -> None:
    accounts = demo_accounts(demo_copy)
    enterprise = list(accounts.loc[accounts["segment"] == "Enterprise", "account_id"][:2])
    other = list(accounts.loc[accounts["segment"] == "SMB", "account_id"][:3])
    assert len(enterprise) == 2
    version_id = territory_version(demo_copy, book_with_moves(demo_copy, enterprise + other))
    facts = facts_of(demo_copy, version_id)
    assert facts.enterprise_moved == 2
    assert facts.moved_share == pytest.approx(5 / len(accounts), abs=1e-12)
    roles = [s.role for s in route(DEFAULT_RULES, "territory", facts)]
    assert roles == ["revops", "sales_leader"]


# ----------------------------------------------------------------------------- submit


def test_submit_creates_a_request_with_steps(demo_copy: Workspace) -> None:
    base = demo_quotas(demo_copy, 2026)
    items = pd.DataFrame({"subject": base["rep_id"],
                          "amount_cents": [int(q) * 105 // 100 for q in base["quota_cents"]]})
    version_id = quota_version(demo_copy, items)
    request_id = submit_version(demo_copy, version_id, member_of(demo_copy, PLANNER))

    assert status_of(demo_copy, version_id) == "submitted"
    request = request_row(demo_copy, request_id)
    assert request["version_id"] == version_id
    assert request["status"] == "pending"
    assert request["policy_version"] == 1
    assert request["submitted_by"] == PLANNER.email
    assert request["content_hash"] == demo_copy.read(
        lambda cur: read_version(cur, version_id)).content_hash
    assert [r["role"] for r in json.loads(request["route"])] == ["finance", "comp"]
    steps = steps_of(demo_copy, request_id)
    assert [(s["step_no"], s["role"], s["status"]) for s in steps] == [
        (1, "finance", "pending"), (2, "comp", "pending")]
    assert steps[0]["reason"] == QUOTA_ALWAYS[0]
    assert all(pd.isna(s["decided_by"]) for s in steps)
    submits = demo_copy.read(lambda cur: cur.execute(
        "SELECT count(*) FROM audit_events WHERE action = 'approval.submit' AND entity_id = ?",
        [request_id]).fetchone()[0])
    assert submits == 1


def test_a_territory_request_routes_by_moved_share(demo_copy: Workspace) -> None:
    accounts = demo_accounts(demo_copy)
    smb = list(accounts.loc[accounts["segment"] == "SMB", "account_id"])
    n = len(accounts)
    few = smb[: int(0.02 * n)]
    many = smb[: int(0.06 * n)]
    small = territory_version(demo_copy, book_with_moves(demo_copy, few), name="few")
    large = territory_version(demo_copy, book_with_moves(demo_copy, many), name="many")
    small_request = submit_version(demo_copy, small, member_of(demo_copy, PLANNER))
    large_request = submit_version(demo_copy, large, member_of(demo_copy, PLANNER))
    assert [(s["role"], s["reason"]) for s in steps_of(demo_copy, small_request)] == [
        ("revops", REVOPS_ALWAYS)]
    assert [(s["role"], s["reason"]) for s in steps_of(demo_copy, large_request)] == [
        ("revops", f"{REVOPS_ALWAYS}; {MOVED}"), ("sales_leader", MOVED)]


def test_only_a_draft_can_be_submitted(workspace: Workspace) -> None:
    version_id = simple_quota(workspace)
    submit_version(workspace, version_id, PLANNER)
    with pytest.raises(RevPlanError, match="submitted"):
        submit_version(workspace, version_id, PLANNER)
    assert workspace.read(lambda cur: cur.execute(
        "SELECT count(*) FROM approval_requests").fetchone()[0]) == 1


# ----------------------------------------------------------------------------- deciding


def test_the_submitter_cannot_decide(workspace: Workspace) -> None:
    submitter = user("both@example.com", Role.FINANCE, Role.REVOPS)
    version_id = simple_quota(workspace)
    request_id = submit_version(workspace, version_id, submitter)
    with pytest.raises(DecisionError, match="submitted"):
        decide(workspace, request_id, 1, submitter, "approved")
    assert step_statuses(workspace, request_id) == ["pending", "pending", "pending"]
    assert waiting_for(workspace, submitter).empty
    assert list(waiting_for(workspace, FINANCE)["request_id"]) == [request_id]


def test_one_person_cannot_decide_two_steps_of_one_request(workspace: Workspace) -> None:
    finance_and_comp = user("dual@example.com", Role.FINANCE, Role.COMP)
    request_id = submit_version(workspace, simple_quota(workspace), PLANNER)
    assert list(waiting_for(workspace, finance_and_comp)["step_no"]) == [1, 2]
    assert decide(workspace, request_id, 1, finance_and_comp, "approved") == "pending"
    with pytest.raises(DecisionError, match="already decided a step"):
        decide(workspace, request_id, 2, finance_and_comp, "approved")
    assert step_statuses(workspace, request_id) == ["approved", "pending", "pending"]
    assert waiting_for(workspace, finance_and_comp).empty
    # Another comp person can still take step 2.
    assert decide(workspace, request_id, 2, COMP, "approved") == "pending"


def test_a_user_without_the_role_cannot_decide(workspace: Workspace) -> None:
    request_id = submit_version(workspace, simple_quota(workspace), PLANNER)
    with pytest.raises(DecisionError, match="finance"):
        decide(workspace, request_id, 1, COMP, "approved")
    with pytest.raises(DecisionError, match="sales_leader"):
        decide(workspace, request_id, 3, FINANCE, "approved")
    assert step_statuses(workspace, request_id) == ["pending", "pending", "pending"]


def test_every_step_approved_approves_request_and_version(workspace: Workspace) -> None:
    version_id = simple_quota(workspace)
    request_id = submit_version(workspace, version_id, PLANNER)
    assert decide(workspace, request_id, 2, COMP, "approved") == "pending"
    assert status_of(workspace, version_id) == "submitted"
    assert decide(workspace, request_id, 1, FINANCE, "approved") == "pending"
    assert request_row(workspace, request_id)["status"] == "pending"
    assert decide(workspace, request_id, 3, LEADER, "approved", "fine by me") == "approved"
    assert request_row(workspace, request_id)["status"] == "approved"
    assert status_of(workspace, version_id) == "approved"
    steps = steps_of(workspace, request_id)
    assert [(s["status"], s["decided_by"]) for s in steps] == [
        ("approved", FINANCE.email), ("approved", COMP.email), ("approved", LEADER.email)]
    assert steps[2]["comment"] == "fine by me"
    with pytest.raises(DecisionError, match="already decided"):
        decide(workspace, request_id, 1, user("late@example.com", Role.FINANCE), "approved")


def test_rejection_needs_a_comment_and_skips_the_rest(workspace: Workspace) -> None:
    version_id = simple_quota(workspace)
    request_id = submit_version(workspace, version_id, PLANNER)
    assert decide(workspace, request_id, 1, FINANCE, "approved") == "pending"
    for comment in ("", "  ", "no"):
        with pytest.raises(RevPlanError, match="Say why"):
            decide(workspace, request_id, 2, COMP, "rejected", comment)
    assert step_statuses(workspace, request_id) == ["approved", "pending", "pending"]

    assert decide(workspace, request_id, 2, COMP, "rejected", "Too steep for SMB") == "rejected"
    assert request_row(workspace, request_id)["status"] == "rejected"
    assert status_of(workspace, version_id) == "rejected"
    steps = steps_of(workspace, request_id)
    assert [s["status"] for s in steps] == ["approved", "rejected", "skipped"]
    assert steps[1]["comment"] == "Too steep for SMB"
    assert pd.isna(steps[2]["decided_by"])
    with pytest.raises(DecisionError):
        decide(workspace, request_id, 3, LEADER, "approved")
    reason = workspace.read(lambda cur: cur.execute(
        "SELECT reason FROM audit_events WHERE action = 'approval.rejected' AND entity_id = ?",
        [request_id]).fetchone()[0])
    assert reason == "Too steep for SMB"


def test_changes_requested_allows_a_new_submission(workspace: Workspace) -> None:
    version_id = simple_quota(workspace)
    first = submit_version(workspace, version_id, PLANNER)
    assert decide(workspace, first, 1, FINANCE, "changes_requested", "Split Q4") == (
        "changes_requested")
    assert status_of(workspace, version_id) == "changes_requested"
    assert step_statuses(workspace, first) == ["changes_requested", "skipped", "skipped"]
    second = submit_version(workspace, version_id, PLANNER)
    assert second != first
    assert status_of(workspace, version_id) == "submitted"
    assert step_statuses(workspace, second) == ["pending", "pending", "pending"]


@pytest.mark.parametrize("tamper", [
    "UPDATE plan_version_items SET amount_cents = amount_cents * 2 "
    "WHERE version_id = ? AND subject = 'rep-b'",
    "UPDATE plan_versions SET parameters = '{\"fiscal_year\":2026}' WHERE version_id = ?",
])
def test_a_decision_on_tampered_content_is_refused(workspace: Workspace, tamper: str) -> None:
    version_id = simple_quota(workspace)
    request_id = submit_version(workspace, version_id, PLANNER)
    assert decide(workspace, request_id, 1, FINANCE, "approved") == "pending"
    workspace.write(lambda cur: cur.execute(tamper, [version_id]))
    with pytest.raises(VersionIntegrityError):
        decide(workspace, request_id, 2, COMP, "approved")
    assert step_statuses(workspace, request_id) == ["approved", "pending", "pending"]
    assert request_row(workspace, request_id)["status"] == "pending"
    assert status_of(workspace, version_id) == "submitted"


def test_a_tampered_draft_cannot_be_submitted(workspace: Workspace) -> None:
    version_id = simple_quota(workspace)
    workspace.write(lambda cur: cur.execute(
        "UPDATE plan_version_items SET amount_cents = 1 WHERE version_id = ?", [version_id]))
    with pytest.raises(VersionIntegrityError):
        submit_version(workspace, version_id, PLANNER)
    assert status_of(workspace, version_id) == "draft"


def test_a_compensation_submitter_signs_the_comp_step(demo_copy: Workspace) -> None:
    base = demo_quotas(demo_copy, 2026)
    items = pd.DataFrame({"subject": base["rep_id"],
                          "amount_cents": [int(q) * 105 // 100 for q in base["quota_cents"]]})
    version_id = quota_version(demo_copy, items, author=COMP.email)
    request_id = submit_version(demo_copy, version_id, member_of(demo_copy, COMP))
    steps = steps_of(demo_copy, request_id)
    assert [(s["role"], s["status"]) for s in steps] == [
        ("finance", "pending"), ("comp", "signed")]
    assert steps[1]["decided_by"] == COMP.email
    assert pd.isna(steps[0]["decided_by"])
    assert request_row(demo_copy, request_id)["status"] == "pending"
    assert status_of(demo_copy, version_id) == "submitted"
    with pytest.raises(DecisionError):
        decide(demo_copy, request_id, 2,
           member_of(demo_copy, user("carla@example.com", Role.COMP)), "approved")
    assert decide(demo_copy, request_id, 1, member_of(demo_copy, FINANCE), "approved") == "approved"
    assert status_of(demo_copy, version_id) == "approved"


def test_a_submitter_without_the_role_does_not_sign(workspace: Workspace) -> None:
    request_id = submit_version(workspace, simple_quota(workspace), FINANCE)
    assert step_statuses(workspace, request_id) == ["pending", "pending", "pending"]
    with pytest.raises(DecisionError, match="submitted"):
        decide(workspace, request_id, 1, FINANCE, "approved")


# ----------------------------------------------------------------------------- policies


def test_a_new_policy_applies_to_later_submissions_only(workspace: Workspace) -> None:
    old_version = simple_quota(workspace, "before")
    old_request = submit_version(workspace, old_version, PLANNER)
    assert request_row(workspace, old_request)["policy_version"] == 1

    rules = {"quota": [{"role": "finance", "when": "always", "why": "finance signs off"}],
             "territory": DEFAULT_RULES["territory"]}
    assert publish_policy(workspace, rules, user=ADMIN) == 2

    new_version = simple_quota(workspace, "after", first_cents=110_000_00)
    new_request = submit_version(workspace, new_version, PLANNER)
    assert request_row(workspace, new_request)["policy_version"] == 2
    assert [(s["role"], s["reason"]) for s in steps_of(workspace, new_request)] == [
        ("finance", "finance signs off")]
    assert request_row(workspace, old_request)["policy_version"] == 1
    assert [s["role"] for s in steps_of(workspace, old_request)] == [
        "finance", "comp", "sales_leader"]
    stored = workspace.read(lambda cur: cur.execute(
        "SELECT policy_version, rules FROM approval_policies ORDER BY 1").fetchall())
    assert [v for v, _ in stored] == [1, 2]
    assert json.loads(stored[0][1]) == DEFAULT_RULES
    assert json.loads(stored[1][1]) == rules
    assert decide(workspace, new_request, 1, FINANCE, "approved") == "approved"
    assert publish_policy(workspace, DEFAULT_RULES, user=ADMIN) == 3


@pytest.mark.parametrize("rules", [
    {"forecast": []},
    {"quota": [{"role": "cfo", "when": "always", "why": "x"}]},
    {"quota": [{"role": "finance", "when": "sometimes", "why": "x"}]},
])
def test_an_invalid_policy_is_refused(workspace: Workspace, rules: dict) -> None:
    with pytest.raises(RevPlanError):
        publish_policy(workspace, rules, user=ADMIN)
    assert workspace.read(lambda cur: cur.execute(
        "SELECT count(*) FROM approval_policies").fetchone()[0]) == 0


# ----------------------------------------------------------------------------- race


def test_concurrent_decisions_on_one_step_make_exactly_one_transition(
        workspace: Workspace) -> None:
    version_id = simple_quota(workspace)
    request_id = submit_version(workspace, version_id, PLANNER)
    deciders = [user(f"finance{i:02d}@example.com", Role.FINANCE) for i in range(20)]
    barrier = threading.Barrier(len(deciders))
    returned: list[tuple[str, str]] = []
    refused: list[tuple[str, Exception]] = []
    other: list[BaseException] = []
    lock = threading.Lock()

    def attempt(person: User) -> None:
        barrier.wait()
        try:
            outcome = decide(workspace, request_id, 1, person, "approved")
        except DecisionError as exc:
            with lock:
                refused.append((person.email, exc))
        except BaseException as exc:  # noqa: BLE001 - reported below
            with lock:
                other.append(exc)
        else:
            with lock:
                returned.append((person.email, outcome))

    threads = [threading.Thread(target=attempt, args=(p,)) for p in deciders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(t.is_alive() for t in threads)

    assert other == []
    assert len(returned) == 1
    assert len(refused) == 19
    winner, outcome = returned[0]
    assert outcome == "pending"
    assert all("already decided" in str(exc) for _, exc in refused)

    steps = steps_of(workspace, request_id)
    assert (steps[0]["status"], steps[0]["decided_by"]) == ("approved", winner)
    assert [s["status"] for s in steps[1:]] == ["pending", "pending"]
    events = workspace.read(lambda cur: cur.execute(
        "SELECT actor, after_json FROM audit_events WHERE action = 'approval.approved' "
        "AND entity_id = ?", [request_id]).fetchall())
    step_one = [actor for actor, after in events if json.loads(after)["step"] == 1]
    assert step_one == [winner]

    chain = verify_chain(workspace)
    assert chain.ok, chain.to_text()
    total = workspace.read(lambda cur: cur.execute(
        "SELECT count(*) FROM audit_events").fetchone()[0])
    assert chain.events == total
