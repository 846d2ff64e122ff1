"""Identity, roles, scopes and the one access decision: `can(user, action, resource)`."""

from auth.policy import AccessDeniedError, Action, can, require
from auth.roles import ROLES, Role
from auth.users import User

__all__ = ["ROLES", "AccessDeniedError", "Action", "Role", "User", "can", "require"]
