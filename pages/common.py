"""What every page needs: the current workspace and a friendly way to show a failure."""

from __future__ import annotations

import streamlit as st

from planning.errors import RevPlanError
from planning.settings import default_workspace
from planning.store import Workspace, open_workspace

WORKSPACE_KEY = "workspace_name"


def current_workspace_name() -> str:
    """The workspace chosen in this browser session, or the configured default."""
    return st.session_state.get(WORKSPACE_KEY) or default_workspace()


def current_workspace() -> Workspace:
    """The open workspace for this session; stops the page with a clear message if unusable."""
    name = current_workspace_name()
    try:
        return open_workspace(name)
    except RevPlanError as exc:
        st.error(str(exc))
        st.stop()
        raise  # st.stop() raises; this line only satisfies type checkers


def show_failure(exc: Exception, doing: str) -> None:
    """Report a failure to the user in words, never as a stack trace."""
    if isinstance(exc, RevPlanError):
        st.error(f"Could not {doing}: {exc}")
    else:
        st.error(f"Could not {doing} because of an unexpected error ({type(exc).__name__}). "
                 "Nothing was changed; the details are in the server log.")
