"""Why a territory scenario has no plan, and the smallest tolerance that has one.

Checks, cheapest first: units no rep may own (segments), locked units on a rep they may not
have, a single unit heavier than every eligible rep's upper limit, locked units overfilling a
rep, a move cap that forces a rep to keep more than its upper limit, and finally the
fractional relaxation (units split freely across eligible reps) solved for the smallest
tolerance at all: a lower bound no integer plan can beat.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pyomo.environ as pyo
from pyomo.contrib.solver.common.factory import SolverFactory

from planning.territory.heuristic import heuristic_plan
from planning.territory.problem import TerritoryProblem, TerritoryScenario

NAMED = 5
"""Units or reps named in a message at most."""


@dataclass(frozen=True)
class Infeasibility:
    """The constraint that makes a scenario infeasible, who is involved, and what would work."""

    constraint: str
    """segment, locked, unit_too_heavy, locked_overfill, move_cap, balance or whole_units."""
    message: str
    units: tuple[str, ...] = ()
    reps: tuple[str, ...] = ()
    tolerance_needed: float | None = None
    """A proven lower bound on the tolerance (None when no tolerance helps)."""
    suggested_tolerance: float | None = None
    """The smallest tolerance (0.1 % steps) for which a plan was found."""

    def to_text(self) -> str:
        """The message with the suggestion, for people."""
        if self.suggested_tolerance is not None:
            return (f"{self.message} The smallest tolerance with a plan is "
                    f"±{self.suggested_tolerance:.1%}.")
        return self.message


def _names(values: object) -> str:
    items = [str(v) for v in values]
    shown = ", ".join(items[:NAMED])
    return shown + (f" and {len(items) - NAMED} more" if len(items) > NAMED else "")


def tolerance_lower_bound(
    problem: TerritoryProblem, scenario: TerritoryScenario
) -> list[Infeasibility]:
    """Every proven obstacle, each with the tolerance it needs at least (None: none helps)."""
    found: list[Infeasibility] = []
    unit_ids = problem.units["unit_id"].to_numpy()
    rep_ids = problem.reps["rep_id"].to_numpy()
    unit_names, rep_names = problem.unit_labels, problem.rep_labels
    eligible = problem.eligible
    locked = problem.locked & (problem.current >= 0)
    orphan = ~eligible.any(axis=1)
    if orphan.any():
        bad_locked = orphan & locked
        bad_segment = orphan & ~locked
        if bad_segment.any():
            segments = sorted({str(s) for s in problem.units["segment"][bad_segment]})
            found.append(Infeasibility(
                "segment", f"No rep may own {bad_segment.sum()} unit(s) of segment(s) "
                f"{_names(segments)}: {_names(unit_names[bad_segment])}. Add a rep of that "
                "segment or clear the units' segment.",
                units=tuple(unit_ids[bad_segment][:NAMED])))
        if bad_locked.any():
            found.append(Infeasibility(
                "locked", f"Locked unit(s) {_names(unit_names[bad_locked])} sit with a rep of "
                "another segment; unlock them or fix the segment.",
                units=tuple(unit_ids[bad_locked][:NAMED])))
        return found

    target = problem.target
    w = problem.workload
    locked_load = np.bincount(problem.current[locked], weights=w[locked],
                              minlength=problem.rep_count)
    need = locked_load / target - 1
    over = np.flatnonzero(need > scenario.tolerance + 1e-12)
    if len(over):
        found.append(Infeasibility(
            "locked_overfill", f"Locked units alone put rep(s) {_names(rep_names[over])} above "
            f"their upper limit (up to {need[over].max():+.1%} of their share).",
            reps=tuple(rep_ids[over][:NAMED]), tolerance_needed=float(need.max())))

    free = np.flatnonzero(~locked)
    if len(free):
        fit = np.where(eligible[free], (w[free, None] + locked_load[None, :]) / target[None, :]
                       - 1, np.inf)
        best = fit.min(axis=1)
        heavy = free[best > scenario.tolerance + 1e-12]
        if len(heavy):
            worst = free[int(np.argmax(best))]
            rep = int(np.argmin(fit[int(np.argmax(best))]))
            found.append(Infeasibility(
                "unit_too_heavy", f"Unit(s) {_names(unit_names[heavy])} weigh more than the "
                f"upper limit of every rep that may own them (unit {unit_names[worst]}: "
                f"{w[worst]:,.2f} against rep {rep_names[rep]}'s share {target[rep]:,.2f}).",
                units=tuple(unit_ids[heavy][:NAMED]), tolerance_needed=float(best.max())))

    if scenario.max_moves_per_rep is not None:
        current = problem.current
        for r in range(problem.rep_count):
            own = np.sort(w[current == r])
            keep = len(own) - scenario.max_moves_per_rep
            if keep > 0 and own[:keep].sum() > target[r] * (1 + scenario.tolerance) + 1e-9:
                needed = float(own[:keep].sum() / target[r] - 1)
                found.append(Infeasibility(
                    "move_cap", f"Rep {rep_names[r]} must keep at least {keep} of its "
                    f"{len(own)} units (at most {scenario.max_moves_per_rep} may move), and "
                    f"even its lightest {keep} weigh {needed:+.1%} above its share.",
                    reps=(str(rep_ids[r]),), tolerance_needed=needed))
                break

    whole = whole_unit_bands(problem, scenario)
    if whole is not None:
        found.append(whole)

    relaxed, binding = fractional_minimum_tolerance(problem)
    if relaxed > scenario.tolerance + 1e-9:
        found.append(Infeasibility(
            "balance", f"Even splitting units freely, the reps' workload cannot be balanced "
            f"within ±{scenario.tolerance:.1%}: eligible workload is too small or too large "
            f"for rep(s) {_names(rep_names[binding])} (needs at least ±{relaxed:.1%}).",
            reps=tuple(rep_ids[binding][:NAMED]), tolerance_needed=relaxed))
    return found


def whole_unit_bands(
    problem: TerritoryProblem, scenario: TerritoryScenario
) -> Infeasibility | None:
    """Reps whose eligible units all weigh the same (e.g. an account count) need a whole
    number of them inside their band; name the reps whose band holds none."""
    w = problem.workload
    target = problem.target
    needed = np.zeros(problem.rep_count)
    for r in range(problem.rep_count):
        weights = w[problem.eligible[:, r]]
        if len(weights) == 0 or weights.max() - weights.min() > 1e-12 or weights[0] <= 0:
            continue
        unit = float(weights[0])
        nearest = np.array([np.floor(target[r] / unit), np.ceil(target[r] / unit)]) * unit
        needed[r] = float(np.min(np.abs(nearest - target[r]))) / target[r]
    short = np.flatnonzero(needed > scenario.tolerance + 1e-12)
    if not len(short):
        return None
    rep_ids = problem.reps["rep_id"].to_numpy()
    rep_names = problem.rep_labels
    worst = int(short[np.argmax(needed[short])])
    return Infeasibility(
        "whole_units", f"The band of rep(s) {_names(rep_names[short])} holds no whole number of "
        f"their units (rep {rep_names[worst]}: share {target[worst]:,.2f} of units weighing "
        f"{w[problem.eligible[:, worst]][0]:,.2f} each, ±{scenario.tolerance:.1%}).",
        reps=tuple(rep_ids[short][:NAMED]), tolerance_needed=float(needed.max()))


def fractional_minimum_tolerance(problem: TerritoryProblem) -> tuple[float, np.ndarray]:
    """The smallest tolerance at which units split fractionally can balance every rep, and
    the reps at a limit there. Units with the same segment (or locked to a rep) are alike,
    so the LP is over (segment class, rep) pairs: small whatever the number of units.
    Workloads are scaled to a mean target of 1, so that revenue-sized numbers solve cleanly."""
    locked = problem.locked & (problem.current >= 0)
    scale = max(float(problem.target.mean()), 1e-12)
    w = problem.workload / scale
    target = problem.target / scale
    fixed = np.bincount(problem.current[locked], weights=w[locked],
                        minlength=problem.rep_count)
    segment = problem.units["segment"].fillna("").to_numpy(dtype=str)
    classes = sorted(set(segment[~locked]))
    amounts = {c: float(w[~locked & (segment == c)].sum()) for c in classes}
    allowed = {c: np.flatnonzero(problem.eligible[np.flatnonzero(~locked & (segment == c))[0]])
               for c in classes}
    m = pyo.ConcreteModel("minimum_tolerance")
    pairs = [(k, int(r)) for k, c in enumerate(classes) for r in allowed[c]]
    m.y = pyo.Var(pairs, domain=pyo.NonNegativeReals)
    m.t = pyo.Var(domain=pyo.NonNegativeReals)
    m.total = pyo.Constraint(range(len(classes)), rule=lambda _, k: sum(
        m.y[k, int(r)] for r in allowed[classes[k]]) == amounts[classes[k]])
    by_rep: dict[int, list[tuple[int, int]]] = {}
    for pair in pairs:
        by_rep.setdefault(pair[1], []).append(pair)

    def load(r: int) -> object:
        return float(fixed[r]) + sum(m.y[p] for p in by_rep.get(r, []))

    m.low = pyo.Constraint(range(problem.rep_count),
                           rule=lambda _, r: load(r) >= float(target[r]) * (1 - m.t))
    m.high = pyo.Constraint(range(problem.rep_count),
                            rule=lambda _, r: load(r) <= float(target[r]) * (1 + m.t))
    m.objective = pyo.Objective(expr=m.t)
    solver = SolverFactory("highs")
    solver.config.raise_exception_on_nonoptimal_result = False
    # Every HiGHS run in the process uses one thread: HiGHS keeps one thread scheduler per
    # process, and a run asking for another count afterwards fails ("Not Set").
    solver.config.threads = 1
    solver.solve(m)
    value = float(pyo.value(m.t))
    loads = np.array([pyo.value(load(r)) for r in range(problem.rep_count)])
    slack = np.minimum(np.abs(loads - target * (1 - value)), np.abs(loads - target * (1 + value)))
    binding = np.flatnonzero(slack <= 1e-6 * max(float(target.max()), 1.0))
    return value, binding


def smallest_feasible_tolerance(
    problem: TerritoryProblem, scenario: TerritoryScenario, start: float,
) -> float | None:
    """The smallest tolerance (to 0.1 %) from `start` up with a heuristic plan: doubling
    until one is found, then halving the interval; None when even ±100 % has none."""
    def works(tolerance: float) -> bool:
        trial = replace(scenario, tolerance=tolerance)
        return heuristic_plan(problem, trial, seconds=2.0, improve_seconds=0.0).feasible

    low = np.ceil(max(start, 0.0) * 1000 - 1e-6) / 1000
    if low < 1 and works(float(low)):
        return float(low)
    high = max(low * 2, low + 0.001)
    while high < 1 and not works(float(high)):
        low, high = high, high * 2
    if high >= 1:
        high = 0.999
        if not works(high):
            return None
    while high - low > 0.001:
        middle = np.ceil((low + high) / 2 * 1000) / 1000
        if middle >= high:
            break
        if works(float(middle)):
            high = middle
        else:
            low = middle
    return float(round(high, 3))


def diagnose(problem: TerritoryProblem, scenario: TerritoryScenario) -> Infeasibility | None:
    """The first proven obstacle with a suggested tolerance, or None when none is proven."""
    found = tolerance_lower_bound(problem, scenario)
    if not found:
        return None
    needed = [f.tolerance_needed for f in found]
    if any(n is None for n in needed):
        return found[0]
    lower = round(max(n for n in needed if n is not None), 9)
    worst = next(f for f in found if round(f.tolerance_needed or 0.0, 9) >= lower)
    return replace(worst, tolerance_needed=lower,
                   suggested_tolerance=smallest_feasible_tolerance(problem, scenario, lower))
