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
    progress(0.02, "Building a first plan (heuristic)")
    improve = min(max(1.0, 0.1 * scenario.time_limit), scenario.time_limit)
    first = heuristic_plan(problem, scenario, seconds=scenario.time_limit,
                           improve_seconds=0.0 if scenario.method == "auto" else improve)
    result = _solve_from(problem, scenario, clock, progress, cancel, keep, first, improve)
    if result.assignment is None and not first.feasible:
        return _best_effort(problem, scenario, result, first.owner)
    return result


def _solve_from(
    problem: TerritoryProblem, scenario: TerritoryScenario, clock: _Clock,
    progress: ProgressCallback, cancel: threading.Event | None, keep: _Keeper,
    first: HeuristicPlan, improve: float,
) -> TerritoryResult:
    """Everything after the first heuristic plan: bound, repair, MIP (see the module)."""
    owner = first.owner if first.feasible else None
    details: dict[str, object] = {
        "units": problem.unit_count, "reps": problem.rep_count,
        "heuristic_seconds": round(first.seconds, 3),
        "heuristic_feasible": first.feasible,
    }
    objective = None
    cost = problem.cost(scenario.disruption_weight)
    if owner is not None:
        objective = float(cost[np.arange(problem.unit_count), owner].sum())
        details["heuristic_objective"] = objective
        keep.plan(owner, objective, None, "heuristic", details)
    else:
        keep.best_effort(first.owner, details)
        progress(0.1, "No first plan: checking whether the scenario is feasible")
        found = diagnose(problem, scenario)
        if found is not None:
            return TerritoryResult(
                status="infeasible", method="diagnosis", objective=None, bound=None, gap=None,
                seconds=clock.elapsed(), first_feasible_seconds=None, target_gap_seconds=None,
                scenario=scenario, infeasibility=found, message=found.to_text(),
                details=details)
    if scenario.method == "heuristic" or (cancel is not None and cancel.is_set()):
        return _finish(problem, scenario, clock, owner, objective, None, "heuristic",
                       "cancelled" if cancel is not None and cancel.is_set() else "feasible",
                       first.feasible_seconds, None, details)

    if owner is not None and problem.unit_count * scenario.candidates > MAX_MODEL_PAIRS:
        progress(0.2, "Proving a bound (balance Lagrangian)")
        bound, rounds, choice = balance_lagrangian_bound(
            problem, scenario, objective, seconds=LAGRANGIAN_SHARE * scenario.time_limit)
        details.update(model_pairs_needed=problem.unit_count * scenario.candidates,
                       lagrangian_iterations=rounds, heuristic_objective=objective)
        progress(0.5, "Improving the plan (Lagrangian start, repair, local search)")
        method = "heuristic"
        starts = ((choice, "Lagrangian heuristic"), (owner, "heuristic (local search)"))
        for left, (start, name) in zip((2, 1), starts, strict=True):
            better = heuristic_plan(problem, scenario, seconds=max(clock.left() / left, 0.5),
                                    start=start)
            if better.feasible:
                value = float(cost[np.arange(problem.unit_count), better.owner].sum())
                if value < objective - 1e-9:
                    owner, objective, method = better.owner, value, name
                    keep.plan(owner, objective, bound, method, details)
        return _finish(problem, scenario, clock, owner, objective, bound,
                       method, None, first.feasible_seconds, None, details)
    progress(0.1, "Proving a bound (LP relaxation over the nearest reps)")
    per_unit = scenario.candidates
    bound = None
    built = None
    for _ in range(WIDENING_ROUNDS):
        pairs = candidate_pairs(problem, scenario, per_unit, include=owner)
        built = build_model(problem, scenario, pairs)
        relaxed, duals = solve_model(built, problem, time_limit=clock.left(),
                                     rel_gap=scenario.rel_gap, relax=True, cancel=cancel)
        if duals is None:
            details["lp"] = relaxed.termination
            if relaxed.termination == "time_limit" or clock.left() <= 0:
                break
            per_unit = min(per_unit * 2, problem.rep_count)
            continue
        bound, reduced = full_problem_bound(problem, scenario, duals, pairs)
        inside = np.zeros_like(problem.eligible)
        inside[pairs] = True
        outside = np.minimum(reduced, 0.0)[problem.eligible & ~inside].sum()
        details.setdefault("rounds", []).append({
            "candidates_per_unit": per_unit, "model_pairs": len(pairs[0]),
            "build_seconds": round(built.build_seconds, 3),
            "lp_seconds": round(relaxed.seconds, 3), "lp_value": relaxed.objective,
            "full_bound": bound, "priced_out": float(outside)})
        if -outside <= 0.1 * scenario.rel_gap * abs(bound) or per_unit >= problem.rep_count:
            break
        per_unit = min(per_unit * 2, problem.rep_count)
    complete = per_unit >= problem.rep_count
    target_seconds = None
    method = "heuristic"
    first_seconds = first.feasible_seconds
    if duals is not None and clock.left() > 0:
        progress(0.25, "Rounding the LP plan and repairing it")
        rounded = _rounded_lp_plan(problem, pairs, duals["x"])
        repaired = heuristic_plan(problem, scenario, seconds=clock.left(), start=rounded,
                                  improve_seconds=min(improve, clock.left()))
        if repaired.feasible:
            value = float(cost[np.arange(problem.unit_count), repaired.owner].sum())
            details["lp_rounding_objective"] = value
            if objective is None or value < objective - 1e-9:
                if owner is None:
                    first_seconds = clock.elapsed()
                owner, objective, method = repaired.owner, value, "LP rounding + repair"
                keep.plan(owner, objective, bound, method, details)
    if owner is not None and bound is not None and _gap(objective, bound) <= scenario.rel_gap:
        target_seconds = clock.elapsed()
        return _finish(problem, scenario, clock, owner, objective, bound, method,
                       None, first_seconds, target_seconds, details)
    if built is None or clock.left() <= 0:
        return _finish(problem, scenario, clock, owner, objective, bound, method,
                       "time_limit" if owner is not None else "no_plan",
                       first_seconds, None, details)

    progress(0.3, "Improving the plan (MIP, warm-started)")
    mip_started = clock.elapsed()
    limit = clock.left()

    def stop(seconds: float, found: float | None, mip_bound: float | None) -> bool:
        proven = bound
        if complete and mip_bound is not None:
            proven = max(bound or mip_bound, mip_bound)
        return found is not None and proven is not None and _gap(found, proven) <= scenario.rel_gap

    def tick(seconds: float) -> None:
        progress(0.3 + 0.7 * min(seconds / max(limit, 1e-9), 1.0),
                 f"Improving the plan (MIP): {mip_started + seconds:.0f} s")

    mip, _ = solve_model(built, problem, time_limit=limit, rel_gap=scenario.rel_gap / 2,
                         start=owner, stop=stop, cancel=cancel, tick=_throttled(tick),
                         incumbent=keep.mip(objective, bound, "warm-started MIP", details))
    details.update(mip_termination=mip.termination, mip_seconds=round(mip.seconds, 3),
                   mip_objective=mip.objective, mip_bound_on_model=mip.bound)
    if mip.owner is not None and (objective is None or mip.objective < objective - 1e-9):
        owner, objective, method = mip.owner, float(mip.objective), "warm-started MIP"
    if complete and mip.bound is not None:
        bound = max(bound, mip.bound) if bound is not None else mip.bound
    if objective is not None and bound is not None:
        for event in mip.events:
            if event.objective is not None and _gap(event.objective, bound) <= scenario.rel_gap:
                target_seconds = mip_started + event.seconds
                break
        if target_seconds is None and _gap(objective, bound) <= scenario.rel_gap:
            target_seconds = clock.elapsed()
    if first_seconds is None and mip.first_feasible_seconds is not None:
        first_seconds = mip_started + mip.first_feasible_seconds
    status = None
    if mip.termination == "interrupted":
        status = "cancelled"
    elif mip.termination == "infeasible" and owner is None and complete:
        status = "infeasible"
    elif mip.termination == "time_limit":
        status = "time_limit"
    return _explained(problem, scenario, _finish(
        problem, scenario, clock, owner, objective, bound, method, status, first_seconds,
        target_seconds, details))


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
    progress(0.05, "Building the full model")
    pairs = candidate_pairs(problem, scenario, None)
    built = build_model(problem, scenario, pairs)
    limit = clock.left()
    started = clock.elapsed()
    mip, _ = solve_model(built, problem, time_limit=limit, rel_gap=scenario.rel_gap,
                         cancel=cancel, tick=_throttled(lambda s: progress(
                             0.1 + 0.9 * min(s / max(limit, 1e-9), 1.0),
                             f"Solving the full model: {started + s:.0f} s")),
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
    assignment, reps = plan_tables(problem, scenario, owner)
    broken = plan_violations(problem, scenario, assignment.set_index("unit_id")["rep_id"])
    if broken:
        raise AssertionError(f"the {method} returned a plan that breaks a constraint: "
                             f"{broken[0]}")
    gap = None if bound is None else _gap(objective, bound)
    proven = gap is not None and gap <= scenario.rel_gap
    if status is None or (status in ("time_limit", "feasible") and proven):
        if gap is None:
            status = "feasible"
        elif gap <= OPTIMAL_GAP:
            status = "optimal"
        elif gap <= scenario.rel_gap:
            status = "within_gap"
        else:
            status = "feasible"
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
