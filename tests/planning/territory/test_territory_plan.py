"""Territory design as one planning call per action (`planning.territory.plan`), the calls
the page and the command line both make: the workspace's accounts solved as a job, the same
inputs solved again at another tolerance, and saving."""

from __future__ import annotations

from dataclasses import replace

import pytest

from planning.access.roles import Role
from planning.access.users import User
from planning.errors import RevPlanError
from planning.jobs import latest_job
from planning.store import Workspace
from planning.territory.plan import (
    TerritoryRequest,
    plan_again,
    plan_territories,
    save_plan,
)
from planning.territory.problem import TerritoryScenario
from planning.territory.workspace import MEASURE_NAMES, suggested_measure
from tests.conftest import DEMO_AS_OF

OWNER = "revops@example.com"
PLANNER = User(OWNER, "RevOps", "demo", roles=frozenset({Role.REVOPS}))
"""The person OWNER is: jobs are owned by the email, versions and overrides are the user's."""
FAST = TerritoryScenario(tolerance=0.3, time_limit=20.0, method="heuristic")


def test_one_call_solves_the_workspace_as_a_job(demo_copy: Workspace) -> None:
    plan = plan_territories(demo_copy, OWNER, TerritoryRequest(scenario=FAST,
                                                                today=DEMO_AS_OF))
    measure = suggested_measure(demo_copy, DEMO_AS_OF)
    assert plan.territory.measure == measure
    assert plan.scenario.balance_measure == MEASURE_NAMES[measure]
    assert plan.name == f"{MEASURE_NAMES[measure]} ±30%"
    assert plan.result.has_plan
    assert set(plan.result.assignment["unit_id"]) == set(plan.territory.units["unit_id"])
    job = latest_job(demo_copy, OWNER, "territory")
    assert job is not None and job.finished and job.parameters["tolerance"] == 0.3

    again = plan_again(demo_copy, OWNER, plan, replace(plan.scenario, tolerance=0.25), "Again")
    assert again.territory is plan.territory and again.result.scenario.tolerance == 0.25

    version_id = save_plan(demo_copy, plan, "West", user=PLANNER)
    saved = demo_copy.read(lambda cur: cur.execute(
        "SELECT name, balance_measure FROM territory_scenarios WHERE scenario_id = ?",
        [version_id]).fetchone())
    assert saved == ("West", measure)


def test_an_objective_share_sets_the_disruption_weight(demo_copy: Workspace) -> None:
    plan = plan_territories(demo_copy, OWNER, TerritoryRequest(
        measure="accounts", scenario=FAST, objective_share=0.0, today=DEMO_AS_OF,
        name="  Compact  "))
    assert plan.scenario.disruption_weight == 0.0 and plan.name == "Compact"


def test_a_locked_account_that_does_not_exist_is_refused_before_any_job(
        demo_copy: Workspace) -> None:
    with pytest.raises(RevPlanError, match="Locked account"):
        plan_territories(demo_copy, OWNER, TerritoryRequest(
            scenario=FAST, locked_ids=("no-such-account",), today=DEMO_AS_OF))
    assert latest_job(demo_copy, OWNER, "territory") is None
