"""The one access decision every page and planning call asks: `can(user, action, resource)`."""

from __future__ import annotations

from enum import StrEnum

from planning.access.roles import ROLES, Role
from planning.access.users import User
from planning.errors import RevPlanError


class Action(StrEnum):
    """What a user may try to do."""

    VIEW_PAGE = "page.view"
    """resource: the page's url_path."""
    OPEN_WORKSPACE = "workspace.open"
    """resource: the workspace name."""
    READ_DEAL = "deal.read"
    """resource: the deal owner's rep id."""
    RUN_IMPORT = "import.run"
    CHANGE_SETTINGS = "workspace.settings"
    """Change a workspace setting such as its as-of date."""
    MANAGE_ACCESS = "access.manage"
    READ_AUDIT = "audit.read"
    EXPORT_AUDIT = "audit.export"
    READ_TELEMETRY = "telemetry.read"
    SUBMIT_CALL = "forecast.submit_call"
    """Submit one's own forecast call (commit / best case) for a quarter."""
    OVERRIDE_CALL = "forecast.override_call"
    """Override the call of someone in one's scope, with a reason."""
    ADD_NOTE = "deal.add_note"
    """Add an inspection note to a deal in one's scope."""
    TRAIN_MODEL = "model.train"
    """Retrain and rescore the deal risk models."""
    RESOLVE_INBOX = "inbox.resolve"
    """Act on or dismiss an inbox item addressed to oneself."""
    SOLVE_TERRITORY = "territory.solve"
    """Solve territory scenarios and save their results."""
    SOLVE_QUOTA = "quota.solve"
    """Solve quota scenarios, override a rep's quota and save results."""
    SUBMIT_VERSION = "version.submit"
    """Submit a plan version for approval and tag versions."""
    PUBLISH_VERSION = "version.publish"
    """Publish an approved version to the writeback outbox and deliver it."""
    VIEW_HEALTH = "health.view"
    """Read customer health and churn risk; resource: the account owner's rep id (scoped like
    deals: a rep sees their accounts, a manager their team's, workspace-wide roles all)."""
    TRAIN_HEALTH_MODEL = "health.train"
    """Train the churn model and rescore customer health."""
    START_SAVE_PLAY = "save_play.start"
    """Start a save play on an account in one's scope and work its tasks."""
    RECORD_RENEWAL_OUTCOME = "save_play.record_outcome"
    """Record how a renewal of an account in one's scope ended (renewed, churned, downgraded)."""
    READ_SAVE_PLAYS = "save_play.read"
    """Read the save plays of accounts in one's scope and their adoption and win rates."""
    DECIDE_APPROVAL = "approval.decide"
    """Decide a step of an approval request; resource: the step's role."""
    MANAGE_APPROVALS = "approval.manage"
    """Change the approval policy or name an alternate approver."""
    WRITE_FIELD = "crm.write_field"
    """Change a CRM field through a publish; resource: 'Object.Field'."""
    EXPORT_WRITEBACK = "writeback.export"
    """Export a published batch as a Data Loader file, or deliver it to the webhook."""
    CREATE_QUOTE = "quote.create"
    """Save and re-save (price) quotes for accounts in one's scope and submit them."""
    READ_QUOTES = "quote.read"
    """Read, re-price and compare the quotes of accounts in one's scope."""
    SYNC_QUOTE = "quote.sync"
    """Queue an approved quote of an account in one's scope for the CRM."""
    MANAGE_PRICE_BOOKS = "price_book.manage"
    """Store price book versions in the workspace."""
    MANAGE_CATALOG = "catalog.manage"
    """Import a product catalog (products, options, bundles, rules) as the workspace's next
    catalog version."""


