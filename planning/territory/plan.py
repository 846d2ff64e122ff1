"""Territory design as one call per action, the same for the page and the command line.

`plan_territories` reads the workspace's accounts and reps, builds the scenario and solves it
as a job (see `planning.jobs`: a process of its own with a hard time limit); the caller may
follow the job (progress, cancel) and gets the plan with its result. `plan_again` solves the
same inputs with another scenario (the suggested tolerance), `compare_objectives` solves the
trade-off and `save_plan` keeps a plan as a version.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace

from planning.access.entry_points import entry_point
from planning.access.policy import Action
from planning.access.users import User
from planning.jobs import JobFollower, run_job, solve_territory_in_job
from planning.store import Workspace
from planning.territory.problem import TerritoryScenario
from planning.territory.solve import TerritoryResult
from planning.territory.tradeoff import TradeOff, option_weight, tradeoff
from planning.territory.workspace import (
    MEASURE_NAMES,
    WorkspaceTerritory,
    save_scenario,
    suggested_measure,
    workspace_territory,
)


@dataclass(frozen=True)
class TerritoryRequest:
    """What a person asks a territory solve for, as the page's form and the command line's
    options give it."""

    measure: str | None = None
    """Balance measure key (`MEASURE_NAMES`); None: the workspace's suggested one."""
    scenario: TerritoryScenario = field(default_factory=TerritoryScenario)
    """Tolerance, caps, time limit, method; its balance measure is set from `measure`."""
    objective_share: float | None = None
    """When given, the disruption weight becomes this share of the problem's continuity
    weight (see `tradeoff.option_weight`); else the scenario's own weight is kept."""
    locked_ids: tuple[str, ...] = ()
    respect_segments: bool = True
    today: dt.date | None = None
    """The plan's day (default: the workspace's as-of day)."""
    name: str = ""
    """The scenario's name; empty: the measure and tolerance."""


@dataclass(frozen=True)
class TerritoryPlan:
    """A solved territory scenario with the workspace inputs it was solved on."""

    territory: WorkspaceTerritory
    scenario: TerritoryScenario
    name: str
    locked_ids: tuple[str, ...]
    respect_segments: bool
    result: TerritoryResult


def plan_territories(workspace: Workspace, owner: str, request: TerritoryRequest, *,
                     follow: JobFollower | None = None) -> TerritoryPlan:
    """Solve the workspace's territories for `request` as a job owned by `owner`, followed by
    `follow` (default: wait up to the time limit); the plan with its result (the best plan so
    far, as time_limit, when the limit is reached). User errors (an unknown measure or locked
    account, no reps or accounts) are raised before any job starts."""
    measure = request.measure or suggested_measure(workspace, request.today)
    territory = workspace_territory(workspace, measure, respect_segments=request.respect_segments,
                                    locked_ids=tuple(request.locked_ids), today=request.today)
    scenario = replace(request.scenario, balance_measure=MEASURE_NAMES[measure])
    if request.objective_share is not None:
        scenario = replace(scenario, disruption_weight=option_weight(territory.problem,
                                                                     request.objective_share))
    name = request.name.strip() or f"{MEASURE_NAMES[measure]} ±{scenario.tolerance:.0%}"
    return _solved(workspace, owner, territory, scenario, name, tuple(request.locked_ids),
                   request.respect_segments, follow)


def plan_again(workspace: Workspace, owner: str, plan: TerritoryPlan,
               scenario: TerritoryScenario, name: str, *,
               follow: JobFollower | None = None) -> TerritoryPlan:
    """Solve the same workspace inputs as `plan` with another scenario (e.g. the smallest
    tolerance that has a plan) as a job, like `plan_territories`."""
    return _solved(workspace, owner, plan.territory, scenario, name, plan.locked_ids,
                   plan.respect_segments, follow)


def _solved(workspace: Workspace, owner: str, territory: WorkspaceTerritory,
            scenario: TerritoryScenario, name: str, locked_ids: tuple[str, ...],
            respect_segments: bool, follow: JobFollower | None) -> TerritoryPlan:
    payload = {"problem": territory.problem, "scenario": scenario, "territory": territory,
               "name": name, "locked": locked_ids, "respect_segments": respect_segments}
    result = run_job(workspace, "territory", owner, payload, time_limit_s=scenario.time_limit,
                     parameters={"name": name, "tolerance": scenario.tolerance,
                                 "disruption_weight": scenario.disruption_weight},
                     follow=follow)
    return TerritoryPlan(territory=territory, scenario=scenario, name=name,
                         locked_ids=locked_ids, respect_segments=respect_segments,
                         result=result)


def plan_from_job_input(payload: dict, result: TerritoryResult) -> TerritoryPlan:
    """The plan of a territory job the page queued earlier (to show it again after a reload),
    from the job's input and its result."""
    return TerritoryPlan(territory=payload["territory"], scenario=payload["scenario"],
                         name=payload["name"], locked_ids=tuple(payload["locked"]),
                         respect_segments=payload["respect_segments"], result=result)


def compare_objectives(workspace: Workspace, owner: str, plan: TerritoryPlan, *,
                       total_seconds: float) -> TradeOff:
    """The plan's scenario solved with each objective (continuity, balanced, compactness),
    each as a job, in at most `total_seconds` together."""
    return tradeoff(plan.territory.problem, plan.scenario, total_seconds=total_seconds,
                    solve=lambda problem, scenario: solve_territory_in_job(
                        workspace, owner, problem, scenario))


@entry_point(Action.SOLVE_TERRITORY)
def save_plan(workspace: Workspace, plan: TerritoryPlan, name: str, *, user: User,
              parent_id: str | None = None) -> str:
    """Keep the plan as a territory scenario and plan version (refused without a plan or
    with a name or content already saved); returns its id."""
    return save_scenario(workspace, plan.territory, plan.result, name, user=user,
                         locked_ids=plan.locked_ids,
                         respect_segments=plan.respect_segments, parent_id=parent_id)
