"""Every role against every page: the policy's pages render, the others refuse and show nothing.

The demo workspace has exactly one member per role, so each case signs in a real member.
"""

from __future__ import annotations

import pytest

from planning.access.policy import PAGE_ROLES, system_principal
from planning.access.roles import ROLES, Role
from planning.overview import format_money, workspace_kpis
from planning.store import Workspace
from planning.telemetry import usage_report
from tests.views.test_pages import demo_user, element_types, metric_values, run_page
from views.registry import PAGES, PageEntry, page_by_path

CASES = [(role, entry) for role in ROLES for entry in PAGES]


def expected_title(entry: PageEntry, workspace: Workspace) -> str:
    """The title a page shows: Home names the workspace, every other page its registry title."""
    return f"RevPlan — {workspace.name}" if entry.url_path == "home" else entry.title


def test_every_page_is_in_the_policy() -> None:
    """A page missing from PAGE_ROLES would be open to nobody; every registry page is listed."""
    assert {entry.url_path for entry in PAGES} <= set(PAGE_ROLES)


@pytest.mark.parametrize(
    ("role", "entry"), CASES, ids=[f"{role.value}-{entry.url_path}" for role, entry in CASES]
)
def test_page_access_follows_the_policy(role: Role, entry: PageEntry, demo_copy: Workspace) -> None:
    """Allowed roles see the page; others see only the refusal, which is recorded."""
    user = demo_user(demo_copy, role)
    assert user.roles == {role}

    app = run_page(entry, user)

    assert not app.exception, [e.value for e in app.exception]
    if role in PAGE_ROLES[entry.url_path]:
        assert not app.error, [e.value for e in app.error]
        assert [t.value for t in app.title] == [expected_title(entry, demo_copy)]
        return
    assert element_types(app.main) == ["error", "caption"]
    assert app.error[0].value.startswith("**Access refused.** Your roles")
    assert f"({role.value})" in app.error[0].value
    assert app.caption[0].value == "Ask a workspace admin for the role you need."
    usage = usage_report(demo_copy, system_principal(demo_copy.name)).by_user.set_index("user")
    assert usage.loc[user.email, "failures_or_refusals"] == 1


@pytest.mark.parametrize("entry", PAGES, ids=[entry.url_path for entry in PAGES])
def test_a_session_without_a_user_is_asked_to_sign_in(
    entry: PageEntry, demo_copy: Workspace
) -> None:
    """Nobody signed in: the sign-in warning and nothing else."""
    app = run_page(entry, None)

    assert not app.exception
    assert element_types(app.main) == ["warning"]
    assert app.warning[0].value == "Sign in to use RevPlan."


def test_home_shows_a_manager_only_their_team(demo_copy: Workspace) -> None:
    """The manager's KPIs cover their reps, fewer deals than the whole workspace."""
    manager = demo_user(demo_copy, Role.MANAGER)
    team = manager.deal_owner_ids - {manager.rep_id}
    assert team

    app = run_page(page_by_path("views/home.py"), manager)

    assert not app.exception and not app.error
    assert app.caption[0].value.startswith(f"Your team: {len(team)} reps · ")
    mine = workspace_kpis(demo_copy, viewer=manager)
    everyone = workspace_kpis(demo_copy)
    assert mine.open_pipeline_deals < everyone.open_pipeline_deals
    assert metric_values(app)["Open pipeline"] == format_money(mine.open_pipeline_cents)
    assert metric_values(app)["Open deals"] == f"{mine.open_pipeline_deals:,}"


def test_home_shows_a_rep_their_book(demo_copy: Workspace) -> None:
    """A rep's KPIs cover their own deals only."""
    rep = demo_user(demo_copy, Role.REP)
    assert rep.deal_owner_ids == {rep.rep_id}

    app = run_page(page_by_path("views/home.py"), rep)

    assert not app.exception and not app.error
    assert app.caption[0].value.startswith("Your book · ")
    mine = workspace_kpis(demo_copy, viewer=rep)
    manager_view = workspace_kpis(demo_copy, viewer=demo_user(demo_copy, Role.MANAGER))
    assert 0 < mine.open_pipeline_deals < manager_view.open_pipeline_deals
    assert metric_values(app)["Open deals"] == f"{mine.open_pipeline_deals:,}"


def test_home_shows_a_finance_user_the_whole_workspace(demo_copy: Workspace) -> None:
    app = run_page(page_by_path("views/home.py"), demo_user(demo_copy, Role.FINANCE))

    assert app.caption[0].value.startswith("Whole workspace · ")
    everyone = workspace_kpis(demo_copy)
    assert metric_values(app)["Open deals"] == f"{everyone.open_pipeline_deals:,}"
