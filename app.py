"""RevPlan's Streamlit entry: page config, navigation from the page registry, workspace picker.

Run with `make run` (creates the demo workspace first) or `streamlit run app.py`.
"""

from __future__ import annotations

import streamlit as st

from pages.common import WORKSPACE_KEY
from pages.registry import PageEntry, grouped_pages
from planning.settings import default_workspace
from planning.store import list_workspaces


def build_page(entry: PageEntry) -> st.Page:
    """The Streamlit page object of a registry entry."""
    return st.Page(
        entry.file,
        title=entry.title,
        icon=entry.icon,
        url_path=entry.url_path,
        default=entry.default,
    )


def workspace_picker() -> None:
    """Sidebar selector of the workspaces on disk; the choice lands in session state."""
    names = list_workspaces()
    if not names:
        st.sidebar.warning(
            "No workspace yet. Run `make run` to create the demo workspace, or "
            f"`revplan demo --workspace {default_workspace()}` to create one without starting "
            "the app."
        )
        return
    chosen = st.session_state.get(WORKSPACE_KEY)
    if chosen not in names:
        fallback = default_workspace()
        st.session_state[WORKSPACE_KEY] = fallback if fallback in names else names[0]
    st.sidebar.selectbox(
        "Workspace",
        names,
        key=WORKSPACE_KEY,
        help="Each workspace is a separate company's data: one database file per workspace.",
    )


# An emoji favicon is drawn inline; a Material-icon favicon would be fetched from Google's CDN.
st.set_page_config(
    page_title="RevPlan",
    page_icon="📈",
    layout="wide",
    initial_sidebar_state="expanded",
    menu_items={"About": "RevPlan: pipeline, forecast, territory and quota planning."},
)

# `.streamlit/config.toml` sets `client.showSidebarNavigation = false` so that a fresh server's
# first run, which Streamlit still routes through the legacy `pages/` folder discovery, shows no
# folder listing. The registry-built navigation below is the app's menu, so it is switched on.
st.set_option("client.showSidebarNavigation", True)
sections = {
    group: [build_page(entry) for entry in entries]
    for group, entries in grouped_pages().items()
}
current_page = st.navigation(sections, position="sidebar", expanded=True)
workspace_picker()
current_page.run()
