"""What every page needs: the signed-in user, their workspace, access checks, failure messages."""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import streamlit as st

from planning import telemetry
from planning.access.policy import ACTION_ROLES, AccessDeniedError, Action, can, require
from planning.access.users import User
from planning.asof import AsOf, resolve_as_of, set_workspace_as_of
from planning.errors import RevPlanError
from planning.jobs import StoredJobProgress
from planning.pipeline.model_jobs import training_progress
from planning.store import Workspace, open_workspace
from planning.store.workspace import BusyNotice

logger = logging.getLogger(__name__)

USER_KEY = "user"
WORKSPACE_KEY = "workspace_name"
AS_OF_KEY = "plan_as_of"
"""Session state: {workspace name: the date this session plans as of}, set in the sidebar."""


def current_user() -> User:
    """The signed-in user resolved in their current workspace; stops the page if there is none."""
    user = st.session_state.get(USER_KEY)
    if not isinstance(user, User):
        st.warning("Sign in to use RevPlan.")
        st.stop()
    return user


@contextmanager
def busy_notice() -> Iterator[BusyNotice]:
    """A notice for opening workspaces: while another process holds one and opening retries,
    the page says so ("Workspace 'demo' is busy in another process (PID n); retrying…"); the
    notice goes when opening ends, and a workspace still busy raises WorkspaceBusyError."""
    placeholder = st.empty()
    try:
        yield lambda message: placeholder.info(message, icon=":material/hourglass_top:")
    finally:
        placeholder.empty()


def current_workspace() -> Workspace:
    """The open workspace of the signed-in user; stops the page with a clear message if unusable."""
    user = current_user()
    try:
        require(user, Action.OPEN_WORKSPACE, user.workspace)
        with busy_notice() as on_busy:
            return open_workspace(user.workspace, on_busy=on_busy)
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


def log_unexpected(exc: BaseException, doing: str) -> str:
    """Log an unexpected failure with its stack, the signed-in user and workspace under a new
    short reference (8 hex digits), and return the reference for the message the user sees,
    so what they quote finds the trace in the server log."""
    reference = secrets.token_hex(4)
    user = st.session_state.get(USER_KEY)
    who, where = (user.email, user.workspace) if isinstance(user, User) else ("-", "-")
    logger.error("Unexpected failure, reference %s: could not %s (user %s, workspace %s)",
                 reference, doing, who, where, exc_info=exc)
    return reference


def show_failure(exc: Exception, doing: str) -> None:
    """Report a failure to the user in words, never as a stack trace; an unexpected one (not
    a `RevPlanError`) is logged with its stack under the reference the message shows."""
    if isinstance(exc, RevPlanError):
        st.error(f"Could not {doing}: {exc}")
    else:
        reference = log_unexpected(exc, doing)
        st.error(f"Could not {doing} because of an unexpected error ({type(exc).__name__}). "
                 f"Nothing was changed; the details are in the server log under reference "
                 f"{reference}.")


@dataclass(frozen=True)
class TrainingWords:
    """How a page speaks of one kind of training job."""

    what: str
    """e.g. "the deal risk models"."""
    when_done: str
    """What appears once it ends, as a sentence."""


DEAL_RISK_TRAINING = TrainingWords(
    "the deal risk models", "Win probability, slip risk and risk alerts appear when it ends.")


def training_notice(workspace: Workspace,
                    follow: Callable[[Workspace], StoredJobProgress | None],
                    words: TrainingWords) -> bool:
    """While a training job runs, a progress bar that follows it; a job that ended is stored
    first (`follow` stores it, once, whichever page sees it first), so the page below draws
    its results. A failure is said once per session. Nothing when no training is under way.
    Returns whether a training is under way (so the page need not also say "not trained")."""
    try:
        found = follow(workspace)
    except RevPlanError as exc:
        show_failure(exc, f"store {words.what}")
        return False
    if found is None:
        return False
    if found.running:
        _follow_training(found.job_id, follow, words)
        return True
    if found.status == "failed" and found.error:
        seen = f"training_failure_seen_{words.what}_{found.job_id}"
        if not st.session_state.get(seen):
            st.session_state[seen] = True
            st.warning(f"Training {words.what} failed: {found.error}")
    return False


def model_training_notice(workspace: Workspace) -> bool:
    """`training_notice` for the deal risk models (Home, Deal inspection, Inbox, Deal risk)."""
    return training_notice(workspace, training_progress, DEAL_RISK_TRAINING)


@st.fragment(run_every=2)
def _follow_training(job_id: int, follow: Callable[[Workspace], StoredJobProgress | None],
                     words: TrainingWords) -> None:
    """The running training job's progress, read again every 2 s without rerunning the page;
    the whole page is drawn again once the job has ended."""
    found = follow(current_workspace())
    if found is None or found.job_id != job_id or not found.running:
        st.rerun(scope="app")
    waiting = "waiting for the worker" if found.status == "queued" else found.text
    st.progress(min(max(found.share, 0.0), 1.0),
                text=f"Training {words.what} ({waiting or 'starting'}). {words.when_done}")