EVERYONE = frozenset(ROLES)
ADMINS = frozenset({Role.ADMIN})
OPERATORS = frozenset({Role.ADMIN, Role.REVOPS})
SELLERS = frozenset({Role.SALES_LEADER, Role.MANAGER, Role.REP})
LEADERS = frozenset({Role.SALES_LEADER, Role.MANAGER})
PLAY_RUNNERS = OPERATORS | SELLERS | {Role.CS}
"""Who runs save plays: customer success, the account's owner and their managers, RevOps."""
PLAY_APPROVERS = frozenset({Role.DEAL_DESK, Role.FINANCE})
"""Who approves commercial plays (their decision opens the play's tasks in the CRM)."""
QUOTE_MAKERS = SELLERS | OPERATORS | {Role.DEAL_DESK}
"""Who quotes: sellers for the accounts in their scope, deal desk and RevOps for any."""

PAGE_ROLES: dict[str, frozenset[Role]] = {
    "home": EVERYONE,
    "import": OPERATORS,
    "access": ADMINS,
    "audit": OPERATORS,
    "telemetry": OPERATORS,
    "inspection": EVERYONE - {Role.VIEWER},
    "forecast": OPERATORS | SELLERS | {Role.FINANCE, Role.COMP},
    "accuracy": OPERATORS | {Role.SALES_LEADER, Role.FINANCE},
    "deal-risk": OPERATORS,
    "health": OPERATORS | SELLERS | {Role.CS, Role.FINANCE, Role.DEAL_DESK},
    "inbox": EVERYONE,
    "territory": OPERATORS | LEADERS,
    "quota": OPERATORS | {Role.SALES_LEADER, Role.FINANCE, Role.COMP},
    "versions": OPERATORS | {Role.SALES_LEADER, Role.FINANCE, Role.COMP},
    "approvals": OPERATORS | {Role.SALES_LEADER, Role.FINANCE, Role.COMP, Role.DEAL_DESK},
    "quote": QUOTE_MAKERS | {Role.FINANCE},
}
"""Which roles may open each page (by url_path). A page missing here is open to nobody."""

ACTION_ROLES: dict[Action, frozenset[Role]] = {
    Action.RUN_IMPORT: OPERATORS,
    Action.CHANGE_SETTINGS: OPERATORS,
    Action.MANAGE_ACCESS: ADMINS,
    Action.READ_AUDIT: OPERATORS,
    Action.EXPORT_AUDIT: OPERATORS,
    Action.READ_TELEMETRY: OPERATORS,
    Action.SUBMIT_CALL: SELLERS,
    Action.OVERRIDE_CALL: LEADERS,
    Action.ADD_NOTE: LEADERS | OPERATORS | {Role.DEAL_DESK},
    Action.TRAIN_MODEL: OPERATORS,
    Action.RESOLVE_INBOX: EVERYONE,
    Action.SOLVE_TERRITORY: OPERATORS | {Role.SALES_LEADER},
    Action.SOLVE_QUOTA: OPERATORS | {Role.SALES_LEADER, Role.FINANCE, Role.COMP},
    Action.SUBMIT_VERSION: OPERATORS | {Role.SALES_LEADER, Role.FINANCE, Role.COMP},
    Action.PUBLISH_VERSION: OPERATORS | {Role.COMP},
    Action.VIEW_HEALTH: OPERATORS | SELLERS | {Role.CS, Role.FINANCE, Role.DEAL_DESK},
    Action.TRAIN_HEALTH_MODEL: OPERATORS,
    Action.START_SAVE_PLAY: PLAY_RUNNERS,
    Action.RECORD_RENEWAL_OUTCOME: PLAY_RUNNERS,
    Action.READ_SAVE_PLAYS: PLAY_RUNNERS | {Role.FINANCE, Role.DEAL_DESK},
    Action.DECIDE_APPROVAL: EVERYONE,
    Action.MANAGE_APPROVALS: ADMINS,
    Action.WRITE_FIELD: OPERATORS | {Role.COMP},
    Action.EXPORT_WRITEBACK: OPERATORS | {Role.COMP},
    Action.CREATE_QUOTE: QUOTE_MAKERS,
    Action.READ_QUOTES: QUOTE_MAKERS | {Role.FINANCE},
    Action.SYNC_QUOTE: QUOTE_MAKERS,
    Action.MANAGE_PRICE_BOOKS: OPERATORS | {Role.DEAL_DESK, Role.FINANCE},
    Action.MANAGE_CATALOG: OPERATORS | {Role.DEAL_DESK},
}
"""Which roles may perform each action at all; a row of RESOURCE_ROLES narrows it for one
resource."""

