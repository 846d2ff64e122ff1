"""What every page needs: the signed-in user, their workspace, access checks, failure messages."""

from __future__ import annotations

import streamlit as st

from auth.policy import AccessDeniedError, Action, can, require
from auth.users import User
from planning import telemetry
from planning.errors import RevPlanError
from planning.store import Workspace, open_workspace

USER_KEY = "user"
WORKSPACE_KEY = "workspace_name"


def current_user() -> User:
    """The signed-in user resolved in their current workspace; stops the page if there is none."""
    user = st.session_state.get(USER_KEY)
    if not isinstance(user, User):
        st.warning("Sign in to use RevPlan.")
        st.stop()
    return user


def current_workspace() -> Workspace:
    """The open workspace of the signed-in user; stops the page with a clear message if unusable."""
    user = current_user()
    try:
        require(user, Action.OPEN_WORKSPACE, user.workspace)
        return open_workspace(user.workspace)
    except RevPlanError as exc:
        st.error(str(exc))
        st.stop()
        raise  # st.stop() raises; this line only satisfies type checkers


def require_page(url_path: str) -> User:
    """The user, if their roles open this page; otherwise a refusal in words and a stop."""
    user = current_user()
    try:
        require(user, Action.VIEW_PAGE, url_path)
    except AccessDeniedError as exc:
        show_refusal(user, url_path, str(exc))
        st.stop()
    return user


def show_refusal(user: User, url_path: str, message: str) -> None:
    """Tell the user they may not open a page, and record the refusal."""
    st.error(f"**Access refused.** {message}", icon=":material/block:")
    st.caption("Ask a workspace admin for the role you need.")
    try:
        workspace = open_workspace(user.workspace)
    except RevPlanError:
        return
    telemetry.record_event(workspace, "access_refused", url_path, user_email=user.email,
                           outcome="refused")


def allowed(user: User, action: Action, resource: str | None = None) -> bool:
    """Shorthand for `can`, for pages deciding what to show."""
    return can(user, action, resource)


def show_failure(exc: Exception, doing: str) -> None:
    """Report a failure to the user in words, never as a stack trace."""
    if isinstance(exc, RevPlanError):
        st.error(f"Could not {doing}: {exc}")
    else:
        st.error(f"Could not {doing} because of an unexpected error ({type(exc).__name__}). "
                 "Nothing was changed; the details are in the server log.")


def parent_picker(kind: str, key: str) -> str | None:
    """An optional earlier version of `kind` the plan being saved revises (its parent)."""
    from planning.versions import list_versions

    versions = list_versions(current_workspace(), kind)
    labels = {None: "None: a new line of versions"} | {
        row.version_id: f"{row.name} · {row.status} · {row.created_at:%d %b %H:%M}"
        for row in versions.itertuples()}
    return st.selectbox("Revises version (optional)", list(labels), format_func=labels.get,
                        key=key)
