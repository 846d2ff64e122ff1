"""`can` / `require`: every role against every page and action, deal scope, workspace isolation.

The expected tables below are written out by hand from the agreed design (ARCHITECTURE.md and
the role descriptions), not derived from `planning.access.policy`, so a change to the policy
tables has to be made on purpose in both places.
"""

from __future__ import annotations

import pytest

from planning.access.policy import (
    PAGE_ROLES,
    AccessDeniedError,
    Action,
    can,
    is_system,
    readable_owner_ids,
    require,
    system_principal,
)
from planning.access.roles import ROLES, WORKSPACE_WIDE_ROLES, Role
from planning.access.users import User
from planning.errors import RevPlanError

R = Role
EVERY_ROLE = frozenset(Role)

EXPECTED_PAGE_ROLES: dict[str, frozenset[Role]] = {
    "home": EVERY_ROLE,
    "import": frozenset({R.ADMIN, R.REVOPS}),
    "access": frozenset({R.ADMIN}),
    "audit": frozenset({R.ADMIN, R.REVOPS}),
    "telemetry": frozenset({R.ADMIN, R.REVOPS}),
    "inspection": EVERY_ROLE - {R.VIEWER},
    "forecast": frozenset({R.ADMIN, R.REVOPS, R.SALES_LEADER, R.MANAGER, R.REP, R.FINANCE,
                           R.COMP}),
    "accuracy": frozenset({R.ADMIN, R.REVOPS, R.SALES_LEADER, R.FINANCE}),
    "deal-risk": frozenset({R.ADMIN, R.REVOPS}),
    "health": frozenset({R.ADMIN, R.REVOPS, R.SALES_LEADER, R.MANAGER, R.REP, R.CS, R.FINANCE,
                         R.DEAL_DESK}),
    "inbox": EVERY_ROLE,
    "quote": frozenset({R.ADMIN, R.REVOPS, R.SALES_LEADER, R.MANAGER, R.REP, R.DEAL_DESK,
                        R.FINANCE}),
    "territory": frozenset({R.ADMIN, R.REVOPS, R.SALES_LEADER, R.MANAGER}),
    "quota": frozenset({R.ADMIN, R.REVOPS, R.SALES_LEADER, R.FINANCE, R.COMP}),
    "versions": frozenset({R.ADMIN, R.REVOPS, R.SALES_LEADER, R.FINANCE, R.COMP}),
    "approvals": frozenset({R.ADMIN, R.REVOPS, R.SALES_LEADER, R.FINANCE, R.COMP,
                            R.DEAL_DESK}),
}