def set_notice(page: str, kind: str, text: str) -> None:
    """A message (success, error or info) shown once at the top of `page` after the next run,
    so an action's outcome survives the rerun the action causes."""
    st.session_state[f"{page}_notice"] = (kind, text)


def show_notice(page: str) -> None:
    """The message an action on `page` left, shown once."""
    notice = st.session_state.pop(f"{page}_notice", None)
    if notice is not None:
        kind, text = notice
        {"success": st.success, "error": st.error, "info": st.info}[kind](text)


def roles_text(action: Action) -> str:
    """The roles allowed an action, for a caption."""
    return ", ".join(sorted(role.value for role in ACTION_ROLES[action]))


def parent_picker(kind: str, key: str) -> str | None:
    """An optional earlier version of `kind` the plan being saved revises (its parent)."""
    from planning.versions import list_versions, version_labels

    versions = list_versions(current_workspace(), kind)
    labels = {None: "None: a new line of versions"} | version_labels(versions)
    return st.selectbox("Revises version (optional)", list(labels), format_func=labels.get,
                        key=key)


def version_name_input(kind: str, fiscal_year: int | None, base: str, key: str) -> str:
    """The required name of the version about to be saved: a suggestion not yet used by this
    kind and fiscal year, which the person may edit (a taken name is refused on save)."""
    from planning.versions import suggested_name

    suggestion = suggested_name(current_workspace(), kind, fiscal_year, base)
    return st.text_input(
        "Version name", value=suggestion, key=f"{key}_{suggestion}", max_chars=120,
        help="Required and unique among this kind's versions of the fiscal year, so "
        "pickers, approvers and the audit trail can tell versions apart.")


def session_as_of(workspace_name: str) -> dt.date | None:
    """The date this session plans the workspace as of, or None for the workspace default."""
    chosen = st.session_state.get(AS_OF_KEY, {})
    day = chosen.get(workspace_name) if isinstance(chosen, dict) else None
    return day if isinstance(day, dt.date) else None


def set_session_as_of(workspace_name: str, day: dt.date | None) -> None:
    """Plan the workspace as of `day` in this session, or back to its default with None."""
    chosen = dict(st.session_state.get(AS_OF_KEY) or {})
    if day is None:
        chosen.pop(workspace_name, None)
    else:
        chosen[workspace_name] = day
    st.session_state[AS_OF_KEY] = chosen


def page_as_of(workspace: Workspace) -> AsOf:
    """The day this page measures periods from: the session's choice, else the workspace's."""
    try:
        return resolve_as_of(workspace, session_as_of(workspace.name))
    except RevPlanError as exc:
        st.error(str(exc))
        st.stop()
        raise


def as_of_sidebar(workspace: Workspace) -> None:
    """The sidebar's *Plan as of* date, with a way back to the workspace's own date."""
    chosen = session_as_of(workspace.name)
    try:
        default = resolve_as_of(workspace)
    except RevPlanError as exc:
        st.sidebar.error(str(exc))
        return
    shown = chosen or default.day
    picked = st.sidebar.date_input(
        "Plan as of", value=shown, key=f"plan_as_of_{workspace.name}_{shown.isoformat()}",
        min_value=dt.date(1990, 1, 1), max_value=dt.date(2100, 12, 31), format="YYYY-MM-DD",
        help="Every page measures quarters, bookings and forecasts from this day. By default "
        f"it is the workspace's {default.source_text}: {default.day:%d %b %Y}.",
    )
    if isinstance(picked, dt.date) and picked != shown:
        set_session_as_of(workspace.name, picked)
        st.rerun()
    user = st.session_state.get(USER_KEY)
    may_set = isinstance(user, User) and can(user, Action.CHANGE_SETTINGS)
    if chosen is not None:
        st.sidebar.caption(f"Workspace default: {default.day:%d %b %Y} ({default.source_text}).")
        if st.sidebar.button("Back to the workspace date", icon=":material/undo:"):
            set_session_as_of(workspace.name, None)
            st.rerun()
        if may_set and st.sidebar.button(
                "Make it the workspace date", icon=":material/event_available:",
                help="Everyone opening this workspace then plans as of this day (audited)."):
            set_workspace_as_of(workspace, user, chosen)
            set_session_as_of(workspace.name, None)
            st.rerun()
    elif may_set and default.source == "workspace" and st.sidebar.button(
            "Use the newest record's date", icon=":material/update:",
            help="Clear the workspace's fixed date (audited)."):
        set_workspace_as_of(workspace, user, None)
        st.rerun()
