"""Smoke test of every page in the registry, each page file run on its own with AppTest.

`AppTest` cannot drive the `st.navigation` entry as a whole, so each registered page script is
run directly with the signed-in user and their workspace in session state, as `app.py` leaves
them. The helpers here (users of the demo workspace, running a page as someone) are shared by
the other page tests.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable

import pytest
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.element_tree import Block, Node

from auth.settings import load_auth_settings
from auth.sign_in import demo_sign_in_choices
from planning.access.membership import grant_roles, resolve_user
from planning.access.roles import Role
from planning.access.users import Identity, User
from planning.asof import format_day
from planning.overview import format_money, format_percent, workspace_kpis
from planning.store import Workspace
from views.common import USER_KEY, WORKSPACE_KEY
from views.registry import GROUPS, PAGES, PageEntry, grouped_pages, page_by_path

TIMEOUT_SECONDS = 30
DEMO_SETTINGS = load_auth_settings({}, {})
"""Demo sign-in, no identity provider: roles come from `workspace_members` only."""
TEST_ADMIN = "ada.admin@example.com"
DEMO_GRANTOR = "revplan demo"


def member_emails(workspace: Workspace) -> dict[Role, str]:
    """Role -> email of the demo member holding it, from the workspace's `workspace_members`.

    The demo generator grants exactly one role to each of its people, one person per role;
    members a test granted later are left out.
    """
    people = demo_sign_in_choices(workspace, DEMO_SETTINGS)
    people = people[people["granted_by"] == DEMO_GRANTOR]
    by_role = {Role(row.roles): row.email for row in people.itertuples()}
    assert len(by_role) == len(people), "a demo member holds more than one role"
    return by_role


def signed_in(workspace: Workspace, email: str) -> User:
    """The member with this email resolved in the workspace, as the demo sign-in would."""
    return resolve_user(workspace, Identity(email, email.split("@")[0], "demo"), DEMO_SETTINGS)


def demo_user(workspace: Workspace, role: Role) -> User:
    """The demo workspace's member holding `role`, signed in."""
    return signed_in(workspace, member_emails(workspace)[role])


def workspace_admin(workspace: Workspace) -> User:
    """An admin of a workspace without members (granted from the command line), signed in."""
    grant_roles(workspace, None, TEST_ADMIN, [Role.ADMIN], display_name="Ada Admin")
    return signed_in(workspace, TEST_ADMIN)


def page_app(entry: PageEntry, user: User | None) -> AppTest:
    """A page script ready to run, with `user` signed in (or nobody)."""
    app = AppTest.from_file(str(entry.file), default_timeout=TIMEOUT_SECONDS)
    if user is not None:
        app.session_state[USER_KEY] = user
        app.session_state[WORKSPACE_KEY] = user.workspace
    return app


def element_types(block: Block) -> list[str]:
    """Types of everything a page drew inside `block`, depth first (containers included)."""
    types: list[str] = []
    for node in block.children.values():
        types.append(node.type)
        if isinstance(node, Block):
            types.extend(element_types(node))
    return types


def by_type(app: AppTest, element_type: str) -> list[Node]:
    """Every element of one type the page drew."""
    return list(app.get(element_type))


def seed_recent_rows(workspace: Workspace) -> None:
    """A few reps, accounts and deals dated relative to today so the KPIs are known.

    Open pipeline $42,000.51 over 3 deals, $1,500 won today, 2 of 3 reps active, 3 accounts,
    everything loaded 3 hours and 5 minutes ago.
    """
    today = dt.datetime.now(dt.UTC).date()
    loaded = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(hours=3, minutes=5)

    def work(cur) -> None:
        cur.execute(
            "INSERT INTO reps (rep_id, name, is_active, source, loaded_at) VALUES "
            "('r1', 'Ada', TRUE, 't', ?), ('r2', 'Bo', TRUE, 't', ?), ('r3', 'Cy', FALSE, 't', ?)",
            [loaded, loaded, loaded],
        )
        cur.execute(
            "INSERT INTO accounts (account_id, name, source, loaded_at) VALUES "
            "('a1', 'Acme', 't', ?), ('a2', 'Globex', 't', ?), ('a3', 'Initech', 't', ?)",
            [loaded, loaded, loaded],
        )
        rows = [
            ("o1", "Discovery", "open", 1_200_000, today + dt.timedelta(days=30)),
            ("o2", "Proposal", "open", 2_000_051, today + dt.timedelta(days=20)),
            ("o3", "Negotiation", "open", 1_000_000, today + dt.timedelta(days=10)),
            ("o4", "Closed Won", "won", 150_000, today),
        ]
        for opp_id, stage, status, cents, close in rows:
            cur.execute(
                "INSERT INTO opportunities (opportunity_id, account_id, owner_id, stage, status, "
                "amount_cents, close_date, created_at, source, loaded_at) "
                "VALUES (?, 'a1', 'r1', ?, ?, ?, ?, ?, 't', ?)",
                [opp_id, stage, status, cents, close, loaded, loaded],
            )

    workspace.write(work)


def run_page(entry: PageEntry, user: User | None) -> AppTest:
    """Run one page script with `user` signed in (or nobody)."""
    return page_app(entry, user).run()


def metric_values(app: AppTest) -> dict[str, str]:
    """Metric label -> displayed value."""
    return {metric.label: metric.value for metric in app.metric}


