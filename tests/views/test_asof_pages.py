"""Pages on a workspace whose data ended years ago: they work from the data's own date."""

from __future__ import annotations

import datetime as dt

from planning.store import Workspace
from tests.planning.test_asof import seed_old_workspace
from tests.views.test_pages import metric_values, page_app, run_page, workspace_admin
from views.common import AS_OF_KEY
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
