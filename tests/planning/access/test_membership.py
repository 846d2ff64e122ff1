"""Workspace access on the demo workspace: roles, deal scope, isolation and audited changes.

Expected scopes and sums are computed here independently of `planning.access.membership` and
`planning.store.kpis`: reporting lines are walked in Python, pipeline sums are plain SQL.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pytest

from auth.settings import AuthSettings, load_auth_settings
from planning.access.membership import (
    accessible_workspaces,
    grant_roles,
    members,
    resolve_user,
    revoke_access,
    roles_in,
)
from planning.access.policy import AccessDeniedError, system_principal
from planning.access.roles import WORKSPACE_WIDE_ROLES, Role
from planning.access.users import Identity, User
from planning.audit import audit_events, verify_chain
from planning.errors import RevPlanError
from planning.overview import workspace_kpis
from planning.store import Workspace, open_workspace

TODAY = dt.date(2026, 11, 16)
NOW = dt.datetime(2026, 11, 16, 12, 0, tzinfo=dt.UTC)
STRANGER = "stranger@elsewhere.example"


# --- helpers --------------------------------------------------------------------------------

def identity(email: str, *groups: str) -> Identity:
    return Identity(email=email, name=email.split("@")[0], method="demo", groups=groups)


def demo_settings(**revplan: object) -> AuthSettings:
    return load_auth_settings({"revplan": revplan} if revplan else {}, {})


def member_rows(ws: Workspace) -> dict[str, list[str]]:
    rows = ws.read(lambda cur: cur.execute(
        "SELECT email, roles FROM workspace_members ORDER BY email").fetchall())
    return {email: list(roles) for email, roles in rows}


def email_of(ws: Workspace, role: Role) -> str:
    emails = [e for e, roles in member_rows(ws).items() if roles == [role.value]]
    assert len(emails) == 1, f"demo should seed exactly one {role} member, got {emails}"
    return emails[0]


def all_reps(ws: Workspace) -> pd.DataFrame:
    return ws.read(lambda cur: cur.execute(
        "SELECT rep_id, lower(email) AS email, manager_id, is_active FROM reps").df())


def rep_id_of(ws: Workspace, email: str) -> str:
    reps = all_reps(ws)
    match = reps[reps["email"] == email.lower()]
    assert len(match) == 1
    return str(match["rep_id"].iloc[0])


def subtree_by_walking(ws: Workspace, root: str) -> set[str]:
    """The root and everyone reporting to them, by walking manager_id in Python."""
    reps = all_reps(ws)
    reports: dict[str, list[str]] = {}
    for rep_id, manager_id in zip(reps["rep_id"], reps["manager_id"], strict=True):
        if isinstance(manager_id, str):
            reports.setdefault(manager_id, []).append(rep_id)
    seen, todo = set(), [root]
    while todo:
        rep_id = todo.pop()
        if rep_id not in seen:
            seen.add(rep_id)
            todo.extend(reports.get(rep_id, []))
    return seen


def open_pipeline_sql(ws: Workspace, owners: set[str] | None) -> tuple[int, int]:
    def read(cur) -> tuple[int, int]:
        rows = cur.execute(
            "SELECT owner_id, amount_cents FROM opportunities WHERE status = 'open'"
        ).fetchall()
        picked = [a for o, a in rows if owners is None or o in owners]
        return sum(a or 0 for a in picked), len(picked)

    return ws.read(read)


def count_sql(ws: Workspace, sql: str, params: list | None = None) -> int:
    return int(ws.read(lambda cur: cur.execute(sql, params or []).fetchone()[0]))


def audit_count(ws: Workspace) -> int:
    return count_sql(ws, "SELECT count(*) FROM audit_events")


def user_for(ws: Workspace, role: Role) -> User:
    return resolve_user(ws, identity(email_of(ws, role)), demo_settings())


# --- resolving members ----------------------------------------------------------------------

def test_demo_seeds_one_member_per_role(demo_copy: Workspace) -> None:
    roles = sorted(r for rs in member_rows(demo_copy).values() for r in rs)
    assert roles == sorted(r.value for r in Role)


@pytest.mark.parametrize("role", list(Role), ids=str)
def test_each_member_resolves_to_exactly_their_role(demo_copy: Workspace, role: Role) -> None:
    email = email_of(demo_copy, role)
    user = resolve_user(demo_copy, identity(email.upper()), demo_settings())
    assert user.roles == frozenset({role})
    assert user.email == email
    assert user.workspace == "demo"
    assert user.method == "demo"
    if role in WORKSPACE_WIDE_ROLES:
        assert user.deal_owner_ids is None
        assert user.sees_everything


def test_manager_scope_is_the_reporting_subtree(demo_copy: Workspace) -> None:
    email = email_of(demo_copy, Role.MANAGER)
    manager = resolve_user(demo_copy, identity(email), demo_settings())
    own = rep_id_of(demo_copy, email)
    expected = subtree_by_walking(demo_copy, own)
    assert manager.rep_id == own
    assert manager.deal_owner_ids == frozenset(expected)
    assert len(expected) > 2  # the manager and several reps
    assert len(expected) < len(all_reps(demo_copy)) - 1  # not the whole org


def test_rep_scope_is_their_own_book(demo_copy: Workspace) -> None:
    email = email_of(demo_copy, Role.REP)
    rep = resolve_user(demo_copy, identity(email), demo_settings())
    own = rep_id_of(demo_copy, email)
    assert rep.rep_id == own
    assert rep.deal_owner_ids == frozenset({own})
    # The rep reports to the demo manager.
    manager_scope = subtree_by_walking(demo_copy, rep_id_of(demo_copy, email_of(
        demo_copy, Role.MANAGER)))
    assert own in manager_scope


def test_sales_leader_has_a_rep_record_but_sees_everything(demo_copy: Workspace) -> None:
    leader = user_for(demo_copy, Role.SALES_LEADER)
    assert leader.rep_id == rep_id_of(demo_copy, leader.email)
    assert leader.deal_owner_ids is None
    # The VP heads the whole org: their subtree is every rep.
    assert subtree_by_walking(demo_copy, leader.rep_id) == set(all_reps(demo_copy)["rep_id"])


def test_stranger_is_refused(demo_copy: Workspace) -> None:
    assert roles_in(demo_copy, identity(STRANGER), demo_settings()) == frozenset()
    with pytest.raises(AccessDeniedError, match="no access to workspace 'demo'"):
        resolve_user(demo_copy, identity(STRANGER), demo_settings())


def test_crm_rep_who_is_not_a_member_is_refused(demo_copy: Workspace) -> None:
    reps = all_reps(demo_copy)
    member_emails = set(member_rows(demo_copy))
    outsider = next(e for e in reps["email"] if isinstance(e, str) and e not in member_emails)
    with pytest.raises(AccessDeniedError):
        resolve_user(demo_copy, identity(outsider), demo_settings())


def test_group_roles_grant_access(demo_copy: Workspace) -> None:
    settings = demo_settings(group_roles={"revenue-ops": ["revops"], "team-leads": ["manager"]})
    ops = resolve_user(demo_copy, identity(STRANGER, "revenue-ops", "unmapped"), settings)
    assert ops.roles == frozenset({Role.REVOPS})
    assert ops.deal_owner_ids is None
    # A manager by group who has no CRM record reads no deals at all.
    lead = resolve_user(demo_copy, identity("lead@elsewhere.example", "team-leads"), settings)
    assert lead.roles == frozenset({Role.MANAGER})
    assert lead.deal_owner_ids == frozenset()
    # Unmapped groups give nothing.
    with pytest.raises(AccessDeniedError):
        resolve_user(demo_copy, identity(STRANGER, "unmapped"), settings)


def test_group_roles_add_to_member_roles(demo_copy: Workspace) -> None:
    settings = demo_settings(group_roles={"finance-team": ["finance"]})
    email = email_of(demo_copy, Role.REP)
    user = resolve_user(demo_copy, identity(email, "finance-team"), settings)
    assert user.roles == frozenset({Role.REP, Role.FINANCE})
    assert user.deal_owner_ids is None  # finance reads the whole workspace


def test_settings_admins_get_admin(demo_copy: Workspace) -> None:
    settings = load_auth_settings({}, {"REVPLAN_ADMINS": "Root@Elsewhere.example"})
    root = resolve_user(demo_copy, identity("ROOT@elsewhere.example"), settings)
    assert root.roles == frozenset({Role.ADMIN})
    assert root.deal_owner_ids is None
    rep_email = email_of(demo_copy, Role.REP)
    settings = demo_settings(admins=[rep_email])
    assert resolve_user(demo_copy, identity(rep_email), settings).roles == frozenset(
        {Role.ADMIN, Role.REP}
    )


# --- deal scope through planning calls ------------------------------------------------------

@pytest.mark.parametrize("role", [Role.MANAGER, Role.REP])
def test_scoped_user_sees_only_their_deals_in_kpis(demo_copy: Workspace, role: Role) -> None:
    user = user_for(demo_copy, role)
    own = rep_id_of(demo_copy, user.email)
    scope = subtree_by_walking(demo_copy, own) if role is Role.MANAGER else {own}

    mine = workspace_kpis(demo_copy, TODAY, now=NOW, viewer=user)
    everything = workspace_kpis(demo_copy, TODAY, now=NOW)

    cents, deals = open_pipeline_sql(demo_copy, scope)
    all_cents, all_deals = open_pipeline_sql(demo_copy, None)
    assert deals > 0
    assert (mine.open_pipeline_cents, mine.open_pipeline_deals) == (cents, deals)
    assert (everything.open_pipeline_cents, everything.open_pipeline_deals) == (
        all_cents, all_deals)
    assert mine.open_pipeline_cents < everything.open_pipeline_cents
    assert sum(s.cents for s in mine.pipeline_by_stage) == cents
    assert sum(s.deals for s in mine.pipeline_by_stage) == deals

    owners = sorted(scope)
    assert mine.accounts == count_sql(
        demo_copy, "SELECT count(*) FROM accounts WHERE list_contains(?, owner_id)", [owners])
    assert mine.accounts < everything.accounts
    assert mine.active_reps == count_sql(
        demo_copy, "SELECT count(*) FROM reps WHERE is_active AND list_contains(?, rep_id)",
        [owners])
    q = mine.last_quarter
    won_cents = count_sql(
        demo_copy,
        "SELECT coalesce(sum(amount_cents), 0) FROM opportunities WHERE status = 'won' "
        "AND close_date BETWEEN ? AND ? AND list_contains(?, owner_id)",
        [q.start, q.end, owners],
    )
    assert mine.bookings_last_quarter_cents == won_cents
    assert mine.bookings_last_quarter_cents < everything.bookings_last_quarter_cents


def test_workspace_wide_viewer_sees_the_whole_workspace(demo_copy: Workspace) -> None:
    leader = user_for(demo_copy, Role.SALES_LEADER)
    mine = workspace_kpis(demo_copy, TODAY, now=NOW, viewer=leader)
    assert mine == workspace_kpis(demo_copy, TODAY, now=NOW)


def test_manager_without_crm_record_sees_no_pipeline(demo_copy: Workspace) -> None:
    settings = demo_settings(group_roles={"team-leads": ["manager"]})
    lead = resolve_user(demo_copy, identity("lead@elsewhere.example", "team-leads"), settings)
    kpis = workspace_kpis(demo_copy, TODAY, now=NOW, viewer=lead)
    assert (kpis.open_pipeline_cents, kpis.open_pipeline_deals) == (0, 0)
    assert kpis.accounts == 0 and kpis.active_reps == 0


# --- workspace isolation --------------------------------------------------------------------

@pytest.fixture
def other_workspace(demo_copy: Workspace, data_dir: Path) -> Workspace:
    """A second demo workspace built from another seed, next to 'demo'."""
    from planning.demo import DEMO_SIZES, generate_demo_workspace

    generate_demo_workspace("other", size=DEMO_SIZES["small"], seed=12, as_of=TODAY,
                            base=data_dir)
    return open_workspace("other")


def test_manager_reaches_only_their_workspace(
    demo_copy: Workspace, other_workspace: Workspace
) -> None:
    settings = demo_settings()
    manager_email = email_of(demo_copy, Role.MANAGER)
    assert manager_email not in member_rows(other_workspace)  # precondition

    assert accessible_workspaces(identity(manager_email), settings) == ["demo"]
    with pytest.raises(AccessDeniedError, match="'other'"):
        resolve_user(other_workspace, identity(manager_email), settings)

    manager = resolve_user(demo_copy, identity(manager_email), settings)
    with pytest.raises(AccessDeniedError):
        workspace_kpis(other_workspace, TODAY, now=NOW, viewer=manager)


def test_accessible_workspaces_lists_memberships(
    demo_copy: Workspace, other_workspace: Workspace
) -> None:
    settings = demo_settings()
    shared = sorted(set(member_rows(demo_copy)) & set(member_rows(other_workspace)))
    assert shared, "the demo staff (admin, revops, ...) are members of both"
    assert accessible_workspaces(identity(shared[0]), settings) == ["demo", "other"]
    assert accessible_workspaces(identity(STRANGER), settings) == []
    root = load_auth_settings({}, {"REVPLAN_ADMINS": STRANGER})
    assert accessible_workspaces(identity(STRANGER), root) == ["demo", "other"]

    # Revoking in one workspace leaves the other untouched.
    grant_roles(other_workspace, None, "second.admin@example.com", ["admin"])
    revoke_access(other_workspace, None, shared[0])
    assert accessible_workspaces(identity(shared[0]), settings) == ["demo"]


def test_admin_of_another_workspace_cannot_manage_this_one(demo_copy: Workspace) -> None:
    foreign_admin = User(email="root@other.example", name="Root", workspace="other",
                         roles=frozenset({Role.ADMIN}))
    before = (member_rows(demo_copy), audit_count(demo_copy))
    with pytest.raises(AccessDeniedError, match="'demo'"):
        grant_roles(demo_copy, foreign_admin, "new@example.com", ["viewer"])
    with pytest.raises(AccessDeniedError, match="'demo'"):
        revoke_access(demo_copy, foreign_admin, email_of(demo_copy, Role.VIEWER))
    with pytest.raises(AccessDeniedError):
        members(demo_copy, foreign_admin)
    assert (member_rows(demo_copy), audit_count(demo_copy)) == before


# --- grant, change, revoke (audited) --------------------------------------------------------

def newest_event(ws: Workspace) -> dict:
    return audit_events(ws, system_principal(ws.name), limit=1).iloc[0].to_dict()


def test_grant_change_and_revoke_are_audited(demo_copy: Workspace) -> None:
    admin = user_for(demo_copy, Role.ADMIN)
    events_before = audit_count(demo_copy)

    grant_roles(demo_copy, admin, "  New.Person@Example.com ", ["viewer", "revops"],
                display_name="New Person", reason="joins RevOps")
    assert member_rows(demo_copy)["new.person@example.com"] == ["revops", "viewer"]
    event = newest_event(demo_copy)
    assert event["action"] == "access.grant"
    assert event["actor"] == admin.email and event["actor_role"] == "admin"
    assert (event["entity"], event["entity_id"]) == ("workspace_member", "new.person@example.com")
    assert event["before_json"] is None
    assert json.loads(event["after_json"]) == {"roles": ["revops", "viewer"]}
    assert event["reason"] == "joins RevOps"
    user = resolve_user(demo_copy, identity("new.person@example.com"), demo_settings())
    assert user.roles == frozenset({Role.REVOPS, Role.VIEWER})

    grant_roles(demo_copy, admin, "new.person@example.com", {Role.VIEWER})
    event = newest_event(demo_copy)
    assert event["action"] == "access.change_roles"
    assert json.loads(event["before_json"]) == {"roles": ["revops", "viewer"]}
    assert json.loads(event["after_json"]) == {"roles": ["viewer"]}
    assert resolve_user(demo_copy, identity("new.person@example.com"),
                        demo_settings()).roles == frozenset({Role.VIEWER})

    revoke_access(demo_copy, admin, "NEW.person@example.com", reason="left")
    event = newest_event(demo_copy)
    assert event["action"] == "access.revoke"
    assert event["entity_id"] == "new.person@example.com"
    assert json.loads(event["before_json"]) == {"roles": ["viewer"]}
    assert event["after_json"] is None
    assert event["reason"] == "left"
    assert "new.person@example.com" not in member_rows(demo_copy)
    with pytest.raises(AccessDeniedError):
        resolve_user(demo_copy, identity("new.person@example.com"), demo_settings())

    assert audit_count(demo_copy) == events_before + 3
    assert [a for a in audit_events(demo_copy, system_principal(demo_copy.name),
                                    entity="workspace_member")["action"]] == [
        "access.revoke", "access.change_roles", "access.grant"]
    verification = verify_chain(demo_copy)
    assert verification.ok and verification.events == events_before + 3


def test_command_line_operator_is_recorded_as_cli(demo_copy: Workspace) -> None:
    grant_roles(demo_copy, None, "ops@example.com", ["revops"])
    event = newest_event(demo_copy)
    assert (event["actor"], event["actor_role"]) == ("cli", "operator")


def test_last_admin_cannot_be_revoked_or_demoted(demo_copy: Workspace) -> None:
    admin = user_for(demo_copy, Role.ADMIN)
    before = (member_rows(demo_copy), audit_count(demo_copy))

    with pytest.raises(RevPlanError, match="last admin"):
        revoke_access(demo_copy, admin, admin.email)
    with pytest.raises(RevPlanError, match="last admin"):
        grant_roles(demo_copy, admin, admin.email, ["revops"])
    with pytest.raises(RevPlanError, match="last admin"):
        revoke_access(demo_copy, None, admin.email)
    assert (member_rows(demo_copy), audit_count(demo_copy)) == before

    # Keeping admin while adding a role is fine.
    grant_roles(demo_copy, admin, admin.email, ["admin", "revops"])
    assert member_rows(demo_copy)[admin.email] == ["admin", "revops"]

    # With a second admin the first may go.
    grant_roles(demo_copy, admin, "deputy@example.com", ["admin"])
    revoke_access(demo_copy, admin, admin.email)
    assert admin.email not in member_rows(demo_copy)
    deputy = resolve_user(demo_copy, identity("deputy@example.com"), demo_settings())
    with pytest.raises(RevPlanError, match="last admin"):
        grant_roles(demo_copy, deputy, "deputy@example.com", ["viewer"])
    assert member_rows(demo_copy)["deputy@example.com"] == ["admin"]


@pytest.mark.parametrize("role", [r for r in Role if r is not Role.ADMIN], ids=str)
def test_non_admin_actor_is_refused(demo_copy: Workspace, role: Role) -> None:
    actor = user_for(demo_copy, role)
    victim = email_of(demo_copy, Role.VIEWER)
    before = (member_rows(demo_copy), audit_count(demo_copy))
    with pytest.raises(AccessDeniedError, match="access.manage"):
        grant_roles(demo_copy, actor, actor.email, ["admin"])
    with pytest.raises(AccessDeniedError):
        revoke_access(demo_copy, actor, victim)
    with pytest.raises(AccessDeniedError):
        members(demo_copy, actor)
    assert (member_rows(demo_copy), audit_count(demo_copy)) == before


@pytest.mark.parametrize("email", ["", "   ", "not-an-email", "a@b", "two@@example.com",
                                   "sp ace@example.com", "x@example.com\nadmin@example.com"])
def test_invalid_email_is_refused(demo_copy: Workspace, email: str) -> None:
    admin = user_for(demo_copy, Role.ADMIN)
    before = (member_rows(demo_copy), audit_count(demo_copy))
    with pytest.raises(RevPlanError, match="is not an email address"):
        grant_roles(demo_copy, admin, email, ["viewer"])
    with pytest.raises(RevPlanError, match="is not an email address"):
        revoke_access(demo_copy, admin, email)
    assert (member_rows(demo_copy), audit_count(demo_copy)) == before


def test_unknown_role_and_no_role_are_refused(demo_copy: Workspace) -> None:
    admin = user_for(demo_copy, Role.ADMIN)
    before = (member_rows(demo_copy), audit_count(demo_copy))
    with pytest.raises((RevPlanError, ValueError), match="Unknown role 'superuser'"):
        grant_roles(demo_copy, admin, "new@example.com", ["viewer", "superuser"])
    with pytest.raises(RevPlanError, match="at least one role"):
        grant_roles(demo_copy, admin, "new@example.com", [])
    assert (member_rows(demo_copy), audit_count(demo_copy)) == before


def test_revoking_a_non_member_is_refused(demo_copy: Workspace) -> None:
    before = audit_count(demo_copy)
    with pytest.raises(RevPlanError, match="has no access"):
        revoke_access(demo_copy, user_for(demo_copy, Role.ADMIN), STRANGER)
    assert audit_count(demo_copy) == before


def test_members_lists_roles_and_crm_person(demo_copy: Workspace) -> None:
    frame = members(demo_copy, user_for(demo_copy, Role.ADMIN))
    by_email = frame.set_index("email")
    assert set(by_email.index) == set(member_rows(demo_copy))
    manager_email = email_of(demo_copy, Role.MANAGER)
    assert by_email.loc[manager_email, "roles"] == "manager"
    assert by_email.loc[manager_email, "rep_id"] == rep_id_of(demo_copy, manager_email)
    assert pd.isna(by_email.loc[email_of(demo_copy, Role.ADMIN), "rep_id"])


# --- reporting lines deeper than the demo's -------------------------------------------------

ORG = [  # (rep_id, email, manager_id)
    ("vp", "vp@example.com", None),
    ("m1", "M1@Example.com", "vp"),
    ("lead", "lead@example.com", "m1"),
    ("r1", "r1@example.com", "lead"),
    ("r2", "r2@example.com", "m1"),
    ("m2", "m2@example.com", "vp"),
    ("r3", "r3@example.com", "m2"),
    ("c1", "c1@example.com", "c2"),  # a reporting loop in bad CRM data
    ("c2", "c2@example.com", "c1"),
    ("twin-a", "twin@example.com", "m2"),
    ("twin-b", "twin@example.com", "m2"),
]


@pytest.fixture
def org(workspace: Workspace) -> Workspace:
    def load(cur) -> None:
        for rep_id, email, manager_id in ORG:
            cur.execute(
                "INSERT INTO reps (rep_id, name, email, manager_id, source, loaded_at) "
                "VALUES (?, ?, ?, ?, 'test', TIMESTAMP '2026-11-01 00:00:00')",
                [rep_id, rep_id, email, manager_id],
            )

    workspace.write(load)
    for email in ("m1@example.com", "c1@example.com", "twin@example.com"):
        grant_roles(workspace, None, email, ["manager"])
    grant_roles(workspace, None, "lead@example.com", ["rep"])
    return workspace


def test_manager_scope_reaches_through_several_levels(org: Workspace) -> None:
    m1 = resolve_user(org, identity("m1@example.com"), demo_settings())
    assert m1.rep_id == "m1"  # CRM email matched case-insensitively
    assert m1.deal_owner_ids == frozenset({"m1", "lead", "r1", "r2"})
    assert m1.deal_owner_ids == frozenset(subtree_by_walking(org, "m1"))


def test_rep_role_does_not_extend_to_their_reports(org: Workspace) -> None:
    lead = resolve_user(org, identity("lead@example.com"), demo_settings())
    assert lead.deal_owner_ids == frozenset({"lead"})


def test_reporting_loop_terminates(org: Workspace) -> None:
    c1 = resolve_user(org, identity("c1@example.com"), demo_settings())
    assert c1.deal_owner_ids == frozenset({"c1", "c2"})


def test_ambiguous_crm_email_reads_nothing(org: Workspace) -> None:
    twin = resolve_user(org, identity("twin@example.com"), demo_settings())
    assert twin.rep_id is None
    assert twin.deal_owner_ids == frozenset()
