"""Solve a territory scenario: heuristic first plan, candidate-pruned MIP warm-started from it,
and a bound proven for the full problem, so the reported gap is never flattering.

Status words: optimal (gap ≤ 0.01 %), within_gap (gap ≤ the scenario's target), time_limit
(stopped by the clock above the target gap), feasible (a valid plan whose gap could not be
proven), cancelled (stopped by the user; best plan so far), infeasible (with the obstacle and
the smallest workable tolerance) and no_plan (nothing found in time, infeasibility not proven).

A heuristic that cannot reach a valid plan still hands back its best effort: an infeasible or
no_plan result then carries that assignment with the constraints it breaks named
(`violations`, reps by name), so a caller always has a plan to look at, never nothing.
`has_plan` stays true only for a plan that meets every constraint.

Each step of a solve is its own function (`_first_plan`, `_start_from`, `_lagrangian_search`,
`_lp_bound`, `_lp_rounding`, `_mip_search`, `_finish`), named with its share of the progress
bar in `STAGES`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from planning.progress import ProgressCallback, no_progress
from planning.territory.check import plan_violations
from planning.territory.diagnose import Infeasibility, diagnose, smallest_feasible_tolerance
from planning.territory.heuristic import HeuristicPlan, heuristic_plan
from planning.territory.model import (
    AssignmentModel,
    MipOutcome,
    Pairs,
    balance_lagrangian_bound,
    build_model,
    candidate_pairs,
    full_problem_bound,
    solve_model,
)
from planning.territory.problem import TerritoryProblem, TerritoryScenario

OPTIMAL_GAP = 1e-4
WIDENING_ROUNDS = 3
MAX_MODEL_PAIRS = 200_000
"""Above this many unit-rep pairs in the candidate model, Pyomo's model building alone eats
the time limit on this class of machine: the heuristic's local search runs instead, against
the nearest-rep bound."""


LAGRANGIAN_SHARE = 0.3
"""Share of the time limit given to the balance-Lagrangian bound on books too large for the LP."""


@dataclass(frozen=True)
class TerritoryResult:
    """A territory plan with its solver statistics, or why there is none."""

    status: str
    method: str
    objective: float | None
    bound: float | None
    gap: float | None
    seconds: float
    first_feasible_seconds: float | None
    target_gap_seconds: float | None
    """When the plan was first proven within the scenario's gap (None: never)."""
    scenario: TerritoryScenario
    assignment: pd.DataFrame | None = None
    """unit_id, rep_id, current_rep_id, moved, workload, value, km."""
    reps: pd.DataFrame | None = None
    """rep_id, workload, today_workload, target, low, high, deviation, units, moved_in,
    moved_out."""
    infeasibility: Infeasibility | None = None
    message: str = ""
    details: dict = field(default_factory=dict)
    violations: tuple[str, ...] = ()
    """The constraints a best-effort assignment breaks (empty for a valid plan)."""

    @property
    def has_plan(self) -> bool:
        """A plan that meets every constraint."""
        return self.assignment is not None and not self.violations

    @property
    def has_best_effort(self) -> bool:
        """An assignment that breaks the constraints named in `violations`."""
        return self.assignment is not None and bool(self.violations)

    def kpis(self) -> dict[str, float | int | None]:
        """Headline figures of the plan (None for a best effort: see `best_effort_kpis`)."""
        return self._figures() if self.has_plan else self._figures(None)

    def best_effort_kpis(self) -> dict[str, float | int | None]:
        """Headline figures of a best-effort assignment that breaks constraints."""
        return self._figures() if self.has_best_effort else self._figures(None)

    def _figures(self, assignment: object = True) -> dict[str, float | int | None]:
        if assignment is None or self.assignment is None or self.reps is None:
            return {"max_balance_deviation": None, "moved_units": None,
                    "weighted_distance_km": None, "mean_distance_km": None,
                    "moved_value": None}
        moved = self.assignment["moved"]
        return {
            "max_balance_deviation": float(self.reps["deviation"].abs().max()),
            "moved_units": int(moved.sum()),
            "weighted_distance_km": float(
                (self.assignment["workload"] * self.assignment["km"]).sum()),
            "mean_distance_km": mean_distance_km(self.assignment["km"].to_numpy(dtype=float),
                                                 self.assignment["value"].to_numpy(dtype=float)),
            "moved_value": float(self.assignment.loc[moved, "value"].sum()),
        }

    def report(self) -> dict[str, object]:
        """The JSON report (status, objective, bound, gap, seconds, method, KPIs, settings)."""
        scenario = self.scenario
        report: dict[str, object] = {
            "status": self.status, "method": self.method, "objective": self.objective,
            "bound": self.bound, "gap": self.gap, "seconds": round(self.seconds, 3),
            "first_feasible_seconds": self.first_feasible_seconds,
            "target_gap_seconds": self.target_gap_seconds, **self.kpis(),
            "message": self.message,
            "scenario": {
                "tolerance": scenario.tolerance, "disruption_weight": scenario.disruption_weight,
                "objective": scenario.objective,
                "max_moves_per_rep": scenario.max_moves_per_rep,
                "time_limit": scenario.time_limit, "rel_gap": scenario.rel_gap,
                "candidates": scenario.candidates, "method": scenario.method,
                "balance_measure": scenario.balance_measure,
            },
            "details": self.details,
            "violations": list(self.violations),
        }
        if self.has_best_effort:
            report["best_effort"] = self.best_effort_kpis()
        if self.infeasibility is not None:
            report["infeasibility"] = {
                "constraint": self.infeasibility.constraint,
                "message": self.infeasibility.message,
                "units": list(self.infeasibility.units), "reps": list(self.infeasibility.reps),
                "tolerance_needed": self.infeasibility.tolerance_needed,
                "suggested_tolerance": self.infeasibility.suggested_tolerance,
            }
        return report


