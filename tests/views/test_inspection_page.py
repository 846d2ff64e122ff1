"""The Deal inspection page through AppTest: the right deals for each role, filters and flags
through their widgets, KPIs, the waterfall chart, and the no-model and refusal states."""

from __future__ import annotations

import datetime as dt

import pytest
from streamlit.testing.v1 import AppTest

from planning.access.roles import Role
from planning.overview import format_money
from planning.pipeline.inspection import DealFilters, Flag, RiskBand, inspect_deals
from planning.store import Workspace
from tests.views.test_pages import chart_specs, demo_user, element_types, metric_values, run_page
from views.registry import page_by_path

PAGE = page_by_path("views/inspection.py")


def today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def deals_table(app: AppTest):
    """The deals table (the first dataframe on the page)."""
    frames = [d.value for d in app.dataframe if "Win probability" in d.value.columns]
    assert len(frames) == 1
    return frames[0]


def open_deal_count(workspace: Workspace, owners: set[str] | None) -> int:
    """Open deals of the given owners (all when None), counted with the test's own SQL."""
    scope = "TRUE" if owners is None else "owner_id IN (SELECT UNNEST(?))"
    params = [] if owners is None else [sorted(owners)]
    return workspace.read(lambda cur: cur.execute(
        f"SELECT count(*) FROM opportunities WHERE status = 'open' AND {scope}", params
    ).fetchone()[0])


@pytest.mark.parametrize("role", [Role.MANAGER, Role.REP, Role.REVOPS],
                         ids=["manager", "rep", "revops"])
def test_each_role_sees_the_deals_in_their_scope(scored_demo_copy: Workspace, role: Role) -> None:
    user = demo_user(scored_demo_copy, role)
    expected = open_deal_count(scored_demo_copy, None if user.sees_everything
                               else set(user.deal_owner_ids))

    app = run_page(PAGE, user)

    assert not app.exception, [e.value for e in app.exception]
    assert not app.error, [e.value for e in app.error]
    assert [t.value for t in app.title] == ["Deal inspection"]
    assert expected > 0
    metrics = metric_values(app)
    assert metrics["Deals"] == f"{expected:,}"
    table = deals_table(app)
    assert len(table) == expected
    deals = inspect_deals(scored_demo_copy, user, DealFilters(), today())
    assert metrics["Amount"] == format_money(int(deals["amount_cents"].sum()))
    risky = deals.loc[deals["risk_band"] == RiskBand.HIGH.value, "amount_cents"].sum()
    assert metrics["At-risk amount"] == format_money(int(risky))
    assert list(table["Deal"]) == list(deals["deal"])
    assert not any("No deal risk model" in info.value for info in app.info)
    waterfall = chart_specs(app)[0]
    assert waterfall["data"][0]["type"] == "waterfall"
    assert waterfall["layout"]["yaxis"]["title"]["text"].startswith("Open pipeline (USD)")
    assert [trace["name"] for trace in waterfall["data"][1:]] == [
        "Open pipeline at a date", "Adds to pipeline", "Removes from pipeline"]
    caption = app.caption[0].value
    assert caption.startswith({Role.MANAGER: "Your team", Role.REP: "Your book",
                               Role.REVOPS: "Whole workspace"}[role])


def test_filters_and_flags_narrow_the_table(scored_demo_copy: Workspace) -> None:
    user = demo_user(scored_demo_copy, Role.REVOPS)
    app = run_page(PAGE, user)
    stage = next(m for m in app.multiselect if m.label == "Stage")

    stage.set_value(["Negotiation"]).run()
    expected = inspect_deals(scored_demo_copy, user, DealFilters(stages={"Negotiation"}),
                             today())
    assert metric_values(app)["Deals"] == f"{len(expected):,}"
    assert set(deals_table(app)["Stage"]) == {"Negotiation"}

    next(c for c in app.checkbox if c.label == Flag.PUSHED.label).check().run()
    expected = inspect_deals(scored_demo_copy, user, DealFilters(
        stages={"Negotiation"}, flags={Flag.PUSHED}), today())
    assert len(expected) > 0
    assert metric_values(app)["Deals"] == f"{len(expected):,}"
    assert deals_table(app)[Flag.PUSHED.label].all()


def test_a_filter_that_keeps_nothing_says_so(scored_demo_copy: Workspace) -> None:
    app = run_page(PAGE, demo_user(scored_demo_copy, Role.REP))
    for flag in Flag:
        next(c for c in app.checkbox if c.label == flag.label).check()
    app.run()

    assert not app.exception and not app.error
    assert metric_values(app)["Deals"] == "0"
    assert any("No open deal matches these filters" in info.value for info in app.info)


def test_without_a_model_the_page_says_so_and_shows_deals(demo_copy: Workspace) -> None:
    user = demo_user(demo_copy, Role.MANAGER)

    app = run_page(PAGE, user)

    assert not app.exception and not app.error
    assert any("No deal risk model is trained yet" in info.value for info in app.info)
    table = deals_table(app)
    assert len(table) == open_deal_count(demo_copy, set(user.deal_owner_ids))
    assert table["Win probability"].isna().all()
    assert metric_values(app)["At-risk amount"] == "n/a"


def test_a_viewer_is_refused(scored_demo_copy: Workspace) -> None:
    app = run_page(PAGE, demo_user(scored_demo_copy, Role.VIEWER))

    assert not app.exception
    assert element_types(app.main) == ["error", "caption"]
    assert app.error[0].value.startswith("**Access refused.**")


def _make_certain(workspace: Workspace) -> None:
    """Scores of exactly 0 and 1: three deals surely lost (and slipping), three surely won."""
    def write(cur) -> None:
        ids = [row[0] for row in cur.execute(
            "SELECT DISTINCT opportunity_id FROM deal_scores ORDER BY 1 LIMIT 6").fetchall()]
        for chosen, win in ((ids[:3], 0.0), (ids[3:], 1.0)):
            cur.execute("""UPDATE deal_scores SET win_probability = ?, slip_probability = ?
                           WHERE opportunity_id IN (SELECT UNNEST(?))""",
                        [win, 1.0 - win, chosen])

    workspace.write(write)


def test_no_deal_shows_a_certain_win_or_slip(scored_demo_copy: Workspace) -> None:
    _make_certain(scored_demo_copy)

    app = run_page(PAGE, demo_user(scored_demo_copy, Role.REVOPS))

    assert not app.exception and not app.error
    table = deals_table(app)
    for column in ("Win probability", "Slip risk"):
        shown = table[column].dropna().round(6)
        assert shown.between(1, 99).all(), column
        assert {1.0, 99.0} <= set(shown), column