def chart_specs(app: AppTest) -> list[dict]:
    """The Plotly figures a page drew, as JSON."""
    return [json.loads(chart.proto.spec) for chart in app.get("plotly_chart")]


def check_home(app: AppTest, workspace: Workspace) -> None:
    """Home: title with the workspace, KPI values agreeing with the domain function, charts."""
    kpis = workspace_kpis(workspace)
    current, last = kpis.current_quarter.label, kpis.last_quarter.label
    assert app.title[0].value == f"RevPlan — {workspace.name}"
    metrics = metric_values(app)
    newest = metrics.pop("Newest record")
    assert kpis.newest_record_at is not None
    assert newest == format_day(kpis.newest_record_at.date())
    assert metrics == {
        "Open pipeline": format_money(kpis.open_pipeline_cents),
        f"Bookings {current} to date": format_money(kpis.bookings_qtd_cents),
        f"Bookings {last}": format_money(kpis.bookings_last_quarter_cents),
        f"Win rate {last}": format_percent(kpis.win_rate_last_quarter),
        "Accounts": f"{kpis.accounts:,}",
        "Active reps": f"{kpis.active_reps:,}",
        "Open deals": f"{kpis.open_pipeline_deals:,}",
    }
    bookings, pipeline = chart_specs(app)
    assert [bar["name"] for bar in bookings["data"]] == ["Closed quarter", f"{current} to date"]
    assert bookings["data"][1]["y"] == [kpis.bookings_qtd_cents / 100]
    assert list(pipeline["data"][0]["y"]) == [s.stage for s in kpis.pipeline_by_stage]


PAGE_CHECKS: dict[str, Callable[[AppTest, Workspace], None]] = {"views/home.py": check_home}


def test_registry_is_consistent() -> None:
    """Every page file exists, URLs and titles are unique, exactly one page is the default."""
    assert all(entry.file.is_file() for entry in PAGES), [e.path for e in PAGES]
    assert len({e.url_path for e in PAGES}) == len(PAGES)
    assert len({e.title for e in PAGES}) == len(PAGES)
    assert [e.path for e in PAGES if e.default] == ["views/home.py"]
    assert set(grouped_pages()) <= set(GROUPS)
    assert all(entries for entries in grouped_pages().values())


@pytest.mark.parametrize("entry", PAGES, ids=[entry.path for entry in PAGES])
def test_page_renders_on_the_demo_workspace(entry: PageEntry, demo_copy: Workspace) -> None:
    """Every registered page runs for the demo admin without an exception or error, titled."""
    app = run_page(entry, demo_user(demo_copy, Role.ADMIN))

    assert not app.exception, [e.value for e in app.exception]
    assert not app.error, [e.value for e in app.error]
    assert app.title, f"{entry.path} shows no title"
    check = PAGE_CHECKS.get(entry.path)
    if check is not None:
        check(app, demo_copy)


def test_home_shows_hand_computed_values(workspace: Workspace) -> None:
    """On a few known rows, Home shows exactly the sums worked out by hand."""
    seed_recent_rows(workspace)
    app = run_page(page_by_path("views/home.py"), workspace_admin(workspace))

    assert not app.exception and not app.error
    assert app.title[0].value == "RevPlan — test"
    kpis = workspace_kpis(workspace)
    metrics = metric_values(app)
    assert metrics["Open pipeline"] == "$42K"
    assert metrics[f"Bookings {kpis.current_quarter.label} to date"] == "$1.5K"
    assert metrics[f"Bookings {kpis.last_quarter.label}"] == "$0"
    assert metrics[f"Win rate {kpis.last_quarter.label}"] == "n/a"
    assert metrics["Accounts"] == "3"
    assert metrics["Active reps"] == "2"
    assert metrics["Open deals"] == "3"
    assert {m.label: m.delta for m in app.metric}["Newest record"] == "3 hours ago"
    assert app.caption[0].value.startswith("Whole workspace · Newest record 3 hours ago")

    bookings, pipeline = chart_specs(app)
    assert bookings["layout"]["yaxis"]["title"]["text"] == "Bookings (USD)"
    assert bookings["layout"]["xaxis"]["title"]["text"] == "Fiscal quarter"
    assert pipeline["layout"]["xaxis"]["title"]["text"] == "Open pipeline (USD)"
    assert list(pipeline["data"][0]["y"]) == ["Discovery", "Negotiation", "Proposal"]
    assert sum(pipeline["data"][0]["x"]) == pytest.approx(42_000.51)
    assert not app.info


def test_home_on_an_empty_workspace_hints_at_import(data_dir) -> None:
    """An empty workspace shows zeros and a hint to import data, not an error."""
    from planning.store import open_workspace

    app = run_page(page_by_path("views/home.py"),
                   workspace_admin(open_workspace("empty", create=True)))

    assert not app.exception and not app.error
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Open pipeline"] == "$0"
    assert metrics["Accounts"] == "0"
    assert metrics["Newest record"] == "none"
    assert any("no CRM data yet" in info.value for info in app.info)


def test_home_reports_a_missing_workspace(data_dir) -> None:
    user = User(email=TEST_ADMIN, name="Ada", workspace="nowhere", roles=frozenset({Role.ADMIN}))
    app = run_page(page_by_path("views/home.py"), user)

    assert not app.exception
    assert "does not exist" in app.error[0].value
    assert not app.title and not app.metric
