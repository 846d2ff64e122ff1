"""The Forecast page through AppTest: each selling and finance role sees its forecast, a rep
submits a call, a manager overrides one (with a reason) and sees it marked."""

from __future__ import annotations

import pytest

from planning.access.roles import Role
from planning.pipeline.forecast import forecast_quarters
from planning.pipeline.forecast_calls import submit_call
from planning.pipeline.forecast_scope import natural_level
from planning.store import Workspace
from tests.views.test_pages import chart_specs, demo_user, page_app, run_page
from views.registry import page_by_path

PAGE = page_by_path("views/forecast.py")


def snapshot_rows(workspace: Workspace) -> list[tuple]:
    """Every forecast call, oldest first."""
    return workspace.read(lambda cur: cur.execute(
        "SELECT snapshot_id, submitted_by, level, subject_id, commit_cents, best_case_cents, "
        "comment, overrides_snapshot_id, override_reason FROM forecast_snapshots "
        "ORDER BY snapshot_id").fetchall())


def button_keys(app) -> list[str]:
    """Keys of the buttons (form submit buttons included) the page drew."""
    return [button.key for button in app.button]


@pytest.mark.parametrize("role", [Role.REP, Role.MANAGER, Role.SALES_LEADER, Role.FINANCE])
def test_the_page_renders_for_each_role(role: Role, scored_demo_copy: Workspace) -> None:
    """Title, selectors at the role's natural level, a forecast chart in USD with the model
    range, the week's changes, and the call forms only for those who may use them."""
    user = demo_user(scored_demo_copy, role)

    app = run_page(PAGE, user)

    assert not app.exception, [e.value for e in app.exception]
    assert not app.error, [e.value for e in app.error]
    assert [t.value for t in app.title] == ["Forecast"]
    assert app.selectbox(key="forecast_level").value == natural_level(user)
    current, _ = forecast_quarters(scored_demo_copy)
    assert app.selectbox(key="forecast_quarter").value == current
    forecast_spec = chart_specs(app)[0]
    assert forecast_spec["layout"]["xaxis"]["title"]["text"] == "Bookings in the quarter (USD)"
    assert current.label in forecast_spec["layout"]["title"]["text"]
    names = [trace["name"] for trace in forecast_spec["data"]]
    assert names[:3] == ["Closed won to date", "Model range P10–P90", "Model P50"]
    assert "What changed since last week" in [h.value for h in app.subheader]
    keys = button_keys(app)
    assert ("call_submit" in keys) == (role in {Role.REP, Role.MANAGER, Role.SALES_LEADER})
    assert ("override_submit" in keys) is False


def test_a_rep_submits_a_call_from_the_form(scored_demo_copy: Workspace) -> None:
    rep = demo_user(scored_demo_copy, Role.REP)
    current, _ = forecast_quarters(scored_demo_copy)
    app = run_page(PAGE, rep)
    app.number_input(key=f"call_commit_rep_{current.label}").set_value(120_000)
    app.number_input(key=f"call_best_rep_{current.label}").set_value(180_000)
    app.text_area(key="call_comment").input("Two renewals signed next week")

    app.button(key="call_submit").click().run()

    assert not app.exception and not app.error, [e.value for e in app.error]
    [row] = snapshot_rows(scored_demo_copy)
    assert row[1:] == (rep.email, "rep", rep.rep_id, 12_000_000, 18_000_000,
                       "Two renewals signed next week", None, None)
    assert app.success[0].value.startswith(f"Call #{row[0]} recorded")
    rep_calls = [t for t in chart_specs(app)[0]["data"] if t["name"] == "Rep call (commit)"]
    assert rep_calls and rep_calls[0]["x"] == [120_000.0]


def test_a_manager_overrides_a_reps_call_with_a_reason(scored_demo_copy: Workspace) -> None:
    """The override form needs a reason; with one it writes a new row pointing at the rep's
    call, and the rep-level chart and call history show the override marked."""
    rep = demo_user(scored_demo_copy, Role.REP)
    manager = demo_user(scored_demo_copy, Role.MANAGER)
    current, _ = forecast_quarters(scored_demo_copy)
    original = submit_call(scored_demo_copy, rep, current, "rep", rep.rep_id, 9_000_000,
                           12_000_000, "optimistic")
    app = page_app(PAGE, manager).run()
    assert "override_submit" in button_keys(app)
    assert app.selectbox(key="override_choice").value.call.snapshot_id == original

    app.number_input(key="override_commit").set_value(60_000)
    app.number_input(key="override_best").set_value(100_000)
    app.button(key="override_submit").click().run()
    assert app.error and "reason is required" in app.error[0].value
    assert len(snapshot_rows(scored_demo_copy)) == 1

    app.text_input(key="override_reason").input("Legal review slipped to January")
    app.button(key="override_submit").click().run()

    assert not app.exception and not app.error, [e.value for e in app.error]
    rows = snapshot_rows(scored_demo_copy)
    assert rows[0][4:6] == (9_000_000, 12_000_000)
    assert rows[1][1:] == (manager.email, "rep", rep.rep_id, 6_000_000, 10_000_000, None,
                           original, "Legal review slipped to January")
    assert app.success[0].value.startswith(f"Override #{rows[1][0]} recorded")

    app.selectbox(key="forecast_level").select("rep").run()

    assert not app.exception and not app.error
    forecast_spec, history_spec = chart_specs(app)
    [override] = [t for t in forecast_spec["data"] if t["name"] == "Manager override (commit)"]
    assert override["x"] == [60_000.0]
    assert "Legal review slipped to January" in override["customdata"][0][0]
    assert any(t["name"].endswith(": override") for t in history_spec["data"])
