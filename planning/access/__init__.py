"""The access policy of the core: roles, users, scopes and the one decision
`can(user, action, resource)` every page, command and planning entry point asks.

Sign-in (who someone is) lives outside the core in `auth`; this package only decides what a
known user may do. Membership changes are in `planning.access.membership`.
"""

from planning.access.policy import AccessDeniedError, Action, can, require
from planning.access.roles import ROLES, Role
from planning.access.users import User

__all__ = ["ROLES", "AccessDeniedError", "Action", "Role", "User", "can", "require"]
