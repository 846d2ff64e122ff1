"""Pages on a workspace whose data ended years ago: they work from the data's own date."""

from __future__ import annotations

import datetime as dt

from streamlit.testing.v1 import AppTest

from planning.access.membership import grant_roles
from planning.access.policy import system_principal
from planning.access.roles import Role
from planning.asof import resolve_as_of
from planning.audit import audit_events
from planning.store import Workspace
from tests.planning.test_asof import seed_old_workspace
from tests.views.test_pages import (
    metric_values,
    page_app,
    run_page,
    signed_in,
    workspace_admin,
)
from views.common import AS_OF_KEY, USER_KEY, WORKSPACE_KEY
from views.registry import page_by_path


def test_home_on_old_data_says_so_and_shows_the_datas_bookings(workspace: Workspace) -> None:
    seed_old_workspace(workspace)
    app = run_page(page_by_path("views/home.py"), workspace_admin(workspace))

    assert not app.exception and not app.error, [e.value for e in app.error]
    notices = [info.value for info in app.info]
    assert any(
        text.startswith("The newest record in this workspace is from 31 Dec 2017 (")
        and "every figure is as of that date" in text and "*Plan as of*" in text
        for text in notices
    ), notices
    metrics = metric_values(app)
    assert metrics["Bookings FY2017 Q4 to date"] == "$3K"
    assert metrics["Bookings FY2017 Q3"] == "$6K"
    assert metrics["Open pipeline"] == "$7.5K"
    assert metrics["Newest record"] == "31 Dec 2017"
    deltas = {m.label: m.delta for m in app.metric}
    assert "year" in deltas["Newest record"] and deltas["Newest record"].endswith(" ago")
    assert "figures as of 31 Dec 2017 (newest record)" in app.caption[0].value


def test_home_follows_the_sessions_plan_as_of(workspace: Workspace) -> None:
    seed_old_workspace(workspace)
    app = page_app(page_by_path("views/home.py"), workspace_admin(workspace))
    app.session_state[AS_OF_KEY] = {workspace.name: dt.date(2017, 6, 1)}
    app.run()

    assert not app.exception and not app.error
    metrics = metric_values(app)
    assert metrics["Bookings FY2017 Q2 to date"] == "$2.5K"
    assert "every figure is as of 1 Jun 2017" in app.info[0].value
    assert "(chosen for this session)" in app.caption[0].value


def _sidebar() -> None:
    """The app's sidebar date control on the session's workspace (the script AppTest runs)."""
    import streamlit as st

    from views.common import WORKSPACE_KEY, as_of_sidebar

    as_of_sidebar(st.session_state[WORKSPACE_KEY])


def _sidebar_app(workspace: Workspace, user) -> AppTest:
    app = AppTest.from_function(_sidebar, default_timeout=30)
    app.session_state[USER_KEY] = user
    app.session_state[WORKSPACE_KEY] = workspace
    return app


def test_an_admin_makes_the_sessions_date_the_workspace_date_and_back(
    workspace: Workspace,
) -> None:
    seed_old_workspace(workspace)
    admin = workspace_admin(workspace)
    app = _sidebar_app(workspace, admin)
    app.session_state[AS_OF_KEY] = {workspace.name: dt.date(2017, 6, 30)}
    app.run()
    assert not app.exception
    [b for b in app.sidebar.button if b.label == "Make it the workspace date"][0].click().run()
    assert not app.exception
    stored = resolve_as_of(workspace)
    assert (stored.day, stored.source) == (dt.date(2017, 6, 30), "workspace")
    assert app.session_state[AS_OF_KEY] == {}
    events = audit_events(workspace, system_principal(workspace.name), action="workspace.set_as_of")
    assert list(events["actor"]) == [admin.email]

    [b for b in app.sidebar.button if b.label == "Use the newest record's date"][0].click().run()
    assert resolve_as_of(workspace).source == "data"


def test_a_viewer_may_plan_another_day_but_not_change_the_workspace_date(
    workspace: Workspace,
) -> None:
    seed_old_workspace(workspace)
    grant_roles(workspace, None, "vic.viewer@example.com", [Role.VIEWER])
    app = _sidebar_app(workspace, signed_in(workspace, "vic.viewer@example.com"))
    app.session_state[AS_OF_KEY] = {workspace.name: dt.date(2017, 6, 30)}
    app.run()
    labels = [b.label for b in app.sidebar.button]
    assert labels == ["Back to the workspace date"]