PLAY_RUNNING_ROLES = frozenset({R.ADMIN, R.REVOPS, R.SALES_LEADER, R.MANAGER, R.REP, R.CS})
QUOTING_ROLES = frozenset({R.ADMIN, R.REVOPS, R.SALES_LEADER, R.MANAGER, R.REP, R.DEAL_DESK})
"""Customer success, account owners and their managers, RevOps and admins run save plays."""
EXPECTED_ACTION_ROLES: dict[Action, frozenset[Role]] = {
    Action.RUN_IMPORT: frozenset({R.ADMIN, R.REVOPS}),
    Action.CHANGE_SETTINGS: frozenset({R.ADMIN, R.REVOPS}),
    Action.MANAGE_ACCESS: frozenset({R.ADMIN}),
    Action.READ_AUDIT: frozenset({R.ADMIN, R.REVOPS}),
    Action.EXPORT_AUDIT: frozenset({R.ADMIN, R.REVOPS}),
    Action.READ_TELEMETRY: frozenset({R.ADMIN, R.REVOPS}),
    Action.SUBMIT_CALL: frozenset({R.SALES_LEADER, R.MANAGER, R.REP}),
    Action.OVERRIDE_CALL: frozenset({R.SALES_LEADER, R.MANAGER}),
    Action.ADD_NOTE: frozenset({R.SALES_LEADER, R.MANAGER, R.ADMIN, R.REVOPS, R.DEAL_DESK}),
    Action.TRAIN_MODEL: frozenset({R.ADMIN, R.REVOPS}),
    Action.RESOLVE_INBOX: EVERY_ROLE,
    Action.SOLVE_TERRITORY: frozenset({R.ADMIN, R.REVOPS, R.SALES_LEADER}),
    Action.SOLVE_QUOTA: frozenset({R.ADMIN, R.REVOPS, R.SALES_LEADER, R.FINANCE, R.COMP}),
    Action.SUBMIT_VERSION: frozenset({R.ADMIN, R.REVOPS, R.SALES_LEADER, R.FINANCE, R.COMP}),
    Action.PUBLISH_VERSION: frozenset({R.ADMIN, R.REVOPS, R.COMP}),
    Action.DECIDE_APPROVAL: EVERY_ROLE,
    Action.MANAGE_APPROVALS: frozenset({R.ADMIN}),
    Action.WRITE_FIELD: frozenset({R.ADMIN, R.REVOPS, R.COMP}),
    Action.EXPORT_WRITEBACK: frozenset({R.ADMIN, R.REVOPS, R.COMP}),
    Action.MANAGE_CATALOG: frozenset({R.ADMIN, R.REVOPS, R.DEAL_DESK}),
    Action.START_SAVE_PLAY: PLAY_RUNNING_ROLES,
    Action.RECORD_RENEWAL_OUTCOME: PLAY_RUNNING_ROLES,
    Action.READ_SAVE_PLAYS: PLAY_RUNNING_ROLES | {R.FINANCE, R.DEAL_DESK},
    Action.VIEW_HEALTH: frozenset({R.ADMIN, R.REVOPS, R.SALES_LEADER, R.MANAGER, R.REP, R.CS,
                                   R.FINANCE, R.DEAL_DESK}),
    Action.TRAIN_HEALTH_MODEL: frozenset({R.ADMIN, R.REVOPS}),
    Action.CREATE_QUOTE: QUOTING_ROLES,
    Action.READ_QUOTES: QUOTING_ROLES | {R.FINANCE},
    Action.SYNC_QUOTE: QUOTING_ROLES,
    Action.MANAGE_PRICE_BOOKS: frozenset({R.ADMIN, R.REVOPS, R.DEAL_DESK, R.FINANCE}),
}
EXPECTED_FIELD_ROLES: dict[str, frozenset[Role]] = {
    "Account.OwnerId": frozenset({R.ADMIN, R.REVOPS}),
    "Opportunity.OwnerId": frozenset({R.ADMIN, R.REVOPS}),
    "Quota.QuotaAmount": frozenset({R.ADMIN, R.REVOPS, R.COMP}),
    "Quote.Status": QUOTING_ROLES,
    "Quote.Approval_Evidence__c": QUOTING_ROLES,
    "QuoteLineItem.Discount": QUOTING_ROLES,
}
"""The CRM fields a plan publish writes and who may write each."""
EXPECTED_SYSTEM_ACTIONS = {
    Action.RUN_IMPORT, Action.CHANGE_SETTINGS, Action.MANAGE_ACCESS, Action.MANAGE_APPROVALS,
    Action.READ_AUDIT, Action.EXPORT_AUDIT, Action.READ_TELEMETRY, Action.TRAIN_MODEL,
    Action.EXPORT_WRITEBACK, Action.TRAIN_HEALTH_MODEL, Action.VIEW_HEALTH,
    Action.MANAGE_CATALOG, Action.MANAGE_PRICE_BOOKS,
}
# Decided by resource rather than by role alone; tested separately below.
RESOURCE_ACTIONS = {Action.VIEW_PAGE, Action.OPEN_WORKSPACE, Action.READ_DEAL}


def make_user(*roles: Role, workspace: str = "A", owners: frozenset[str] | None = None) -> User:
    """A user of `workspace`; owners None reads every deal."""
    return User(
        email="someone@example.com", name="Someone", workspace=workspace,
        roles=frozenset(roles), deal_owner_ids=owners,
    )


def scoped_user(role: Role) -> User:
    """A user holding one role with the deal scope that role gets from `resolve_user`."""
    if role is Role.MANAGER:
        return make_user(role, owners=frozenset({"m1", "r1", "r2"}))
    if role is Role.REP:
        return make_user(role, owners=frozenset({"r1"}))
    return make_user(role)


def test_expected_tables_cover_every_page_and_action() -> None:
    missing_pages = set(PAGE_ROLES) - set(EXPECTED_PAGE_ROLES)
    assert not missing_pages, f"add {missing_pages} to EXPECTED_PAGE_ROLES in this test"
    missing_actions = set(Action) - set(EXPECTED_ACTION_ROLES) - RESOURCE_ACTIONS
    assert not missing_actions, f"add {missing_actions} to EXPECTED_ACTION_ROLES in this test"
    assert set(ROLES) == set(Role)


@pytest.mark.parametrize("page", sorted(PAGE_ROLES))
@pytest.mark.parametrize("role", list(Role), ids=str)
def test_page_access_per_role(role: Role, page: str) -> None:
    user = scoped_user(role)
    allowed = role in EXPECTED_PAGE_ROLES[page]
    assert can(user, Action.VIEW_PAGE, page) is allowed
    assert can(user, "page.view", page) is allowed  # actions may be given by value
    if allowed:
        require(user, Action.VIEW_PAGE, page)
    else:
        with pytest.raises(AccessDeniedError) as refused:
            require(user, Action.VIEW_PAGE, page)
        message = str(refused.value)
        assert f"Your roles ({role.value})" in message
        open_to = ", ".join(sorted(r.value for r in EXPECTED_PAGE_ROLES[page]))
        assert message.endswith(f"it is open to: {open_to}.")


