"""The roles people hold in a workspace and what each one is for."""

from __future__ import annotations

from enum import StrEnum

from planning.errors import RevPlanError


class Role(StrEnum):
    """A role a person holds in a workspace."""

    ADMIN = "admin"
    REVOPS = "revops"
    SALES_LEADER = "sales_leader"
    MANAGER = "manager"
    REP = "rep"
    FINANCE = "finance"
    COMP = "comp"
    DEAL_DESK = "deal_desk"
    CS = "cs"
    VIEWER = "viewer"


ROLES: tuple[Role, ...] = tuple(Role)

ROLE_DESCRIPTIONS: dict[Role, str] = {
    Role.ADMIN: "Manages access, imports and the audit trail; sees the whole workspace.",
    Role.REVOPS: "Runs the planning process: imports, audit, telemetry; sees everything.",
    Role.SALES_LEADER: "Leads the sales org; sees every team.",
    Role.MANAGER: "Leads a team; sees the deals of the people reporting to them.",
    Role.REP: "Carries a quota; sees their own book.",
    Role.FINANCE: "Owns the company target; sees everything.",
    Role.COMP: "Designs quotas and compensation; sees everything.",
    Role.DEAL_DESK: "Reviews pricing and deal structure; sees every deal.",
    Role.CS: "Customer success; sees every customer.",
    Role.VIEWER: "Reads workspace summaries.",
}

WORKSPACE_WIDE_ROLES: frozenset[Role] = frozenset(ROLES) - {Role.MANAGER, Role.REP}
"""Roles that see every deal of their workspace; managers see their subtree, reps their book."""


class UnknownRoleError(RevPlanError, ValueError):
    """A role name that is not one of ROLES."""


def parse_roles(values: list[str] | tuple[str, ...] | set[str]) -> frozenset[Role]:
    """Roles from their names; an unknown name raises UnknownRoleError naming it."""
    roles = set()
    for value in values:
        name = str(value).strip().lower()
        try:
            roles.add(Role(name))
        except ValueError:
            known = ", ".join(r.value for r in ROLES)
            raise UnknownRoleError(f"Unknown role {value!r}; roles are: {known}.") from None
    return frozenset(roles)
