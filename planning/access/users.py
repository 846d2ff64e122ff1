"""Who is using the app: a verified identity resolved into one workspace's roles and scope."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from planning.access.roles import WORKSPACE_WIDE_ROLES, Role


def canonical_email(email: str | None) -> str:
    """The one form an email is stored and compared in: trimmed and lower-cased, so that
    PLANNER@EXAMPLE.COM and planner@example.com are the same person everywhere."""
    return (email or "").strip().lower()


def same_email(first: str | None, second: str | None) -> bool:
    """True when two emails name the same person (canonical forms equal, neither empty);
    for comparing against stored rows that may predate canonical storage."""
    left, right = canonical_email(first), canonical_email(second)
    return bool(left) and left == right


@dataclass(frozen=True)
class Identity:
    """A person as the login proved them: verified email, display name, IdP groups."""

    email: str
    name: str
    method: str
    """'oidc' (identity provider) or 'demo' (the demo user picker)."""
    groups: tuple[str, ...] = ()
    issued_at: dt.datetime | None = None
    """When the identity provider issued the login (UTC), for the session lifetime."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "email", canonical_email(self.email))


@dataclass(frozen=True)
class User:
    """An identity resolved in one workspace: roles, and whose deals they may read."""

    email: str
    name: str
    workspace: str
    roles: frozenset[Role]
    method: str = "demo"
    rep_id: str | None = None
    """The person's own rep record in the CRM data, matched by email, if any."""
    deal_owner_ids: frozenset[str] | None = field(default=None)
    """Owners whose deals this user may read; None means every deal of the workspace."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "email", canonical_email(self.email))

    @property
    def sees_everything(self) -> bool:
        """True for workspace-wide roles."""
        return self.deal_owner_ids is None

    @property
    def primary_role(self) -> Role | None:
        """The most powerful role held, for audit rows and the UI badge."""
        order = list(Role)
        return min(self.roles, key=order.index) if self.roles else None

    @property
    def audit_role(self) -> str | None:
        """The primary role's name as audit rows record it (None without a role)."""
        role = self.primary_role
        return None if role is None else role.value

    def has_any(self, roles: frozenset[Role] | set[Role]) -> bool:
        """True when the user holds at least one of the roles."""
        return bool(self.roles & set(roles))

    @property
    def workspace_wide(self) -> bool:
        """True when any held role reads the whole workspace."""
        return self.has_any(WORKSPACE_WIDE_ROLES)