@pytest.mark.parametrize(
    "action", [a for a in Action if a not in RESOURCE_ACTIONS], ids=lambda a: a.value
)
@pytest.mark.parametrize("role", list(Role), ids=str)
def test_actions_per_role(role: Role, action: Action) -> None:
    user = scoped_user(role)
    allowed = role in EXPECTED_ACTION_ROLES[action]
    assert can(user, action) is allowed
    assert can(user, action.value) is allowed
    if allowed:
        require(user, action)
    else:
        with pytest.raises(AccessDeniedError) as refused:
            require(user, action)
        message = str(refused.value)
        needed = ", ".join(sorted(r.value for r in EXPECTED_ACTION_ROLES[action]))
        assert message == (
            f"Your roles ({role.value}) may not {action.value}; it needs one of: {needed}."
        )


@pytest.mark.parametrize("role", list(Role), ids=str)
def test_every_role_opens_its_own_workspace_only(role: Role) -> None:
    user = scoped_user(role)
    assert can(user, Action.OPEN_WORKSPACE, "A")
    require(user, Action.OPEN_WORKSPACE, "A")
    assert not can(user, Action.OPEN_WORKSPACE, "B")
    assert not can(user, Action.OPEN_WORKSPACE, None)
    with pytest.raises(AccessDeniedError, match="no access to workspace 'B'"):
        require(user, Action.OPEN_WORKSPACE, "B")


def test_unknown_page_is_open_to_nobody() -> None:
    admin = make_user(*Role)
    assert not can(admin, Action.VIEW_PAGE, "no-such-page")
    assert not can(admin, Action.VIEW_PAGE, None)
    with pytest.raises(AccessDeniedError) as refused:
        require(admin, Action.VIEW_PAGE, "no-such-page")
    assert str(refused.value).endswith("do not include access to this page.")


def test_roles_combine() -> None:
    rep_and_revops = make_user(Role.REP, Role.REVOPS, owners=frozenset({"r1"}))
    assert can(rep_and_revops, Action.VIEW_PAGE, "import")
    assert can(rep_and_revops, Action.READ_AUDIT)
    assert not can(rep_and_revops, Action.MANAGE_ACCESS)
    with pytest.raises(AccessDeniedError) as refused:
        require(rep_and_revops, Action.MANAGE_ACCESS)
    expected = "Your roles (rep, revops) may not access.manage; it needs one of: admin."
    assert str(refused.value) == expected


def test_no_user_and_no_roles_can_do_nothing() -> None:
    nobody = make_user()
    for action in Action:
        for resource in (None, "A", "home", "r1"):
            assert not can(None, action, resource)
            assert not can(nobody, action, resource)
    with pytest.raises(AccessDeniedError, match=r"^Sign in first\.$"):
        require(None, Action.VIEW_PAGE, "home")
    with pytest.raises(AccessDeniedError, match=r"Your roles \(none\)"):
        require(nobody, Action.VIEW_PAGE, "home")


def test_access_denied_is_a_revplan_error() -> None:
    # Pages and the command line show RevPlanError messages to people as they are.
    assert issubclass(AccessDeniedError, RevPlanError)


def test_unknown_action_is_an_error() -> None:
    with pytest.raises(ValueError):
        can(make_user(Role.ADMIN), "launch.missiles")


# --- READ_DEAL by owner ---------------------------------------------------------------------

def test_rep_reads_only_own_deals() -> None:
    rep = make_user(Role.REP, owners=frozenset({"r1"}))
    assert can(rep, Action.READ_DEAL, "r1")
    for other in ("r2", "m1", "", None):
        assert not can(rep, Action.READ_DEAL, other)
    with pytest.raises(AccessDeniedError, match="outside your team"):
        require(rep, Action.READ_DEAL, "r2")


def test_manager_reads_subtree_deals_only() -> None:
    manager = make_user(Role.MANAGER, owners=frozenset({"m1", "r1", "r2"}))
    for owner in ("m1", "r1", "r2"):
        assert can(manager, Action.READ_DEAL, owner)
        require(manager, Action.READ_DEAL, owner)
    for owner in ("m2", "r3", "vp", None):
        assert not can(manager, Action.READ_DEAL, owner)
    with pytest.raises(AccessDeniedError, match="outside your team"):
        require(manager, Action.READ_DEAL, "r3")


def test_manager_without_a_crm_record_reads_no_deals() -> None:
    manager = make_user(Role.MANAGER, owners=frozenset())
    assert not manager.sees_everything
    assert not can(manager, Action.READ_DEAL, "r1")


