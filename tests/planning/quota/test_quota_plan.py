"""Quota design as one planning call per action (`planning.quota.plan`), the calls the page and
the command line both make: an allocation solved as a job, an audited override that keeps the
total, and saving."""

from __future__ import annotations

import pytest

from planning.access.roles import Role
from planning.access.users import User
from planning.errors import RevPlanError
from planning.jobs import latest_job
from planning.overview import format_money
from planning.quota.plan import (
    QuotaRequest,
    override_quota,
    planned_fiscal_year,
    save_quota_plan,
    solve_quota_plan,
)
from planning.quota.workspace import quota_baseline, quota_inputs
from planning.store import Workspace
from tests.conftest import DEMO_AS_OF

OWNER = "finance@example.com"
PLANNER = User(OWNER, "Finance", "demo", roles=frozenset({Role.FINANCE}))
"""The person OWNER is: jobs are owned by the email, versions and overrides are the user's."""


def overrides_audited(workspace: Workspace) -> list[tuple]:
    return workspace.read(lambda cur: cur.execute(
        "SELECT entity_id, actor, reason FROM audit_events WHERE action = 'quota.override'"
    ).fetchall())


def test_one_call_allocates_the_target_as_a_job(demo_copy: Workspace) -> None:
    request = QuotaRequest(target_cents=4_000_000_000, over_assign=0.1, today=DEMO_AS_OF)
    plan = solve_quota_plan(demo_copy, OWNER, request)
    assert plan.inputs.fiscal_year == 2027 == planned_fiscal_year(demo_copy, today=DEMO_AS_OF)
    assert plan.result.total_cents == 4_400_000_000
    assert int(plan.result.allocation["quota_cents"].sum()) == 4_400_000_000
    assert plan.name == f"FY2027 {format_money(4_000_000_000)}"
    job = latest_job(demo_copy, OWNER, "quota")
    assert job is not None and job.status == "done"
    fairness, capacity = plan.metrics()
    assert 0.0 <= fairness.share_expected_to_reach_100 <= 1.0 and capacity.gap is not None


def test_a_target_left_at_zero_grows_last_years_bookings(demo_copy: Workspace) -> None:
    baseline = quota_baseline(quota_inputs(demo_copy, today=DEMO_AS_OF))
    plan = solve_quota_plan(demo_copy, OWNER, QuotaRequest(growth=0.2, today=DEMO_AS_OF))
    assert plan.scenario.target_cents == baseline.target_cents(0.2)


def test_an_override_keeps_the_total_and_is_audited_once_allocated(
        demo_copy: Workspace) -> None:
    plan = solve_quota_plan(demo_copy, OWNER, QuotaRequest(target_cents=4_000_000_000,
                                                           today=DEMO_AS_OF, name="Plan A"))
    rep = str(plan.inputs.reps["rep_id"].iloc[0])
    with pytest.raises(RevPlanError, match="reason"):
        override_quota(demo_copy, plan, rep, 5_000_000, "no", user=PLANNER)
    with pytest.raises(RevPlanError, match="not in this allocation"):
        override_quota(demo_copy, plan, "nobody", 5_000_000, "Promoted", user=PLANNER)
    assert overrides_audited(demo_copy) == []

    overridden = override_quota(demo_copy, plan, rep, 5_000_000, "Promoted to strategic",
                                user=PLANNER)
    allocation = overridden.result.allocation.set_index("rep_id")["quota_cents"]
    assert int(allocation[rep]) == 5_000_000
    assert int(allocation.sum()) == plan.result.total_cents
    assert overridden.overrides == {rep: 5_000_000} and plan.overrides == {}
    assert overrides_audited(demo_copy) == [(rep, OWNER, "Promoted to strategic")]

    version_id = save_quota_plan(demo_copy, overridden, "Plan A with 1 override", user=PLANNER)
    saved = demo_copy.read(lambda cur: cur.execute(
        "SELECT name, total_cents FROM quota_scenarios WHERE scenario_id = ?",
        [version_id]).fetchone())
    assert saved == ("Plan A with 1 override", plan.result.total_cents)
