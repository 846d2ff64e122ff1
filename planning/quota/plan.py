"""Quota design as one call per action, the same for the page and the command line.

`solve_quota_plan` reads the workspace's reps for the fiscal year, sets the target, builds the
scenario and allocates it as a job (see `planning.jobs`); `override_quota` sets one rep's
quota by hand, allocates again and audits the override; `save_quota_plan` keeps a plan as a
version. The caller may follow each job (progress, cancel).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace

from planning.access.entry_points import entry_point
from planning.access.policy import Action
from planning.access.users import User
from planning.asof import resolve_as_of
from planning.errors import RevPlanError
from planning.jobs import JobFollower, run_job
from planning.overview import format_money
from planning.periods import fiscal_year_of
from planning.quota.fairness import CapacityCheck, FairnessReport
from planning.quota.model import QuotaResult, QuotaScenario
from planning.quota.workspace import (
    DEFAULT_BLEND,
    DEFAULT_GROWTH,
    QuotaInputs,
    checked_reason,
    quota_baseline,
    quota_inputs,
    quota_metrics,
    record_override,
    save_quota_scenario,
)
from planning.store import Workspace
from planning.store.kpis import fiscal_year_start_month

QUOTA_TIME_LIMIT_S = 120.0
"""Hard wall-clock limit of one quota allocation job."""


@dataclass(frozen=True)
class QuotaRequest:
    """What a person asks a quota allocation for, as the page's form and the command line's
    options give it."""

    target_cents: int = 0
    """The company bookings target; 0: last year's bookings by these reps × (1 + growth)."""
    growth: float = DEFAULT_GROWTH
    blend: dict[str, float] = field(
        default_factory=lambda: {m: w / 100 for m, w in DEFAULT_BLEND.items()})
    over_assign: float = 0.0
    max_increase: float | None = None
    max_decrease: float | None = None
    floor_cents: int | None = None
    ceiling_cents: int | None = None
    team_totals: str = "free"
    fiscal_year: int | None = None
    """Default: the fiscal year after the plan's day."""
    territory_scenario: str | None = None
    """A saved territory scenario whose assignment gives the potential."""
    today: dt.date | None = None
    """The plan's day (default: the workspace's as-of day)."""
    name: str = ""
    """The allocation's name; empty: the fiscal year and target."""


@dataclass(frozen=True)
class QuotaPlan:
    """An allocation with the inputs, scenario (without overrides), name and overrides it was
    solved with."""

    inputs: QuotaInputs
    scenario: QuotaScenario
    name: str
    overrides: dict[str, int]
    result: QuotaResult

    def metrics(self) -> tuple[FairnessReport, CapacityCheck]:
        """Fairness of the allocation and the capacity check against its total."""
        return quota_metrics(self.inputs, self.result)


def planned_fiscal_year(workspace: Workspace, fiscal_year: int | None = None,
                        today: dt.date | None = None) -> int:
    """The fiscal year a request plans: the one given, else the one after the plan's day (to
    check a version name before any solving)."""
    if fiscal_year is not None:
        return fiscal_year
    day = today or resolve_as_of(workspace).day
    return fiscal_year_of(day, workspace.read(fiscal_year_start_month)) + 1


def solve_quota_plan(workspace: Workspace, owner: str, request: QuotaRequest, *,
                     follow: JobFollower | None = None) -> QuotaPlan:
    """Allocate the request's target across the workspace's reps as a job owned by `owner`,
    followed by `follow` (default: wait up to its limit). User errors (no reps, nothing to
    grow from, impossible caps) are raised in one line."""
    inputs = quota_inputs(workspace, request.fiscal_year,
                          territory_scenario=request.territory_scenario, today=request.today)
    target_cents = request.target_cents or quota_baseline(inputs).target_cents(request.growth)
    if target_cents <= 0:
        raise RevPlanError("The reps booked nothing last year to grow from: enter a target.")
    scenario = QuotaScenario(
        target_cents=target_cents, blend=dict(request.blend), over_assign=request.over_assign,
        max_increase=request.max_increase, max_decrease=request.max_decrease,
        floor_cents=request.floor_cents, ceiling_cents=request.ceiling_cents,
        team_totals=request.team_totals, seasonality=inputs.seasonality)
    name = request.name.strip() or f"FY{inputs.fiscal_year} {format_money(target_cents)}"
    return _allocated(workspace, owner, inputs, scenario, name, {}, follow)


@entry_point(Action.SOLVE_QUOTA)
def override_quota(workspace: Workspace, plan: QuotaPlan, rep_id: str, quota_cents: int,
                   reason: str, *, user: User, follow: JobFollower | None = None) -> QuotaPlan:
    """Set one rep's annual quota by hand and allocate again (the others rebalance to keep the
    total) as a job; the override is audited with its reason once the allocation returned.
    Refused without a reason of at least 5 characters or for a rep not in the plan."""
    checked_reason(reason)
    if rep_id not in set(plan.inputs.reps["rep_id"]):
        raise RevPlanError(f"Rep {rep_id!r} is not in this allocation.")
    overrides = {**plan.overrides, rep_id: int(quota_cents)}
    overridden = _allocated(workspace, user.email, plan.inputs, plan.scenario, plan.name,
                            overrides, follow)
    record_override(workspace, rep_id, int(quota_cents), reason, user=user)
    return overridden


def _allocated(workspace: Workspace, owner: str, inputs: QuotaInputs, scenario: QuotaScenario,
               name: str, overrides: dict[str, int], follow: JobFollower | None) -> QuotaPlan:
    solving = replace(scenario, overrides=overrides)
    result = run_job(workspace, "quota", owner,
                     {"reps": inputs.reps, "scenario": solving, "inputs": inputs,
                      "base_scenario": scenario, "name": name, "overrides": overrides},
                     time_limit_s=QUOTA_TIME_LIMIT_S,
                     parameters={"target_cents": scenario.target_cents}, follow=follow)
    return QuotaPlan(inputs=inputs, scenario=scenario, name=name, overrides=overrides,
                     result=result)


def plan_from_job_input(payload: dict, result: QuotaResult) -> QuotaPlan | None:
    """The plan of a quota job queued earlier (to show it again after a reload), from the job's
    input and its result; None for an input without the plan's inputs."""
    if "inputs" not in payload:
        return None
    return QuotaPlan(inputs=payload["inputs"], scenario=payload["base_scenario"],
                     name=payload["name"], overrides=dict(payload.get("overrides") or {}),
                     result=result)


@entry_point(Action.SOLVE_QUOTA)
def save_quota_plan(workspace: Workspace, plan: QuotaPlan, name: str, *, user: User,
                    parent_id: str | None = None) -> str:
    """Keep the allocation as a quota scenario and plan version (refused with a name or
    content already saved); returns its id."""
    return save_quota_scenario(workspace, plan.inputs, plan.result, name, user=user,
                               parent_id=parent_id)