def plan_tables(
    problem: TerritoryProblem, scenario: TerritoryScenario, owner: np.ndarray
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The assignment and per-rep tables of a plan (rep index per unit)."""
    rep_ids = problem.reps["rep_id"].to_numpy(dtype=object)
    units = problem.units
    current = units["current_rep_id"].to_numpy(dtype=object)
    assigned = rep_ids[owner]
    moved = pd.notna(current) & (current != assigned)
    assignment = pd.DataFrame({
        "unit_id": units["unit_id"], "rep_id": assigned, "current_rep_id": current,
        "moved": moved, "workload": problem.workload, "value": problem.value,
        "km": problem.distance_km[np.arange(problem.unit_count), owner],
    })
    load = np.bincount(owner, weights=problem.workload, minlength=problem.rep_count)
    low, high = problem.band(scenario.tolerance)
    current_index = problem.current
    moved_out = np.bincount(current_index[moved], minlength=problem.rep_count)
    moved_in = np.bincount(owner[moved], minlength=problem.rep_count)
    has = current_index >= 0
    today = np.bincount(current_index[has], weights=problem.workload[has],
                        minlength=problem.rep_count)
    reps = pd.DataFrame({
        "rep_id": rep_ids, "workload": load, "today_workload": today,
        "target": problem.target, "low": low,
        "high": high, "deviation": load / problem.target - 1,
        "units": np.bincount(owner, minlength=problem.rep_count),
        "moved_in": moved_in, "moved_out": moved_out,
    })
    return assignment, reps


def mean_distance_km(km: np.ndarray, value: np.ndarray) -> float | None:
    """The mean km from an account to its rep's home weighted by the account's value (annual
    revenue, its potential): a distance a leader can read, unlike the Σ workload × km the
    model minimises. Unweighted when no account has a value; None without accounts."""
    if len(km) == 0:
        return None
    weights = np.clip(value, 0.0, None)
    total = float(weights.sum())
    return float((km * weights).sum() / total) if total > 0 else float(km.mean())


def current_plan_kpis(problem: TerritoryProblem) -> dict[str, float] | None:
    """Max deviation and distances of today's assignment (None if a unit has none)."""
    owner = problem.current
    if (owner < 0).any():
        return None
    load = np.bincount(owner, weights=problem.workload, minlength=problem.rep_count)
    km = problem.distance_km[np.arange(problem.unit_count), owner]
    return {
        "max_balance_deviation": float(np.abs(load / problem.target - 1).max()),
        "weighted_distance_km": float((problem.workload * km).sum()),
        "mean_distance_km": mean_distance_km(km, problem.value),
    }


def _gap(objective: float, bound: float) -> float:
    return max(objective - bound, 0.0) / max(abs(objective), 1e-9)


class _Clock:
    def __init__(self, limit: float) -> None:
        self.started = time.perf_counter()
        self.limit = limit

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def left(self) -> float:
        return max(self.limit - self.elapsed(), 0.0)


@dataclass(frozen=True)
class Stage:
    """A step of a solve as the progress bar shows it: the share it starts at and ends at,
    its words when it starts, and the words of its ticks while the solver runs."""

    start: float
    end: float
    words: str
    running: str = ""


STAGES: dict[str, Stage] = {
    "first_plan": Stage(0.02, 0.1, "Building a first plan (heuristic)"),
    "diagnosis": Stage(0.1, 0.1, "No first plan: checking whether the scenario is feasible"),
    "lagrangian_bound": Stage(0.2, 0.5, "Proving a bound (balance Lagrangian)"),
    "lagrangian_search": Stage(
        0.5, 1.0, "Improving the plan (Lagrangian start, repair, local search)"),
    "lp_bound": Stage(0.1, 0.25, "Proving a bound (LP relaxation over the nearest reps)"),
    "lp_rounding": Stage(0.25, 0.3, "Rounding the LP plan and repairing it"),
    "mip": Stage(0.3, 1.0, "Improving the plan (MIP, warm-started)",
                 "Improving the plan (MIP)"),
    "full_model": Stage(0.05, 0.1, "Building the full model"),
    "full_mip": Stage(0.1, 1.0, "Solving the full model", "Solving the full model"),
}
"""The steps of a solve, each with its share of the progress bar. After the first plan (and
the diagnosis when there is none) a solve takes one of two routes: the balance-Lagrangian
bound and search for a book too large for the model, or the LP bound, its rounding and the
MIP. A heuristic solve stops after the first plan; a plain one runs only the full model."""


def _enter(progress: ProgressCallback, stage: str) -> None:
    """Report the start of `stage`."""
    progress(STAGES[stage].start, STAGES[stage].words)


def _solver_ticks(
    progress: ProgressCallback, stage: str, limit: float, offset: float
) -> Callable[[float], None]:
    """A throttled tick for a solver running `limit` seconds in `stage`: its share of the
    bar fills with the solver's seconds; the words give the solve's seconds (`offset` +)."""
    step = STAGES[stage]

    def tick(seconds: float) -> None:
        progress(step.start + (step.end - step.start) * min(seconds / max(limit, 1e-9), 1.0),
                 f"{step.running}: {offset + seconds:.0f} s")

    return _throttled(tick)


def solve_territories(
    problem: TerritoryProblem, scenario: TerritoryScenario, *,
    progress: ProgressCallback = no_progress, cancel: threading.Event | None = None,
    incumbent: Callable[[TerritoryResult], None] | None = None,
) -> TerritoryResult:
    """Solve the scenario (see the module docstring for the method and status words).

    `incumbent` receives the best plan so far, worded as stopped at the time limit, each time
    it improves (the heuristic plan first), so a process killed by the clock still has one.
    """
    clock = _Clock(scenario.time_limit)
    keep = _Keeper(problem, scenario, clock, incumbent)
    if scenario.method == "plain":
        return _solve_plain(problem, scenario, clock, progress, cancel, keep)
    first, improve = _first_plan(problem, scenario, progress)
    run = _Run(problem, scenario, clock, progress, cancel, keep,
               cost=problem.cost(scenario.disruption_weight),
               first_seconds=first.feasible_seconds)
    result = _solve_from(run, first, improve)
    if result.assignment is None and not first.feasible:
        return _best_effort(problem, scenario, result, first.owner)
    return result


def _first_plan(
    problem: TerritoryProblem, scenario: TerritoryScenario, progress: ProgressCallback
) -> tuple[HeuristicPlan, float]:
    """The heuristic's first plan, and the seconds of local search later repairs may use
    (spent on the first plan itself unless the method is auto)."""
    _enter(progress, "first_plan")
    improve = min(max(1.0, 0.1 * scenario.time_limit), scenario.time_limit)
    first = heuristic_plan(problem, scenario, seconds=scenario.time_limit,
                           improve_seconds=0.0 if scenario.method == "auto" else improve)
    return first, improve


@dataclass
class _Run:
    """One solve between its stages: what it was asked and the best plan it holds so far."""

    problem: TerritoryProblem
    scenario: TerritoryScenario
    clock: _Clock
    progress: ProgressCallback
    cancel: threading.Event | None
    keep: _Keeper
    cost: np.ndarray
    """Unit × rep objective coefficients."""
    first_seconds: float | None
    details: dict = field(default_factory=dict)
    owner: np.ndarray | None = None
    objective: float | None = None
    bound: float | None = None
    method: str = "heuristic"

    def cancelled(self) -> bool:
        return self.cancel is not None and self.cancel.is_set()

    def value(self, owner: np.ndarray) -> float:
        """The objective of a plan (rep index per unit)."""
        return float(self.cost[np.arange(self.problem.unit_count), owner].sum())

    def improves(self, objective: float) -> bool:
        return self.objective is None or objective < self.objective - 1e-9

    def adopt(self, owner: np.ndarray, objective: float, method: str) -> None:
        """Hold this plan as the best, and hand it to the caller's incumbent."""
        self.owner, self.objective, self.method = owner, objective, method
        self.keep.plan(owner, objective, self.bound, method, self.details)

    def within_gap(self) -> bool:
        return (self.owner is not None and self.bound is not None
                and _gap(self.objective, self.bound) <= self.scenario.rel_gap)

    def finish(self, status: str | None, target_seconds: float | None) -> TerritoryResult:
        return _finish(self.problem, self.scenario, self.clock, self.owner, self.objective,
                       self.bound, self.method, status, self.first_seconds, target_seconds,
                       self.details)


@dataclass(frozen=True)
class _LpBound:
    """The candidate model the LP bound settled on, with its last relaxation."""

    built: AssignmentModel | None
    pairs: Pairs
    duals: dict[str, np.ndarray] | None
    complete: bool
    """The model holds every eligible pair, so its MIP bound is the full problem's."""


def _solve_from(run: _Run, first: HeuristicPlan, improve: float) -> TerritoryResult:
    """Everything after the first heuristic plan: bound, repair, MIP (see the module)."""
    infeasible = _start_from(run, first)
    if infeasible is not None:
        return infeasible
    if run.scenario.method == "heuristic" or run.cancelled():
        return run.finish("cancelled" if run.cancelled() else "feasible", None)
    if run.owner is not None and _too_large_for_model(run.problem, run.scenario):
        return _lagrangian_search(run)
    lp = _lp_bound(run)
    if lp.duals is not None and run.clock.left() > 0:
        _lp_rounding(run, lp, improve)
    if run.within_gap():
        return run.finish(None, run.clock.elapsed())
    if lp.built is None or run.clock.left() <= 0:
        return run.finish("time_limit" if run.owner is not None else "no_plan", None)
    return _mip_search(run, lp)


def _start_from(run: _Run, first: HeuristicPlan) -> TerritoryResult | None:
    """Hold the heuristic's plan; without one, the proven obstacle if there is one."""
    problem, scenario = run.problem, run.scenario
    run.details.update({
        "units": problem.unit_count, "reps": problem.rep_count,
        "heuristic_seconds": round(first.seconds, 3),
        "heuristic_feasible": first.feasible,
    })
    if first.feasible:
        objective = run.value(first.owner)
        run.details["heuristic_objective"] = objective
        run.adopt(first.owner, objective, "heuristic")
        return None
    run.keep.best_effort(first.owner, run.details)
    _enter(run.progress, "diagnosis")
    found = diagnose(problem, scenario)
    if found is None:
        return None
    return TerritoryResult(
        status="infeasible", method="diagnosis", objective=None, bound=None, gap=None,
        seconds=run.clock.elapsed(), first_feasible_seconds=None, target_gap_seconds=None,
        scenario=scenario, infeasibility=found, message=found.to_text(), details=run.details)


def _too_large_for_model(problem: TerritoryProblem, scenario: TerritoryScenario) -> bool:
    """More candidate pairs than the model can be built from in time (MAX_MODEL_PAIRS)."""
    return problem.unit_count * scenario.candidates > MAX_MODEL_PAIRS


def _lagrangian_search(run: _Run) -> TerritoryResult:
    """A book too large for the model: the balance-Lagrangian bound, then local search from
    its assignment and from the heuristic's plan."""
    problem, scenario = run.problem, run.scenario
    _enter(run.progress, "lagrangian_bound")
    run.bound, rounds, choice = balance_lagrangian_bound(
        problem, scenario, run.objective, seconds=LAGRANGIAN_SHARE * scenario.time_limit)
    run.details.update(model_pairs_needed=problem.unit_count * scenario.candidates,
                       lagrangian_iterations=rounds, heuristic_objective=run.objective)
    _enter(run.progress, "lagrangian_search")
    starts = ((choice, "Lagrangian heuristic"), (run.owner, "heuristic (local search)"))
    for left, (start, name) in zip((2, 1), starts, strict=True):
        better = heuristic_plan(problem, scenario, seconds=max(run.clock.left() / left, 0.5),
                                start=start)
        if better.feasible:
            value = run.value(better.owner)
            if run.improves(value):
                run.adopt(better.owner, value, name)
    return run.finish(None, None)


def _lp_bound(run: _Run) -> _LpBound:
    """A bound for the full problem from the LP relaxation over each unit's nearest reps,
    widening the candidates (up to WIDENING_ROUNDS times) while pairs outside the model could
    still lower it by more than a tenth of the target gap."""
    problem, scenario, details = run.problem, run.scenario, run.details
    _enter(run.progress, "lp_bound")
    per_unit = scenario.candidates
    built = None
    for _ in range(WIDENING_ROUNDS):
        pairs = candidate_pairs(problem, scenario, per_unit, include=run.owner)
        built = build_model(problem, scenario, pairs)
        relaxed, duals = solve_model(built, problem, time_limit=run.clock.left(),
                                     rel_gap=scenario.rel_gap, relax=True, cancel=run.cancel)
        if duals is None:
            details["lp"] = relaxed.termination
            if relaxed.termination == "time_limit" or run.clock.left() <= 0:
                break
            per_unit = min(per_unit * 2, problem.rep_count)
            continue
        run.bound, reduced = full_problem_bound(problem, scenario, duals, pairs)
        inside = np.zeros_like(problem.eligible)
        inside[pairs] = True
        outside = np.minimum(reduced, 0.0)[problem.eligible & ~inside].sum()
        details.setdefault("rounds", []).append({
            "candidates_per_unit": per_unit, "model_pairs": len(pairs[0]),
            "build_seconds": round(built.build_seconds, 3),
            "lp_seconds": round(relaxed.seconds, 3), "lp_value": relaxed.objective,
            "full_bound": run.bound, "priced_out": float(outside)})
        if (-outside <= 0.1 * scenario.rel_gap * abs(run.bound)
                or per_unit >= problem.rep_count):
            break
        per_unit = min(per_unit * 2, problem.rep_count)
    return _LpBound(built=built, pairs=pairs, duals=duals,
                    complete=per_unit >= problem.rep_count)


def _lp_rounding(run: _Run, lp: _LpBound, improve: float) -> None:
    """Round the LP's plan, repair it, and hold it if it is the best so far."""
    _enter(run.progress, "lp_rounding")
    rounded = _rounded_lp_plan(run.problem, lp.pairs, lp.duals["x"])
    repaired = heuristic_plan(run.problem, run.scenario, seconds=run.clock.left(),
                              start=rounded, improve_seconds=min(improve, run.clock.left()))
    if not repaired.feasible:
        return
    value = run.value(repaired.owner)
    run.details["lp_rounding_objective"] = value
    if run.improves(value):
        if run.owner is None:
            run.first_seconds = run.clock.elapsed()
        run.adopt(repaired.owner, value, "LP rounding + repair")


def _mip_search(run: _Run, lp: _LpBound) -> TerritoryResult:
    """The candidate MIP warm-started from the best plan, stopped once within the gap, then
    the result worded from how it ended."""
    scenario, clock = run.scenario, run.clock
    _enter(run.progress, "mip")
    mip_started = clock.elapsed()
    limit = clock.left()
    lp_bound = run.bound

    def stop(seconds: float, found: float | None, mip_bound: float | None) -> bool:
        proven = lp_bound
        if lp.complete and mip_bound is not None:
            proven = max(lp_bound or mip_bound, mip_bound)
        return found is not None and proven is not None and _gap(found, proven) <= scenario.rel_gap

    mip, _ = solve_model(lp.built, run.problem, time_limit=limit, rel_gap=scenario.rel_gap / 2,
                         start=run.owner, stop=stop, cancel=run.cancel,
                         tick=_solver_ticks(run.progress, "mip", limit, mip_started),
                         incumbent=run.keep.mip(run.objective, lp_bound, "warm-started MIP",
                                                run.details))
    run.details.update(mip_termination=mip.termination, mip_seconds=round(mip.seconds, 3),
                       mip_objective=mip.objective, mip_bound_on_model=mip.bound)
    if mip.owner is not None and run.improves(mip.objective):
        run.owner, run.objective = mip.owner, float(mip.objective)
        run.method = "warm-started MIP"
    if lp.complete and mip.bound is not None:
        run.bound = max(run.bound, mip.bound) if run.bound is not None else mip.bound
    target_seconds = _target_gap_seconds(run, mip, mip_started)
    if run.first_seconds is None and mip.first_feasible_seconds is not None:
        run.first_seconds = mip_started + mip.first_feasible_seconds
    status = None
    if mip.termination == "interrupted":
        status = "cancelled"
    elif mip.termination == "infeasible" and run.owner is None and lp.complete:
        status = "infeasible"
    elif mip.termination == "time_limit":
        status = "time_limit"
    return _explained(run.problem, scenario, run.finish(status, target_seconds))


def _target_gap_seconds(run: _Run, mip: MipOutcome, mip_started: float) -> float | None:
    """When the solve first held a plan within the target gap of the final bound (None:
    never): the MIP's first such plan, or now if only the final plan is."""
    if run.objective is None or run.bound is None:
        return None
    target = run.scenario.rel_gap
    for event in mip.events:
        if event.objective is not None and _gap(event.objective, run.bound) <= target:
            return mip_started + event.seconds
    return run.clock.elapsed() if _gap(run.objective, run.bound) <= target else None


def _explained(
    problem: TerritoryProblem, scenario: TerritoryScenario, result: TerritoryResult
) -> TerritoryResult:
    """An infeasible result with its obstacle: a proven one, or else whole units."""
    if result.status != "infeasible" or result.infeasibility is not None:
        return result
    found = diagnose(problem, scenario) or Infeasibility(
        "whole_units", f"No assignment of whole units keeps every rep within "
        f"±{scenario.tolerance:.1%} of their share, although split units could.",
        suggested_tolerance=smallest_feasible_tolerance(problem, scenario, scenario.tolerance))
    return TerritoryResult(**{**result.__dict__, "infeasibility": found,
                              "message": found.to_text()})


BEST_EFFORT_NAMED = 5
"""Broken constraints named in a best-effort result's message at most."""


def _best_effort(
    problem: TerritoryProblem, scenario: TerritoryScenario, result: TerritoryResult,
    owner: np.ndarray,
) -> TerritoryResult:
    """`result` (which has no plan) with the heuristic's best effort and what it breaks."""
    complete = _completed(problem, owner)
    assignment, reps = plan_tables(problem, scenario, complete)
    broken = tuple(broken_constraints(problem, scenario, complete, placed=owner >= 0))
    status = result.status if result.status in ("infeasible", "cancelled") else "best_effort"
    shown = "; ".join(broken[:BEST_EFFORT_NAMED]) + (
        f"; and {len(broken) - BEST_EFFORT_NAMED} more" if len(broken) > BEST_EFFORT_NAMED
        else "")
    message = (f"{result.message} Showing the best effort, which breaks: {shown}."
               if broken else result.message)
    return TerritoryResult(**{**result.__dict__, "status": status, "assignment": assignment,
                              "reps": reps, "violations": broken, "message": message})


def _completed(problem: TerritoryProblem, owner: np.ndarray) -> np.ndarray:
    """`owner` with each unplaced unit on its cheapest eligible rep (any rep if none may)."""
    complete = owner.copy()
    missing = np.flatnonzero(complete < 0)
    if len(missing):
        distance = problem.distance_km[missing]
        allowed = problem.eligible[missing]
        masked = np.where(allowed.any(axis=1)[:, None] & ~allowed, np.inf, distance)
        complete[missing] = np.argmin(masked, axis=1)
    return complete


def broken_constraints(
    problem: TerritoryProblem, scenario: TerritoryScenario, owner: np.ndarray,
    placed: np.ndarray | None = None,
) -> list[str]:
    """Every constraint the assignment `owner` (rep index per unit) breaks, worst first, in
    words with reps and units by name; `placed` marks units the heuristic could place."""
    broken: list[str] = []
    rep_names, unit_names = problem.rep_labels, problem.unit_labels
    if placed is not None and not placed.all():
        unplaced = np.flatnonzero(~placed)
        broken.append(f"{len(unplaced)} unit(s) could not be placed within the constraints "
                      f"(e.g. {', '.join(unit_names[unplaced[:3]])}); shown on their nearest "
                      "allowed rep")
    units = np.arange(problem.unit_count)
    off_segment = ~problem.eligible[units, owner]
    if off_segment.any():
        broken.append(f"{int(off_segment.sum())} unit(s) with a rep of another segment (e.g. "
                      f"{', '.join(unit_names[np.flatnonzero(off_segment)[:3]])})")
    locked = problem.locked & (problem.current >= 0) & (owner != problem.current)
    if locked.any():
        broken.append(f"{int(locked.sum())} locked unit(s) moved (e.g. "
                      f"{', '.join(unit_names[np.flatnonzero(locked)[:3]])})")
    load = np.bincount(owner, weights=problem.workload, minlength=problem.rep_count)
    low, high = problem.band(scenario.tolerance)
    outside = np.maximum(low - load, 0.0) + np.maximum(load - high, 0.0)
    for rep in np.argsort(-outside, kind="stable"):
        if outside[rep] <= 1e-6 * max(float(problem.workload.sum()), 1.0):
            break
        side = "below" if load[rep] < low[rep] else "above"
        broken.append(f"balance: {rep_names[rep]} has workload {load[rep]:,.2f}, {side} the "
                      f"±{scenario.tolerance:.1%} band {low[rep]:,.2f}–{high[rep]:,.2f}")
    if scenario.max_moves_per_rep is not None:
        moved = (problem.current >= 0) & (owner != problem.current)
        counts = np.bincount(problem.current[moved], minlength=problem.rep_count)
        for rep in np.flatnonzero(counts > scenario.max_moves_per_rep):
            broken.append(f"move cap: {int(counts[rep])} units moved away from "
                          f"{rep_names[rep]} (cap {scenario.max_moves_per_rep})")
    return broken


def _rounded_lp_plan(
    problem: TerritoryProblem, pairs: tuple[np.ndarray, np.ndarray], values: np.ndarray
) -> np.ndarray:
    """Each unit to the rep with its largest LP share (ties: the cheaper pair, first)."""
    units, reps = pairs
    order = np.lexsort((-values, units))
    first = np.ones(len(order), dtype=bool)
    first[1:] = units[order][1:] != units[order][:-1]
    owner = np.full(problem.unit_count, -1, dtype=np.int64)
    owner[units[order][first]] = reps[order][first]
    return owner


def _throttled(tick: Callable[[float], None], every: float = 0.5) -> Callable[[float], None]:
    last = [-every]

    def call(seconds: float) -> None:
        if seconds - last[0] >= every:
            last[0] = seconds
            tick(seconds)

    return call


def _solve_plain(
    problem: TerritoryProblem, scenario: TerritoryScenario, clock: _Clock,
    progress: ProgressCallback, cancel: threading.Event | None, keep: _Keeper,
) -> TerritoryResult:
    """The plain formulation: every eligible pair, no first plan, HiGHS alone."""
    _enter(progress, "full_model")
    pairs = candidate_pairs(problem, scenario, None)
    built = build_model(problem, scenario, pairs)
    limit = clock.left()
    started = clock.elapsed()
    mip, _ = solve_model(built, problem, time_limit=limit, rel_gap=scenario.rel_gap,
                         cancel=cancel, tick=_solver_ticks(progress, "full_mip", limit, started),
                         incumbent=keep.mip(None, None, "plain MIP", {}))
    details = {"units": problem.unit_count, "reps": problem.rep_count,
               "model_pairs": len(pairs[0]), "build_seconds": round(built.build_seconds, 3),
               "mip_termination": mip.termination, "mip_seconds": round(mip.seconds, 3)}
    target_seconds = None
    if mip.termination == "optimal":
        target_seconds = clock.elapsed()
    first = None if mip.first_feasible_seconds is None else started + mip.first_feasible_seconds
    status = {"interrupted": "cancelled", "time_limit": "time_limit",
              "infeasible": "infeasible"}.get(mip.termination)
    return _explained(problem, scenario, _finish(
        problem, scenario, clock, mip.owner, mip.objective, mip.bound, "plain MIP", status,
        first, target_seconds, details))


class _Keeper:
    """Hands each better plan, as a time-limited result, to the caller's `incumbent`."""

    def __init__(self, problem: TerritoryProblem, scenario: TerritoryScenario, clock: _Clock,
                 incumbent: Callable[[TerritoryResult], None] | None) -> None:
        self.problem, self.scenario, self.clock = problem, scenario, clock
        self.incumbent = incumbent

    def plan(self, owner: np.ndarray, objective: float, bound: float | None, method: str,
             details: dict) -> None:
        if self.incumbent is None or owner is None or (owner < 0).any():
            return
        self.incumbent(_finish(self.problem, self.scenario, self.clock, owner, objective,
                               bound, method, "time_limit", None, None, dict(details)))

    def best_effort(self, owner: np.ndarray, details: dict) -> None:
        """Hand a first assignment that breaks constraints, so a job stopped by the clock
        still has something to show and says what the assignment breaks."""
        if self.incumbent is None:
            return
        stopped = TerritoryResult(
            status="time_limit", method="heuristic", objective=None, bound=None, gap=None,
            seconds=self.clock.elapsed(), first_feasible_seconds=None, target_gap_seconds=None,
            scenario=self.scenario, message="Stopped at the time limit before a valid plan was "
            "found.", details=dict(details))
        self.incumbent(_best_effort(self.problem, self.scenario, stopped, owner))

    def mip(self, best: float | None, bound: float | None, method: str,
            details: dict) -> Callable[[np.ndarray, float], None] | None:
        """The solver's incumbent callback: keeps MIP plans better than `best`."""
        if self.incumbent is None:
            return None

        def found(owner: np.ndarray, objective: float) -> None:
            if best is None or objective < best - 1e-9:
                self.plan(owner, objective, bound, method, details)

        return found


def _finish(
    problem: TerritoryProblem, scenario: TerritoryScenario, clock: _Clock,
    owner: np.ndarray | None, objective: float | None, bound: float | None, method: str,
    status: str | None, first_seconds: float | None, target_seconds: float | None,
    details: dict,
) -> TerritoryResult:
    """Check the plan independently, then word the status honestly."""
    seconds = clock.elapsed()
    if owner is None or (owner < 0).any():
        return _without_plan(scenario, method, bound, status, seconds, details)
    assignment, reps = _checked_tables(problem, scenario, owner, method)
    gap = None if bound is None else _gap(objective, bound)
    status = _settled_status(status, gap, scenario.rel_gap)
    words = {
        "optimal": "Optimal",
        "within_gap": f"Within {scenario.rel_gap:.1%} of optimal",
        "time_limit": "Stopped at the time limit",
        "feasible": "A valid plan; optimality not proven",
        "cancelled": "Cancelled; showing the best plan found so far",
    }[status]
    gap_text = "no bound proven" if gap is None else f"gap {gap:.2%}"
    return TerritoryResult(
        status=status, method=method, objective=objective, bound=bound, gap=gap,
        seconds=seconds, first_feasible_seconds=first_seconds,
        target_gap_seconds=target_seconds, scenario=scenario, assignment=assignment,
        reps=reps, message=f"{words} ({gap_text}, {method}, {seconds:.1f} s).",
        details=details)


def _without_plan(
    scenario: TerritoryScenario, method: str, bound: float | None, status: str | None,
    seconds: float, details: dict,
) -> TerritoryResult:
    """The result of a solve that ends with no complete plan: infeasible when proven so,
    else no_plan, saying where it searched."""
    status = "infeasible" if status == "infeasible" else "no_plan"
    searched = ("among each unit's nearest reps"
                if details.get("mip_termination") == "infeasible" else
                "within the time limit")
    message = ("No plan exists for these settings." if status == "infeasible" else
               f"No plan was found {searched}; the scenario was not proven infeasible. "
               "Allow more time or a wider tolerance.")
    return TerritoryResult(status=status, method=method, objective=None, bound=bound,
                           gap=None, seconds=seconds, first_feasible_seconds=None,
                           target_gap_seconds=None, scenario=scenario, message=message,
                           details=details)


def _checked_tables(
    problem: TerritoryProblem, scenario: TerritoryScenario, owner: np.ndarray, method: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The plan's tables, after checking it against every constraint independently of the
    method that found it (a broken plan is a defect here, never a user's error)."""
    assignment, reps = plan_tables(problem, scenario, owner)
    broken = plan_violations(problem, scenario, assignment.set_index("unit_id")["rep_id"])
    if broken:
        raise AssertionError(f"the {method} returned a plan that breaks a constraint: "
                             f"{broken[0]}")
    return assignment, reps


def _settled_status(status: str | None, gap: float | None, rel_gap: float) -> str:
    """The status word of a valid plan: the gap decides when the search gave none, and also
    when a plan stopped by the clock (or by the heuristic method) is proven within the gap."""
    proven = gap is not None and gap <= rel_gap
    if status is not None and not (status in ("time_limit", "feasible") and proven):
        return status
    if gap is None:
        return "feasible"
    if gap <= OPTIMAL_GAP:
        return "optimal"
    return "within_gap" if gap <= rel_gap else "feasible"
