"""RevPlan's Streamlit entry: page config, sign-in, the workspace, and the role-filtered menu.

Run with `make run` (creates the demo workspace first) or `streamlit run app.py`.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import streamlit as st

from auth.session import (
    EXPIRED_NOTICE_KEY,
    current_identity,
    demo_sign_in,
    read_settings,
    session_expired,
    sign_out,
    unverified_email,
)
from auth.settings import AuthConfigurationError, AuthSettings
from auth.sign_in import demo_sign_in_choices
from planning import telemetry
from planning.access.membership import accessible_workspaces, resolve_user
from planning.access.policy import Action, can, roles_text
from planning.access.users import Identity, User
from planning.errors import RevPlanError, WorkspaceBusyError
from planning.settings import default_workspace
from planning.store import list_workspaces, open_workspace
from views.common import (
    USER_KEY,
    WORKSPACE_KEY,
    as_of_sidebar,
    busy_notice,
    log_unexpected,
    show_refusal,
)
from views.registry import PAGES, PageEntry, grouped_pages

LAST_PAGE_KEY = "last_page_recorded"

# An emoji favicon is drawn inline; a Material-icon favicon would be fetched from Google's CDN.
st.set_page_config(
    page_title="RevPlan",
    page_icon="📈",
    layout="wide",
    initial_sidebar_state="expanded",
    menu_items={"About": "RevPlan: pipeline, forecast, territory and quota planning."},
)


def demo_badge() -> None:
    """The label that says the demo sign-in is on."""
    st.badge("DEMO MODE: no passwords, pick a person", icon=":material/science:", color="orange")


def sign_in_screen(settings: AuthSettings) -> None:
    """The sign-in screen: the identity provider's button, or the demo picker."""
    _, middle, _ = st.columns([1, 2, 1])
    with middle:
        sign_in_form(settings)


def sign_in_form(settings: AuthSettings) -> None:
    """The contents of the sign-in screen."""
    st.title("RevPlan")
    st.caption("Pipeline, forecast, territory and quota planning for revenue teams.")
    if st.session_state.pop(EXPIRED_NOTICE_KEY, False):
        st.info("Your session expired. Please sign in again.")
    if not settings.demo:
        if unverified_email():
            st.error("Your identity provider did not confirm your email address, so RevPlan "
                     "cannot tell which workspaces are yours. Ask your IT team to verify it.")
            if st.button("Sign out"):
                st.logout()
            return
        st.button("Sign in with your company account", type="primary", on_click=st.login)
        return
    demo_badge()
    st.write("This is a demo: choose a workspace and a person to see RevPlan as they would. "
             "Set up `[auth]` in `.streamlit/secrets.toml` to sign in with your identity "
             "provider instead.")
    names = list_workspaces()
    if not names:
        st.warning("No workspace yet. Run `make run` to create the demo workspace, or "
                   "`revplan workspace create NAME --admin EMAIL` for your own CRM data.")
        return
    default = default_workspace()
    name = st.selectbox("Workspace", names, index=names.index(default) if default in names else 0)
    try:
        with busy_notice() as on_busy:
            people = demo_sign_in_choices(open_workspace(name, on_busy=on_busy), settings)
    except RevPlanError as exc:
        st.error(str(exc))
        return
    if people.empty:
        st.warning(f"Nobody has access to {name!r}. Grant it with "
                   f"`revplan access grant --workspace {name} --email ... --role admin`.")
        return
    labels = {
        row.email: f"{row.display_name or row.email} · {row.roles}"
        + (f" · {row.title}, {row.team}" if isinstance(row.team, str) else "")
        for row in people.itertuples()
    }
    with st.form("demo_sign_in"):
        email = st.selectbox("Sign in as", list(labels), format_func=labels.get)
        if st.form_submit_button("Sign in", type="primary"):
            row = people[people["email"] == email].iloc[0]
            st.session_state[WORKSPACE_KEY] = name
            demo_sign_in(email, row["display_name"] or email)
            st.rerun()


def choose_workspace(identity: Identity, settings: AuthSettings) -> str | None:
    """The workspace to work in: one this person holds a role in, remembered per session.

    Raises WorkspaceBusyError when a workspace stays held by another process while retrying."""
    with busy_notice() as on_busy:
        names = accessible_workspaces(identity, settings, on_busy=on_busy)
    if not names:
        return None
    chosen = st.session_state.get(WORKSPACE_KEY)
    if chosen not in names:
        fallback = default_workspace()
        st.session_state[WORKSPACE_KEY] = fallback if fallback in names else names[0]
    st.sidebar.selectbox(
        "Workspace", names, key=WORKSPACE_KEY,
        help="Each workspace is a separate company's data; you see the ones you were granted.",
    )
    return st.session_state[WORKSPACE_KEY]


