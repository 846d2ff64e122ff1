"""The Territory design page through AppTest: roles, a solve from the form with its result,
saving the scenario (audited), and an infeasible scenario explained."""

from __future__ import annotations

import json
import re

import pytest

from planning.access.roles import Role
from planning.store import Workspace
from tests.views.test_pages import chart_specs, demo_user, page_app, run_page
from views.registry import page_by_path

PAGE = page_by_path("views/territory.py")


@pytest.mark.parametrize("role", [Role.REVOPS, Role.SALES_LEADER, Role.MANAGER])
def test_the_page_renders_for_each_role(role: Role, demo_copy: Workspace) -> None:
    app = run_page(PAGE, demo_user(demo_copy, role))
    assert not app.exception, [e.value for e in app.exception]
    assert not app.error, [e.value for e in app.error]
    assert [t.value for t in app.title] == ["Territory design"]
    solve = [b for b in app.button if b.label == "Solve"]
    assert len(solve) == 1
    assert solve[0].disabled == (role == Role.MANAGER)


def test_a_rep_may_not_open_it(demo_copy: Workspace) -> None:
    app = run_page(PAGE, demo_user(demo_copy, Role.REP))
    assert any("Access refused" in e.value for e in app.error)
    assert not app.title


def test_a_sales_leader_solves_and_saves_a_scenario(demo_copy: Workspace) -> None:
    app = page_app(PAGE, demo_user(demo_copy, Role.SALES_LEADER)).run()
    app.slider[0].set_value(10)
    app.text_input[0].set_value("West rebalance")
    app = [b for b in app.button if b.label == "Solve"][0].click().run(timeout=120)
    assert not app.exception, [e.value for e in app.exception]
    assert not app.error, [e.value for e in app.error]
    assert app.success and "optimal" in app.success[0].value.lower()
    metrics = {m.label: m.value for m in app.metric}
    deviation = float(metrics["Max balance deviation"].strip("%+")) / 100
    assert deviation <= 0.10 + 1e-9
    assert re.fullmatch(r"\d[\d,]*(\.\d)? km", metrics["Average distance to the rep"])
    specs = chart_specs(app)
    assert [trace["name"] for trace in specs[0]["data"]] == ["Accounts", "Rep home"]
    assert specs[0]["layout"]["xaxis"]["title"]["text"] == "Longitude (°)"
    assert "band" in specs[1]["layout"]["title"]["text"]
    assert f"Accounts moved ({metrics['Accounts moved']})" in [h.value for h in app.subheader]

    app = [b for b in app.button if b.key == "territory_save"][0].click().run(timeout=60)
    assert not app.exception, [e.value for e in app.exception]
    saved = demo_copy.read(lambda cur: cur.execute(
        "SELECT name, created_by, solver, content_hash FROM territory_scenarios").fetchall())
    assert len(saved) == 1 and saved[0][0] == "West rebalance"
    assert json.loads(saved[0][2])["status"] in ("optimal", "within_gap")
    rows = demo_copy.read(lambda cur: cur.execute(
        "SELECT count(*) FROM territory_assignments").fetchone()[0])
    units = demo_copy.read(lambda cur: cur.execute(
        "SELECT count(*) FROM accounts WHERE lat IS NOT NULL").fetchone()[0])
    assert rows == units
    audited = demo_copy.read(lambda cur: cur.execute(
        "SELECT actor, entity_id FROM audit_events WHERE action = 'territory.save'").fetchall())
    assert len(audited) == 1 and audited[0][0] == saved[0][1]


def test_a_scenario_without_a_plan_says_so(demo_copy: Workspace) -> None:
    # Whole accounts cannot balance every rep's count within ±1% of its share.
    app = page_app(PAGE, demo_user(demo_copy, Role.REVOPS)).run()
    app.selectbox[0].set_value("accounts")
    app.slider[0].set_value(1)
    app.slider[1].set_value(5)
    app = [b for b in app.button if b.label == "Solve"][0].click().run(timeout=120)
    assert not app.exception, [e.value for e in app.exception]
    assert not app.success, [s.value for s in app.success]
    texts = [e.value for e in app.error] + [w.value for w in app.warning]
    assert any("No plan" in t or "infeasible" in t for t in texts), texts
    assert not app.get("plotly_chart")


def test_the_default_solve_lists_moved_accounts_and_compares_the_objectives(
    demo_copy: Workspace,
) -> None:
    app = page_app(PAGE, demo_user(demo_copy, Role.REVOPS)).run()
    assert app.selectbox(key="territory_objective").value == "Continuity"
    app = [b for b in app.button if b.label == "Solve"][0].click().run(timeout=120)
    assert not app.exception, [e.value for e in app.exception]
    moved = app.dataframe[0].value
    assert {"Account", "CRM id", "From", "To", "Revenue"} <= set(moved.columns)
    assert not moved["Account"].equals(moved["CRM id"])
    assert any("of annual revenue" in c.value for c in app.caption)
    app = app.button(key="territory_tradeoff_run").click().run(timeout=120)
    assert not app.exception, [e.value for e in app.exception]
    table = app.dataframe[1].value
    assert list(table["Option"]) == ["Continuity", "Balanced", "Compactness"]
    assert table["Average distance"].str.fullmatch(
        r"\d[\d,]*(\.\d)? km avg, weighted by potential").all()
    assert table["Accounts moved"].iloc[0] <= table["Accounts moved"].iloc[2]
    app = app.button(key="territory_pick_Compactness").click().run(timeout=60)
    assert not app.exception, [e.value for e in app.exception]
    assert {m.label: m.value for m in app.metric}["Accounts moved"] == (
        f"{table['Accounts moved'].iloc[2]:,}")
