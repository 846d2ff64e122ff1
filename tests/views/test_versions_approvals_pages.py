"""Plan versions and Approvals pages through AppTest: compare two quota versions, meeting mode,
submit as compensation, approve as finance and the sales leader, publish and see the outbox."""

from __future__ import annotations

import pytest

from planning.access.roles import Role
from planning.access.users import User
from planning.quota.model import QuotaScenario, solve_quotas
from planning.quota.workspace import quota_inputs, save_quota_scenario
from planning.store import Workspace
from tests.conftest import DEMO_AS_OF
from tests.views.test_pages import chart_specs, demo_user, page_app, run_page
from views.registry import page_by_path

VERSIONS = page_by_path("views/versions.py")
APPROVALS = page_by_path("views/approvals.py")


def two_quota_versions(workspace: Workspace, author: User) -> tuple[str, str]:
    """Two saved quota versions of next year (40 M and 44 M), the second a child of the first."""
    inputs = quota_inputs(workspace, today=DEMO_AS_OF)
    first = solve_quotas(inputs.reps, QuotaScenario(target_cents=4_000_000_000,
                                                    seasonality=inputs.seasonality))
    a = save_quota_scenario(workspace, inputs, first, "Plan A", user=author)
    second = solve_quotas(inputs.reps, QuotaScenario(target_cents=4_400_000_000,
                                                     seasonality=inputs.seasonality))
    b = save_quota_scenario(workspace, inputs, second, "Plan B", user=author, parent_id=a)
    return a, b


def decide_first(app, decision: str = "approved"):
    app.radio[0].set_value(decision)
    return [b for b in app.button if b.label == "Record decision"][0].click().run(timeout=60)


def test_compare_submit_approve_publish(demo_copy: Workspace) -> None:
    comp = demo_user(demo_copy, Role.COMP)
    a, b = two_quota_versions(demo_copy, comp)

    app = run_page(VERSIONS, comp)
    assert not app.exception, [e.value for e in app.exception]
    assert [t.value for t in app.title] == ["Plan versions"]
    specs = chart_specs(app)
    assert specs[0]["data"][0]["type"] == "waterfall"
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Total quota (USD)"] == "$44M"
    assert "Gini of quota ÷ potential" in metrics
    assert any(i.value.startswith("Plan B changes ") for i in app.info)
    link = app.get("code")[0].value
    assert link.endswith(f"?a={a}&b={b}&meeting=1")

    app.selectbox(key="detail_version").set_value(b)
    app = app.button(key="version_submit").click().run(timeout=60)
    assert not app.exception and not app.error, [e.value for e in app.error]
    digest = demo_copy.read(lambda cur: cur.execute(
        "SELECT content_hash FROM plan_versions WHERE version_id = ?", [b]).fetchone()[0])
    message = app.success[0].value
    assert message.startswith(f"Submitted Plan B (#{digest[:8]}) for approval; waiting for "
                              "finance: "), message
    finance = demo_user(demo_copy, Role.FINANCE)
    assert finance.email in message and "draft" not in message
    assert "Request request-" in message

    for role in (Role.FINANCE, Role.SALES_LEADER):
        approver = demo_user(demo_copy, role)
        page = run_page(APPROVALS, approver)
        assert not page.exception, [e.value for e in page.exception]
        assert any("Plan B" in m.value for m in page.markdown)
        page = decide_first(page)
        assert not page.error, [e.value for e in page.error]
        assert page.success
    status = demo_copy.read(lambda cur: cur.execute(
        "SELECT status FROM plan_versions WHERE version_id = ?", [b]).fetchone()[0])
    assert status == "approved"

    app = page_app(VERSIONS, comp).run()
    app.selectbox(key="detail_version").set_value(b)
    app = app.run()
    app = app.button(key="version_publish").click().run(timeout=60)
    assert not app.exception and not app.error, [e.value for e in app.error]
    assert any("Published:" in s.value for s in app.success)
    queued = demo_copy.read(lambda cur: cur.execute(
        "SELECT count(*) FROM writeback_outbox").fetchone()[0])
    assert queued == len(quota_inputs(demo_copy, today=DEMO_AS_OF).reps)
    assert any(d.label.startswith("Data Loader file: Quota") for d in app.get("download_button"))


def test_meeting_mode_is_read_only(demo_copy: Workspace) -> None:
    comp = demo_user(demo_copy, Role.COMP)
    a, b = two_quota_versions(demo_copy, comp)
    app = page_app(VERSIONS, comp)
    app.query_params["a"] = a
    app.query_params["b"] = b
    app.query_params["meeting"] = "1"
    app = app.run()
    assert not app.exception, [e.value for e in app.exception]
    assert not app.title
    assert app.subheader[0].value == "Plan A (A) → Plan B (B)"
    assert not app.button and not app.get("download_button")
    assert chart_specs(app)
    shown = " ".join(str(h.proto.body) for h in app.get("html"))
    assert "Plan B changes " in shown and "Total quota (USD)" in shown and "$44M" in shown
    table = app.dataframe[0].value
    assert list(table.columns) == ["Rep", "Team", "Quota A", "Quota B", "Change", "Change %"]
    visible = shown + " ".join(m.value for m in app.markdown) + " ".join(
        c.value for c in app.caption) + table.to_string()
    reps = set(demo_copy.read(lambda cur: cur.execute("SELECT rep_id FROM reps").df())["rep_id"])
    assert not [rep for rep in reps if rep in visible]
    assert a not in visible and b not in visible and "nan" not in visible.lower().split()


@pytest.mark.parametrize("role", [Role.REP, Role.MANAGER])
def test_sellers_do_not_see_versions_or_approvals(role: Role, demo_copy: Workspace) -> None:
    for page in (VERSIONS, APPROVALS):
        app = run_page(page, demo_user(demo_copy, role))
        assert any("Access refused" in e.value for e in app.error)


def test_the_submitter_cannot_approve_their_own_version(demo_copy: Workspace) -> None:
    finance = demo_user(demo_copy, Role.FINANCE)
    inputs = quota_inputs(demo_copy, today=DEMO_AS_OF)
    result = solve_quotas(inputs.reps, QuotaScenario(target_cents=4_000_000_000,
                                                     seasonality=inputs.seasonality))
    version = save_quota_scenario(demo_copy, inputs, result, "Finance plan",
                                  user=finance)
    from planning.access.policy import system_principal
    from planning.approvals import set_alternate, submit_version

    # the demo's only finance person submits: the route needs someone else for finance
    set_alternate(demo_copy, "finance", demo_user(demo_copy, Role.COMP).email,
                  system_principal(demo_copy.name))
    submit_version(demo_copy, version, finance)
    app = run_page(APPROVALS, finance)
    assert not app.exception
    assert any("Nothing is waiting" in i.value for i in app.info)
    assert any(finance.email in str(row) for row in app.dataframe[0].value.itertuples())
