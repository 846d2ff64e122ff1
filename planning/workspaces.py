"""Making a new, empty workspace for a company's own CRM data, with its first admin.

A workspace is one DuckDB file. Creating one applies the migrations, stores the currency and the
fiscal-year start month, grants the first admin and records the creation in the audit trail; the
settings, the grant and the audit event are written in one transaction.
"""

from __future__ import annotations

import re
from pathlib import Path

from planning import audit
from planning.access.membership import normalise_email
from planning.access.policy import Action, require
from planning.access.roles import Role
from planning.access.users import User
from planning.clock import now_utc
from planning.errors import RevPlanError
from planning.periods import validate_start_month
from planning.store import Workspace, open_workspace, validate_workspace_name, workspace_path
from planning.store import access as access_repo
from planning.store import workspace_settings as settings_repo
from planning.store.workspace import close_workspace_file

CURRENCY = re.compile(r"^[A-Z]{3}$")


class WorkspaceExistsError(RevPlanError):
    """The workspace name is already taken."""


def create_workspace(
    name: str, admin_email: str, actor: str | User | None = None, *, currency: str = "USD",
    fiscal_year_start_month: int = 1, base: Path | None = None,
) -> Workspace:
    """Create an empty workspace `name` whose first admin is `admin_email`, and return it.

    `actor` is a signed-in user (who must be an admin of the workspace they are in) or the
    operator's name at the command line. Refuses, in one line and before writing anything, a
    name the store does not allow, a name already taken, an address that is not an e-mail, a
    currency that is not a three-letter code, and a start month outside 1 to 12.
    """
    validate_workspace_name(name)
    email = normalise_email(admin_email)
    code = (currency or "").strip().upper()
    if not CURRENCY.match(code):
        raise RevPlanError(f"Currency {currency!r} is not a three-letter ISO code such as USD.")
    try:
        start_month = validate_start_month(int(fiscal_year_start_month))
    except (TypeError, ValueError) as exc:
        raise RevPlanError(f"Fiscal-year start month {fiscal_year_start_month!r} is not a month "
                           "number from 1 to 12.") from exc
    if isinstance(actor, User):
        require(actor, Action.OPEN_WORKSPACE, actor.workspace)
        require(actor, Action.MANAGE_ACCESS)
        actor_name, actor_role = actor.email, Role.ADMIN.value
    else:
        actor_name, actor_role = (actor or "operator"), "operator"
    path = workspace_path(name, base)
    if path.exists():
        raise WorkspaceExistsError(
            f"Workspace {name!r} already exists; pick another name, or import into it with "
            f"`revplan import --workspace {name}`."
        )
    workspace = open_workspace(name, create=True, base=base)
    now = now_utc()

    def setup(cur) -> None:
        settings_repo.set_settings(cur, {"currency": code,
                                         "fiscal_year_start_month": str(start_month)})
        access_repo.upsert_member(cur, email, None, [Role.ADMIN.value], actor_name, now)
        settings_repo.mark_creation_complete(cur)
        audit.record(
            cur, actor=actor_name, actor_role=actor_role, action="workspace.create",
            entity="workspace", entity_id=name,
            after={"admin": email, "currency": code, "fiscal_year_start_month": start_month},
        )

    try:
        workspace.write(setup)
    except Exception:
        close_workspace_file(path)
        path.unlink(missing_ok=True)
        path.with_name(path.name + ".wal").unlink(missing_ok=True)
        raise
    return workspace


def creation_complete(name: str, base: Path | None = None) -> bool:
    """True when workspace `name` finished being created; False for a file an interrupted
    build left behind (the demo or `workspace create` killed before its last transaction)."""
    return open_workspace(name, base=base).read(settings_repo.creation_complete)
