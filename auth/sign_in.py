"""Who one may sign in as when the demo picker is the way in."""

from __future__ import annotations

import pandas as pd

from auth.settings import AuthSettings
from planning.access.policy import AccessDeniedError
from planning.store import Workspace
from planning.store import access as access_repo


def demo_sign_in_choices(workspace: Workspace, settings: AuthSettings) -> pd.DataFrame:
    """The members one may sign in as in demo mode, with roles and CRM title and team.

    Refused unless demo mode is on: with an identity provider, nobody picks who they are.
    """
    if not settings.demo:
        raise AccessDeniedError("The demo sign-in is off because an identity provider is set.")
    return workspace.read(access_repo.members_frame)