FIELD_ROLES: dict[str, frozenset[Role]] = {
    "Account.OwnerId": OPERATORS,
    "Opportunity.OwnerId": OPERATORS,
    "Quota.QuotaAmount": OPERATORS | {Role.COMP},
    **{f"Save_Play__c.{field}": PLAY_RUNNERS | PLAY_APPROVERS
       for field in ("Account__c", "Play__c", "Status__c", "Renewal_Date__c", "Outcome__c")},
    **{f"Task.{field}": PLAY_RUNNERS | PLAY_APPROVERS
       for field in ("WhatId", "Subject", "Owner_Email__c", "ActivityDate", "Status")},
    **{f"Account.{field}": PLAY_RUNNERS
       for field in ("Health_Score__c", "Churn_Probability__c", "Health_Reasons__c")},
    **{f"Quote.{field}": QUOTE_MAKERS
       for field in ("Name", "AccountId", "Status", "List_Amount__c", "Net_Amount__c",
                     "CurrencyIsoCode", "RevPlan_Version__c", "Catalog_Version__c",
                     "Price_Book_Version__c", "Rule_Evidence__c", "Approval_Evidence__c")},
    **{f"QuoteLineItem.{field}": QUOTE_MAKERS
       for field in ("Quantity", "UnitPrice", "Discount", "Net_Price__c")},
}
"""Which roles may change each CRM field ('Object.Field') through a publish; a field missing
here is written by nobody."""

STEP_ROLES: dict[str, frozenset[Role]] = {role.value: frozenset({role}) for role in ROLES}
"""Who may decide an approval step that asks for a role: a holder of that role (a named
alternate is the one exception, decided by the approval request itself)."""

RESOURCE_ROLES: dict[tuple[Action, str], frozenset[Role]] = {
    **{(Action.VIEW_PAGE, page): roles for page, roles in PAGE_ROLES.items()},
    **{(Action.WRITE_FIELD, name): roles for name, roles in FIELD_ROLES.items()},
    **{(Action.DECIDE_APPROVAL, name): roles for name, roles in STEP_ROLES.items()},
}
"""The one permission table for actions on a named resource: pages, CRM fields, approval
steps. `can` reads it, together with ACTION_ROLES, for every decision but the scope rules
(workspace and deal)."""

RESOURCE_ACTIONS: frozenset[Action] = frozenset(action for action, _ in RESOURCE_ROLES)
"""Actions decided per resource: an unknown resource is refused."""

SYSTEM_EMAIL = "system"
SYSTEM_ACTIONS: frozenset[Action] = frozenset({
    Action.RUN_IMPORT, Action.CHANGE_SETTINGS, Action.MANAGE_ACCESS, Action.MANAGE_APPROVALS,
    Action.READ_AUDIT, Action.EXPORT_AUDIT, Action.READ_TELEMETRY, Action.TRAIN_MODEL,
    Action.EXPORT_WRITEBACK, Action.TRAIN_HEALTH_MODEL, Action.VIEW_HEALTH,
    Action.MANAGE_CATALOG, Action.MANAGE_PRICE_BOOKS,
})
"""What the `system` principal (maintenance commands at the server's command line and the
background worker) may do; loading the catalog and price books from files is maintenance, like
an import. Deciding, submitting, publishing or solving is a person's act:
the command line does it `--as EMAIL`."""


