"""Who may use which workspace with which roles, and the audited changes to that.

A person's roles in a workspace are the union of the roles granted to their verified email in
the workspace's `workspace_members` table, the roles their IdP groups map to in the sign-in
settings, and admin for the emails listed as admins there (`RoleSources`: the app passes its
sign-in settings, the command line `command_line_role_sources()`). A person with no roles in
a workspace cannot open it. Their deal scope follows from the roles and the CRM reporting
lines: workspace-wide roles see every deal, a manager the deals of their reporting subtree, a
rep their own.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import pandas as pd

from planning import audit
from planning.access.policy import AccessDeniedError, Action, require
from planning.access.roles import ROLES, WORKSPACE_WIDE_ROLES, Role, parse_roles
from planning.access.users import Identity, User, canonical_email
from planning.clock import now_utc
from planning.errors import RevPlanError, WorkspaceBusyError
from planning.store import Workspace, list_workspaces, open_workspace
from planning.store import access as access_repo
from planning.store.workspace import BusyNotice

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
ADMINS_VARIABLE = "REVPLAN_ADMINS"
"""Comma-separated emails that are admins of every workspace."""


class RoleSources(Protocol):
    """Where roles come from besides a workspace's own member list."""

    @property
    def group_roles(self) -> Mapping[str, frozenset[Role]]:
        """Identity-provider group name -> roles it grants in every workspace."""
        ...

    @property
    def admins(self) -> frozenset[str]:
        """Emails that are admins of every workspace."""
        ...


@dataclass(frozen=True)
class FixedRoleSources:
    """Role sources given as values (the command line, which has no identity provider)."""

    group_roles: Mapping[str, frozenset[Role]] = field(default_factory=dict)
    admins: frozenset[str] = frozenset()


def environment_admins(environ: Mapping[str, str] | None = None) -> frozenset[str]:
    """The canonical emails listed in REVPLAN_ADMINS."""
    environ = os.environ if environ is None else environ
    return frozenset(
        canonical_email(e) for e in environ.get(ADMINS_VARIABLE, "").split(",") if e.strip()
    )


def command_line_role_sources(environ: Mapping[str, str] | None = None) -> FixedRoleSources:
    """Role sources for a person acting at the command line: the workspace's members and the
    REVPLAN_ADMINS admins (no identity-provider groups there)."""
    return FixedRoleSources(admins=environment_admins(environ))


def normalise_email(email: str) -> str:
    """The canonical email (`canonical_email`); raises RevPlanError when it does not look
    like one."""
    value = canonical_email(email)
    if not EMAIL.match(value):
        raise RevPlanError(f"{email!r} is not an email address.")
    return value


def roles_in(workspace: Workspace, identity: Identity, settings: RoleSources) -> frozenset[Role]:
    """The roles an identity holds in a workspace (empty: no access)."""
    email = canonical_email(identity.email)
    granted = workspace.read(lambda cur: access_repo.member_roles(cur, email)) or []
    roles = set(parse_roles(granted))
    for group in identity.groups:
        roles |= settings.group_roles.get(group, frozenset())
    if email in settings.admins:
        roles.add(Role.ADMIN)
    return frozenset(roles)


def resolve_user(workspace: Workspace, identity: Identity, settings: RoleSources) -> User:
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
    identity: Identity, settings: RoleSources, base: Path | None = None,
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
                                  _actor_name(actor), now_utc())
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
    "ROLES", "FixedRoleSources", "RoleSources", "accessible_workspaces",
    "command_line_role_sources", "environment_admins", "grant_roles", "members",
    "normalise_email", "resolve_user", "revoke_access", "roles_in",
]

