"""Who may use which workspace with which roles, and the audited changes to that.

A person's roles in a workspace are the union of the roles granted to their verified email in
the workspace's `workspace_members` table, the roles their IdP groups map to in settings, and
admin for the emails listed as admins in settings. A person with no roles in a workspace cannot
open it. Their deal scope follows from the roles and the CRM reporting lines: workspace-wide
roles see every deal, a manager the deals of their reporting subtree, a rep their own.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pandas as pd

from auth.policy import AccessDeniedError, Action, require
from auth.roles import ROLES, WORKSPACE_WIDE_ROLES, Role, parse_roles
from auth.settings import AuthSettings
from auth.users import Identity, User, canonical_email
from planning import audit
from planning.errors import RevPlanError, WorkspaceBusyError
from planning.store import Workspace, list_workspaces, open_workspace
from planning.store import access as access_repo
from planning.store.workspace import BusyNotice

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def normalise_email(email: str) -> str:
    """The canonical email (`canonical_email`); raises RevPlanError when it does not look
    like one."""
    value = canonical_email(email)
    if not EMAIL.match(value):
        raise RevPlanError(f"{email!r} is not an email address.")
    return value


def roles_in(workspace: Workspace, identity: Identity, settings: AuthSettings) -> frozenset[Role]:
    """The roles an identity holds in a workspace (empty: no access)."""
    email = canonical_email(identity.email)
    granted = workspace.read(lambda cur: access_repo.member_roles(cur, email)) or []
    roles = set(parse_roles(granted))
    for group in identity.groups:
        roles |= settings.group_roles.get(group, frozenset())
    if email in settings.admins:
        roles.add(Role.ADMIN)
    return frozenset(roles)


def resolve_user(workspace: Workspace, identity: Identity, settings: AuthSettings) -> User:
    """The identity as a user of this workspace, with roles and deal scope.

    Raises AccessDeniedError when the identity holds no role in the workspace.
    """
    roles = roles_in(workspace, identity, settings)
    if not roles:
        raise AccessDeniedError(f"You have no access to workspace {workspace.name!r}.")

    def scope(cur) -> tuple[str | None, frozenset[str] | None]:
        rep_id = access_repo.rep_for_email(cur, identity.email)
        if roles & WORKSPACE_WIDE_ROLES:
            return rep_id, None
        owners: set[str] = set()
        if rep_id is not None:
            owners.add(rep_id)
            if Role.MANAGER in roles:
                owners |= set(access_repo.reporting_subtree(cur, rep_id))
        return rep_id, frozenset(owners)

    rep_id, owners = workspace.read(scope)
    name = identity.name
    if not name or canonical_email(name) == identity.email:
        row = workspace.read(lambda cur: access_repo.member(cur, identity.email))
        name = (row or {}).get("display_name") or identity.email
    return User(
        email=identity.email, name=name, workspace=workspace.name,
        roles=roles, method=identity.method, rep_id=rep_id, deal_owner_ids=owners,
    )


def accessible_workspaces(
    identity: Identity, settings: AuthSettings, base: Path | None = None,
    on_busy: BusyNotice | None = None,
) -> list[str]:
    """The workspaces this identity holds a role in, sorted by name.

    A workspace another process holds is retried (`on_busy` is told) and, still busy, raises
    WorkspaceBusyError: whether the person may use it cannot be read then, and a busy workspace
    must never look like missing access.
    """
    reachable = []
    for name in list_workspaces(base):
        try:
            workspace = open_workspace(name, base=base, on_busy=on_busy)
        except WorkspaceBusyError:
            raise
        except RevPlanError:
            continue
        if roles_in(workspace, identity, settings):
            reachable.append(name)
    return reachable


def members(workspace: Workspace, actor: User) -> pd.DataFrame:
    """Everyone with access to the workspace, their roles and matching CRM person."""
    require(actor, Action.MANAGE_ACCESS)
    require(actor, Action.OPEN_WORKSPACE, workspace.name)
    return workspace.read(access_repo.members_frame)


def grant_roles(
    workspace: Workspace, actor: User | None, email: str, roles: list[str] | set[Role],
    *, display_name: str | None = None, reason: str | None = None,
) -> None:
    """Give a person access to the workspace with exactly these roles (audited).

    `actor` None is the operator at the command line of the server.
    """
    if actor is not None:
        require(actor, Action.MANAGE_ACCESS)
        require(actor, Action.OPEN_WORKSPACE, workspace.name)
    email = normalise_email(email)
    wanted = parse_roles([str(r) for r in roles])
    if not wanted:
        raise RevPlanError("Pick at least one role, or revoke access instead.")

    def change(cur) -> None:
        before = access_repo.member(cur, email)
        if before and Role.ADMIN in parse_roles(before["roles"]) and Role.ADMIN not in wanted:
            _refuse_last_admin(cur, email)
        access_repo.upsert_member(cur, email, display_name, [r.value for r in wanted],
                                  _actor_name(actor), _now())
        audit.record(
            cur, actor=_actor_name(actor), actor_role=_actor_role(actor),
            action="access.grant" if before is None else "access.change_roles",
            entity="workspace_member", entity_id=email,
            before=None if before is None else {"roles": sorted(before["roles"])},
            after={"roles": sorted(r.value for r in wanted)}, reason=reason,
        )

    workspace.write(change)


def revoke_access(
    workspace: Workspace, actor: User | None, email: str, *, reason: str | None = None
) -> None:
    """Remove a person's access to the workspace (audited)."""
    if actor is not None:
        require(actor, Action.MANAGE_ACCESS)
        require(actor, Action.OPEN_WORKSPACE, workspace.name)
    email = normalise_email(email)

    def change(cur) -> None:
        before = access_repo.member(cur, email)
        if before is None:
            raise RevPlanError(f"{email} has no access to workspace {workspace.name!r}.")
        if Role.ADMIN in parse_roles(before["roles"]):
            _refuse_last_admin(cur, email)
        access_repo.delete_member(cur, email)
        audit.record(
            cur, actor=_actor_name(actor), actor_role=_actor_role(actor),
            action="access.revoke", entity="workspace_member", entity_id=email,
            before={"roles": sorted(before["roles"])}, after=None, reason=reason,
        )

    workspace.write(change)


def _refuse_last_admin(cur, email: str) -> None:
    if access_repo.admin_count(cur) <= 1:
        raise RevPlanError(
            f"{email} is the workspace's last admin; make someone else admin first."
        )


def _actor_name(actor: User | None) -> str:
    return actor.email if actor is not None else "cli"


def _actor_role(actor: User | None) -> str | None:
    if actor is None:
        return "operator"
    role = actor.primary_role
    return None if role is None else role.value


__all__ = [
    "ROLES", "accessible_workspaces", "grant_roles", "members", "normalise_email",
    "resolve_user", "revoke_access", "roles_in",
]


def demo_sign_in_choices(workspace: Workspace, settings: AuthSettings) -> pd.DataFrame:
    """The members one may sign in as in demo mode, with roles and CRM title and team.

    Refused unless demo mode is on: with an identity provider, nobody picks who they are.
    """
    if not settings.demo:
        raise AccessDeniedError("The demo sign-in is off because an identity provider is set.")
    return workspace.read(access_repo.members_frame)