class AccessDeniedError(RevPlanError):
    """The user may not do what they tried; the message says what and why."""


def system_principal(workspace: str, purpose: str = "maintenance") -> User:
    """The documented `system` principal of `workspace`: maintenance commands and the
    background worker act as it, and audit rows name it `system`."""
    return User(email=SYSTEM_EMAIL, name=f"system ({purpose})", workspace=workspace,
                roles=frozenset(), method="system")


def is_system(user: User | None) -> bool:
    """True for the `system` principal."""
    return user is not None and user.method == "system" and user.email == SYSTEM_EMAIL


def can(user: User | None, action: Action | str, resource: str | None = None) -> bool:
    """True when `user` may perform `action` on `resource`."""
    if user is None:
        return False
    action = Action(action)
    if action is Action.OPEN_WORKSPACE:
        return resource == user.workspace and (bool(user.roles) or is_system(user))
    if is_system(user):
        return action is Action.READ_DEAL or action in SYSTEM_ACTIONS
    if not user.roles:
        return False
    if action is Action.READ_DEAL:
        return user.deal_owner_ids is None or (resource in user.deal_owner_ids)
    if action is Action.VIEW_HEALTH:
        return user.has_any(ACTION_ROLES[action]) and (
            resource is None or user.deal_owner_ids is None or resource in user.deal_owner_ids)
    if action in RESOURCE_ACTIONS and resource is not None:
        return user.has_any(RESOURCE_ROLES.get((action, str(resource)), frozenset()))
    if action is Action.VIEW_PAGE:
        return False
    return user.has_any(ACTION_ROLES[action])


def require(user: User | None, action: Action | str, resource: str | None = None) -> None:
    """Raise AccessDeniedError with a clear reason unless `can` allows it."""
    if can(user, action, resource):
        return
    if user is None:
        raise AccessDeniedError("Sign in first.")
    action = Action(action)
    if action is Action.VIEW_PAGE:
        allowed = ", ".join(sorted(r.value for r in PAGE_ROLES.get(str(resource), ())))
        raise AccessDeniedError(
            f"Your roles ({roles_text(user)}) do not include access to this page"
            + (f"; it is open to: {allowed}." if allowed else ".")
        )
    if action is Action.OPEN_WORKSPACE:
        raise AccessDeniedError(f"You have no access to workspace {resource!r}.")
    if action is Action.READ_DEAL:
        raise AccessDeniedError("That deal belongs to someone outside your team.")
    if action is Action.VIEW_HEALTH and resource is not None and user.has_any(
            ACTION_ROLES[action]):
        raise AccessDeniedError("That account belongs to someone outside your team.")
    if is_system(user):
        raise AccessDeniedError(f"The system principal may not {action.value}; a person does "
                                "that (--as EMAIL at the command line).")
    if action in RESOURCE_ACTIONS and resource is not None:
        allowed = ", ".join(sorted(r.value for r in
                                   RESOURCE_ROLES.get((action, str(resource)), ())))
        raise AccessDeniedError(
            f"Your roles ({roles_text(user)}) may not {action.value} {resource}"
            + (f"; it needs one of: {allowed}." if allowed else ".")
        )
    allowed = ", ".join(sorted(r.value for r in ACTION_ROLES[action]))
    raise AccessDeniedError(
        f"Your roles ({roles_text(user)}) may not {action.value}; it needs one of: {allowed}."
    )


def roles_text(user: User) -> str:
    """The user's roles as words."""
    return ", ".join(sorted(r.value for r in user.roles)) or "none"


def readable_owner_ids(user: User | None, workspace: str) -> frozenset[str] | None:
    """Rep ids whose deals `user` may read in `workspace`; None means every deal.

    No user, or the `system` principal, means a system caller (the command line, a scheduled
    job), which reads everything. A user of another workspace is refused.
    """
    if user is None:
        return None
    require(user, Action.OPEN_WORKSPACE, workspace)
    return user.deal_owner_ids
