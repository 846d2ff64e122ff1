"""The Quota design page through AppTest: roles, a solve from the form, an audited override
that keeps the total, saving the scenario, and infeasible caps explained."""

from __future__ import annotations

import json

import pytest

from planning.access.roles import Role
from planning.overview import format_money
from planning.store import Workspace
from tests.views.test_pages import chart_specs, demo_user, page_app, run_page
from views.registry import page_by_path

PAGE = page_by_path("views/quota.py")


def solve_button(app):
    return [b for b in app.button if b.label == "Solve"][0]


@pytest.mark.parametrize("role", [Role.REVOPS, Role.FINANCE, Role.COMP, Role.SALES_LEADER])
def test_the_page_renders_for_each_role(role: Role, demo_copy: Workspace) -> None:
    app = run_page(PAGE, demo_user(demo_copy, role))
    assert not app.exception, [e.value for e in app.exception]
    assert not app.error, [e.value for e in app.error]
    assert [t.value for t in app.title] == ["Quota design"]
    assert solve_button(app).disabled is False


@pytest.mark.parametrize("role", [Role.REP, Role.MANAGER])
def test_sellers_may_not_open_it(role: Role, demo_copy: Workspace) -> None:
    app = run_page(PAGE, demo_user(demo_copy, role))
    assert any("Access refused" in e.value for e in app.error)


def test_finance_solves_overrides_and_saves(demo_copy: Workspace) -> None:
    finance = demo_user(demo_copy, Role.FINANCE)
    app = page_app(PAGE, finance).run()
    app.number_input[0].set_value(40_000_000.0)
    app.text_input[0].set_value("FY27 plan A")
    app = solve_button(app).click().run(timeout=60)
    assert not app.exception, [e.value for e in app.exception]
    assert not app.error, [e.value for e in app.error]
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Total quota"] == format_money(4_400_000_000)
    specs = chart_specs(app)
    assert specs[0]["layout"]["title"]["text"] == "Quota against territory potential"
    assert "attainment" in specs[1]["layout"]["title"]["text"].lower()
    assert specs[2]["layout"]["title"]["text"].startswith("Team roll-up")
    table = app.dataframe[0].value
    assert table["Quota"].sum() == pytest.approx(44_000_000.0, abs=0.005)

    assert [s for s in app.selectbox if s.label == "Rep"][0].value is not None
    [n for n in app.number_input if n.label == "New annual quota (USD)"][0].set_value(
        50_000.0)
    [t for t in app.text_input if t.label.startswith("Reason")][0].set_value(
        "Promoted to strategic accounts")
    app = [b for b in app.button if b.label == "Apply override"][0].click().run(timeout=60)
    assert not app.exception, [e.value for e in app.exception]
    assert not app.error, [e.value for e in app.error]
    table = app.dataframe[0].value
    assert table["Quota"].sum() == pytest.approx(44_000_000.0, abs=0.005)
    assert (table["Quota"] == 50_000.0).sum() >= 1
    assert any("Overrides:" in c.value for c in app.caption)
    events = demo_copy.read(lambda cur: cur.execute(
        "SELECT actor, reason FROM audit_events WHERE action = 'quota.override'").fetchall())
    assert events == [(finance.email, "Promoted to strategic accounts")]

    name_field = [t for t in app.text_input if t.label == "Version name"][0]
    assert name_field.value == "FY27 plan A with 1 override"
    app = [b for b in app.button if b.key == "quota_save"][0].click().run(timeout=60)
    assert not app.exception, [e.value for e in app.exception]
    saved = demo_copy.read(lambda cur: cur.execute(
        "SELECT name, total_cents, parameters FROM quota_scenarios").fetchall())
    assert len(saved) == 1 and saved[0][1] == 4_400_000_000
    assert saved[0][0] == "FY27 plan A with 1 override"
    assert json.loads(saved[0][2])["overrides"]
    assert demo_copy.read(lambda cur: cur.execute(
        "SELECT count(*) FROM audit_events WHERE action = 'quota.save'").fetchone()[0]) == 1


def test_caps_that_cannot_reach_the_target_are_named(demo_copy: Workspace) -> None:
    app = page_app(PAGE, demo_user(demo_copy, Role.COMP)).run()
    app.number_input[0].set_value(900_000_000.0)
    app.checkbox[0].check()
    app = solve_button(app).click().run(timeout=60)
    assert not app.exception, [e.value for e in app.exception]
    assert app.error and "cannot add up" in app.error[0].value
    assert not app.get("plotly_chart")


def test_the_default_target_grows_last_years_bookings_and_shows_them(
    demo_copy: Workspace,
) -> None:
    """Left at 0, the target is last year's bookings by these reps × (1 + growth), and the
    form says what last year booked and what the target will be."""
    from planning.quota.workspace import quota_baseline, quota_inputs

    baseline = quota_baseline(quota_inputs(demo_copy))
    assert baseline.bookings_cents > 0 and baseline.quota_cents is not None
    app = page_app(PAGE, demo_user(demo_copy, Role.FINANCE)).run()
    assert app.number_input[0].value == 0.0 and app.number_input[1].value == 10.0
    caption = next(c.value for c in app.caption if c.value.startswith("Last year ("))
    assert f"bookings {format_money(baseline.bookings_cents)} by these reps" in caption
    assert f"quotas {format_money(baseline.quota_cents)}" in caption
    app.number_input[1].set_value(20.0)
    app.text_input[0].set_value("Grow 20%")
    app = solve_button(app).click().run(timeout=60)
    assert not app.exception and not app.error, [e.value for e in app.error]
    total = {m.label: m.value for m in app.metric}["Total quota"]
    assert total == format_money(round(baseline.target_cents(0.20) * 1.10))