def user_box(user: User, settings: AuthSettings) -> None:
    """Who is signed in, with which roles, and the way out."""
    with st.sidebar:
        st.divider()
        if settings.demo:
            demo_badge()
        st.markdown(f"**{user.name}**  \n{user.email}")
        st.caption(f"Roles: {roles_text(user)}")
        if st.button("Sign out", icon=":material/logout:"):
            sign_out(settings)


def menu(user: User, pages: dict[str, st.Page]) -> None:
    """The sidebar menu: only the pages this user's roles open, grouped by workflow."""
    visible = [e for e in PAGES if can(user, Action.VIEW_PAGE, e.url_path)]
    for group, entries in grouped_pages(visible).items():
        st.caption(group)
        for entry in entries:
            st.page_link(pages[entry.url_path], label=entry.title, icon=entry.icon)


def run_page(user: User, entry: PageEntry, page: st.Page) -> None:
    """Run the current page if the user may open it; record the visit."""
    workspace = open_workspace(user.workspace)
    if not can(user, Action.VIEW_PAGE, entry.url_path):
        from planning.access.policy import AccessDeniedError, require

        try:
            require(user, Action.VIEW_PAGE, entry.url_path)
        except AccessDeniedError as exc:
            show_refusal(user, entry.url_path, str(exc))
        return
    first_visit = st.session_state.get(LAST_PAGE_KEY) != (user.workspace, entry.url_path)
    started = time.perf_counter()
    try:
        page.run()
    except Exception as exc:  # noqa: BLE001 - the last line of defence: words, trace in log
        reference = log_unexpected(exc, f"show the page {entry.url_path}")
        st.error("This page hit an unexpected error and stopped. Nothing was changed; the "
                 f"details are in the server log under reference {reference}.")
    finally:
        if first_visit:
            st.session_state[LAST_PAGE_KEY] = (user.workspace, entry.url_path)
            telemetry.record_event(
                workspace, "page_view", entry.url_path, user_email=user.email,
                duration_ms=(time.perf_counter() - started) * 1000,
            )


def main() -> None:
    """Sign in, pick the workspace, build the menu, run the page."""
    try:
        settings = read_settings()
    except AuthConfigurationError as exc:
        st.error(f"RevPlan cannot start: {exc}")
        st.stop()
    identity = current_identity(settings)
    if identity is not None and session_expired(identity, settings):
        sign_out(settings, expired=True)
    if identity is None:
        only_page(lambda: sign_in_screen(settings), "Sign in")
        return
    menu_area = st.sidebar.container()
    try:
        name = choose_workspace(identity, settings)
    except WorkspaceBusyError as exc:
        def busy(message: str = str(exc)) -> None:
            st.error(message, icon=":material/hourglass_top:")
            if st.button("Try again"):
                st.rerun()

        only_page(busy, "Workspace busy")
        return
    if name is None:
        def no_access() -> None:
            st.error(f"{identity.email} has no access to any workspace. Ask a workspace admin "
                     "to grant you a role.")
            if st.button("Sign out"):
                sign_out(settings)

        only_page(no_access, "No access")
        return
    try:
        with busy_notice() as on_busy:
            user = resolve_user(open_workspace(name, on_busy=on_busy), identity, settings)
    except RevPlanError as exc:
        st.error(str(exc))
        st.stop()
    if st.session_state.get(USER_KEY) != user:
        if not isinstance(st.session_state.get(USER_KEY), User):
            telemetry.record_event(open_workspace(name), "login", identity.method,
                                   user_email=user.email)
        st.session_state[USER_KEY] = user
    as_of_sidebar(open_workspace(name))
    pages = {
        entry.url_path: st.Page(entry.file, title=entry.title, icon=entry.icon,
                                url_path=entry.url_path, default=entry.default)
        for entry in PAGES
    }
    current = st.navigation(list(pages.values()), position="hidden")
    with menu_area:
        menu(user, pages)
    user_box(user, settings)
    entry = next(e for e in PAGES if pages[e.url_path] is current or e.title == current.title)
    run_page(user, entry, current)


def only_page(body: Callable[[], None], title: str) -> None:
    """Show a single screen (sign-in, no access) as the whole app, whatever URL was asked for."""
    st.navigation([st.Page(body, title=title, url_path="signin")], position="hidden").run()


main()