@pytest.mark.parametrize("role", sorted(WORKSPACE_WIDE_ROLES), ids=str)
def test_workspace_wide_roles_read_every_deal(role: Role) -> None:
    user = make_user(role)
    assert user.sees_everything and user.workspace_wide
    for owner in ("r1", "r2", "m1", "vp"):
        assert can(user, Action.READ_DEAL, owner)


def test_workspace_wide_roles_are_all_but_manager_and_rep() -> None:
    assert frozenset({R.MANAGER, R.REP}) == EVERY_ROLE - WORKSPACE_WIDE_ROLES


# --- workspace isolation --------------------------------------------------------------------

@pytest.mark.parametrize(
    "user",
    [
        make_user(Role.ADMIN),
        make_user(Role.SALES_LEADER),
        make_user(Role.MANAGER, owners=frozenset({"m1", "r1"})),
        make_user(Role.REP, owners=frozenset({"r1"})),
    ],
    ids=["admin", "sales_leader", "manager", "rep"],
)
def test_user_of_workspace_a_is_refused_workspace_b(user: User) -> None:
    assert can(user, Action.OPEN_WORKSPACE, "A")
    assert not can(user, Action.OPEN_WORKSPACE, "B")
    assert readable_owner_ids(user, "A") == user.deal_owner_ids
    with pytest.raises(AccessDeniedError, match="'B'"):
        readable_owner_ids(user, "B")


def test_readable_owner_ids_of_system_caller_is_everything() -> None:
    assert readable_owner_ids(None, "A") is None
    assert readable_owner_ids(None, "B") is None


def test_workspace_wide_user_of_a_does_not_see_everything_in_b() -> None:
    # None means "every deal"; it must never leak out for another workspace.
    admin_of_a = make_user(Role.ADMIN)
    assert readable_owner_ids(admin_of_a, "A") is None
    with pytest.raises(AccessDeniedError):
        readable_owner_ids(admin_of_a, "B")


def test_primary_role_is_the_most_powerful() -> None:
    assert make_user(Role.REP, Role.ADMIN, Role.VIEWER).primary_role is Role.ADMIN
    assert make_user(Role.VIEWER, Role.MANAGER).primary_role is Role.MANAGER
    assert make_user().primary_role is None


@pytest.mark.parametrize("field", sorted(EXPECTED_FIELD_ROLES))
@pytest.mark.parametrize("role", list(Role), ids=str)
def test_crm_field_rows_per_role(role: Role, field: str) -> None:
    user = scoped_user(role)
    allowed = role in EXPECTED_FIELD_ROLES[field]
    assert can(user, Action.WRITE_FIELD, field) is allowed
    if not allowed:
        with pytest.raises(AccessDeniedError, match=f"may not crm.write_field {field}"):
            require(user, Action.WRITE_FIELD, field)


def test_an_unknown_crm_field_is_written_by_nobody() -> None:
    assert not can(make_user(*Role), Action.WRITE_FIELD, "Account.Name")


@pytest.mark.parametrize("step_role", list(Role), ids=str)
def test_an_approval_step_is_decided_by_a_holder_of_its_role(step_role: Role) -> None:
    for role in Role:
        assert can(scoped_user(role), Action.DECIDE_APPROVAL, step_role.value) is (
            role == step_role)
    assert can(make_user(R.REP, step_role), Action.DECIDE_APPROVAL, step_role.value)


def test_the_system_principal_does_maintenance_only() -> None:
    system = system_principal("A", "a test")
    assert is_system(system) and system.email == "system" and not system.roles
    for action in set(Action) - RESOURCE_ACTIONS - {Action.WRITE_FIELD, Action.DECIDE_APPROVAL}:
        assert can(system, action) is (action in EXPECTED_SYSTEM_ACTIONS), action
    with pytest.raises(AccessDeniedError, match="system principal may not version.submit"):
        require(system, Action.SUBMIT_VERSION)
    assert can(system, Action.OPEN_WORKSPACE, "A")
    assert not can(system, Action.OPEN_WORKSPACE, "B")
    assert readable_owner_ids(system, "A") is None
    with pytest.raises(AccessDeniedError):
        readable_owner_ids(system, "B")


def test_a_person_named_system_is_not_the_system_principal() -> None:
    impostor = User(email="system", name="system", workspace="A", roles=frozenset())
    assert not is_system(impostor)
    assert not can(impostor, Action.RUN_IMPORT)


def test_health_is_scoped_to_the_accounts_one_owns() -> None:
    rep = make_user(R.REP, owners=frozenset({"r1"}))
    assert can(rep, Action.VIEW_HEALTH, "r1")
    assert not can(rep, Action.VIEW_HEALTH, "r2")
    with pytest.raises(AccessDeniedError, match="outside your team"):
        require(rep, Action.VIEW_HEALTH, "r2")
    assert can(make_user(R.CS), Action.VIEW_HEALTH, "r2")
    assert not can(make_user(R.VIEWER), Action.VIEW_HEALTH, "r1")
