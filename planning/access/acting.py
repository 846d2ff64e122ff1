"""Who acts in an audited change: a signed-in user (checked against the policy) or a named
operator of the command line, who holds the workspace file itself."""

from __future__ import annotations

from planning.access.policy import Action, require
from planning.access.users import User
from planning.store import Workspace


def acting_identity(workspace: Workspace, actor: User | str, action: Action | None
                    ) -> tuple[str, str | None]:
    """The actor's name and role for audit events; a user must be allowed to open the
    workspace and to take `action`. A plain name is recorded as given, with the role
    "operator" ("system" has none)."""
    if isinstance(actor, User):
        require(actor, Action.OPEN_WORKSPACE, workspace.name)
        if action is not None:
            require(actor, action)
        role = actor.primary_role
        return actor.email, None if role is None else role.value
    return actor, None if actor == "system" else "operator"
