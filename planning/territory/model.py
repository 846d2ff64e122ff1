"""The territory assignment MIP in Pyomo, solved by HiGHS.

    min  Σ c[i,r] x[i,r]                       c = workload × km (+ weight × value if moved)
    s.t. Σ_r x[i,r] = 1                         every unit to exactly one rep      (assign)
         L[r] ≤ Σ_i w[i] x[i,r] ≤ U[r]          workload within ±tolerance         (balance)
         Σ_{i: cur(i)=r} x[i,r] ≥ n[r] − M      at most M units moved off a rep    (moves)
         x binary, only over eligible pairs (segments; locked units: their current rep)

Each family is added by its own function: `define_assignment_variables` (x, and with it the
segment and lock rules), `define_assign_once`, `define_balance`, `define_move_caps` and
`define_objective`, in that order (`build_model`).

The model can be built over a subset of pairs (each unit's nearest eligible reps). A bound
for the *full* problem is then proven separately with Lagrangian duality: the duals of the
subset's LP relaxation, priced over every eligible pair (`full_problem_bound`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import highspy
import numpy as np
import pyomo.environ as pyo
from pyomo.contrib.solver.common.factory import SolverFactory
from pyomo.contrib.solver.common.results import TerminationCondition

from planning.territory.problem import TerritoryProblem, TerritoryScenario

logging.getLogger("pyomo.contrib.solver.solvers.highs").setLevel(logging.ERROR)
"""HiGHS's user-interrupt status is read directly below; Pyomo's warning about it is noise."""

Pairs = tuple[np.ndarray, np.ndarray]
"""Unit and rep index of every pair in the model, sorted by unit then rep."""


def candidate_pairs(
    problem: TerritoryProblem, scenario: TerritoryScenario, per_unit: int | None,
    include: np.ndarray | None = None,
) -> Pairs:
    """Each unit's `per_unit` cheapest eligible reps (all with None), its current rep, the
    rep in `include` (a plan to warm-start from), and for each rep its cheapest units, enough
    for about twice its share (so that every rep can fill its band)."""
    eligible = problem.eligible
    if per_unit is None or per_unit >= problem.rep_count:
        chosen = eligible.copy()
    else:
        cost = np.where(eligible, problem.cost(scenario.disruption_weight), np.inf)
        nearest = np.argpartition(cost, per_unit - 1, axis=1)[:, :per_unit]
        chosen = np.zeros_like(eligible)
        np.put_along_axis(chosen, nearest, True, axis=1)
        chosen &= eligible
        rows = np.flatnonzero(problem.current >= 0)
        chosen[rows, problem.current[rows]] |= eligible[rows, problem.current[rows]]
        if include is not None:
            rows = np.flatnonzero(include >= 0)
            chosen[rows, include[rows]] = True
        per_rep = min(problem.unit_count,
                      int(np.ceil(2 * problem.unit_count / problem.rep_count)))
        if per_rep < problem.unit_count:
            nearest_units = np.argpartition(cost, per_rep - 1, axis=0)[:per_rep, :]
            rep_side = np.zeros_like(eligible)
            np.put_along_axis(rep_side, nearest_units, True, axis=0)
            chosen |= rep_side & eligible
    units, reps = np.nonzero(chosen)
    return units, reps


@dataclass
class AssignmentModel:
    """A built Pyomo model and the pairs its variables stand for."""

    model: pyo.ConcreteModel
    pairs: Pairs
    cost: np.ndarray
    """Objective coefficient of each pair."""
    build_seconds: float
    cost_scale: float = 1.0
    """The model's objective is Σ cost / cost_scale (revenue × km reaches 1e13)."""
    balance_scale: float = 1.0
    """Balance rows are divided by this (the mean target), keeping coefficients near 1."""


def build_model(
    problem: TerritoryProblem, scenario: TerritoryScenario, pairs: Pairs
) -> AssignmentModel:
    """The assignment MIP over `pairs` (the formulation is in the module docstring). The
    families are added in a fixed order, which fixes HiGHS's row order and so its path."""
    started = time.perf_counter()
    units, reps = pairs
    cost = problem.cost(scenario.disruption_weight)[units, reps]
    cost_scale = max(float(np.abs(cost).mean()) if len(units) else 1.0, 1e-12)
    balance_scale = max(float(problem.target.mean()), 1e-12)
    m = pyo.ConcreteModel("territories")
    define_assignment_variables(m, pairs)
    define_assign_once(m, pairs)
    define_balance(m, problem, scenario, pairs, balance_scale)
    define_move_caps(m, problem, scenario, pairs)
    define_objective(m, cost, cost_scale)
    return AssignmentModel(model=m, pairs=pairs, cost=cost,
                           build_seconds=time.perf_counter() - started, cost_scale=cost_scale,
                           balance_scale=balance_scale)


def define_assignment_variables(m: pyo.ConcreteModel, pairs: Pairs) -> None:
    """`x[j]` = 1 when pair j's unit goes to pair j's rep, one binary per pair.

    Segments and locks are not rows: `candidate_pairs` offers only eligible pairs
    (`TerritoryProblem.eligible`: a unit's segment matches its rep's, a locked unit only its
    current rep), so a pair they forbid has no variable at all."""
    m.x = pyo.Var(range(len(pairs[0])), domain=pyo.Binary)


def define_assign_once(m: pyo.ConcreteModel, pairs: Pairs) -> None:
    """`assign[k]`: the k-th unit of the model goes to exactly one of its pairs' reps."""
    units, _ = pairs
    by_unit = np.split(np.arange(len(units)), np.flatnonzero(np.diff(units)) + 1)
    x = m.x
    m.assign = pyo.Constraint(
        range(len(by_unit)), rule=lambda _, k: sum(x[int(j)] for j in by_unit[k]) == 1)


def define_balance(
    m: pyo.ConcreteModel, problem: TerritoryProblem, scenario: TerritoryScenario,
    pairs: Pairs, balance_scale: float,
) -> None:
    """`balance[r]`: rep r's workload stays within its ±tolerance band, rows divided by
    `balance_scale` to keep coefficients near 1. A rep with no pair in the model cannot reach
    a positive lower bound (the row is infeasible); with a zero one it has no row."""
    units, reps = pairs
    workload = problem.workload / balance_scale
    low, high = problem.band(scenario.tolerance)
    low, high = low / balance_scale, high / balance_scale
    order = np.argsort(reps, kind="stable")
    by_rep = {int(r): idx for r, idx in zip(
        np.unique(reps[order]), np.split(order, np.flatnonzero(np.diff(reps[order])) + 1),
        strict=True)}
    x = m.x

    def balance_rule(_: pyo.ConcreteModel, r: int) -> object:
        if r not in by_rep:
            return pyo.Constraint.Infeasible if low[r] > 0 else pyo.Constraint.Skip
        load = sum(float(workload[units[j]]) * x[int(j)] for j in by_rep[r])
        return (float(low[r]), load, float(high[r]))

    m.balance = pyo.Constraint(range(problem.rep_count), rule=balance_rule)


def define_move_caps(
    m: pyo.ConcreteModel, problem: TerritoryProblem, scenario: TerritoryScenario, pairs: Pairs
) -> None:
    """`moves[r]`: at most `max_moves_per_rep` of rep r's current units move away, written as
    "at least n[r] − M of them stay"; no rows without a cap, none for a rep under it."""
    if scenario.max_moves_per_rep is None:
        return
    cap = scenario.max_moves_per_rep
    units, reps = pairs
    current = problem.current
    kept: dict[int, list[int]] = {}
    for j in np.flatnonzero(current[units] == reps):
        kept.setdefault(int(reps[j]), []).append(int(j))
    owned = np.bincount(current[current >= 0], minlength=problem.rep_count)
    x = m.x

    def moves_rule(_: pyo.ConcreteModel, r: int) -> object:
        need = int(owned[r]) - cap
        if need <= 0:
            return pyo.Constraint.Skip
        return sum(x[j] for j in kept.get(r, [])) >= need

    m.moves = pyo.Constraint(range(problem.rep_count), rule=moves_rule)


def define_objective(m: pyo.ConcreteModel, cost: np.ndarray, cost_scale: float) -> None:
    """Minimise Σ cost × x over the pairs, divided by `cost_scale` (revenue × km reaches 1e13,
    too far from 1 for the solver's tolerances)."""
    x = m.x
    m.objective = pyo.Objective(
        expr=pyo.quicksum(float(c / cost_scale) * x[j] for j, c in enumerate(cost)),
        sense=pyo.minimize)


@dataclass(frozen=True)
class SolverEvent:
    """A moment in a MIP solve: a new plan or a progress report."""

    seconds: float
    objective: float | None
    bound: float | None


@dataclass
class MipOutcome:
    """What HiGHS returned for a model."""

    termination: str
    """optimal, time_limit, interrupted, infeasible or other HiGHS terminations."""
    owner: np.ndarray | None
    objective: float | None
    bound: float | None
    seconds: float
    events: list[SolverEvent]
    first_feasible_seconds: float | None


def _termination(condition: TerminationCondition) -> str:
    return {
        TerminationCondition.convergenceCriteriaSatisfied: "optimal",
        TerminationCondition.maxTimeLimit: "time_limit",
        TerminationCondition.interrupted: "interrupted",
        TerminationCondition.provenInfeasible: "infeasible",
        TerminationCondition.infeasibleOrUnbounded: "infeasible",
    }.get(condition, str(condition.name))


def _highs_of(solver: object):  # noqa: ANN202 - highspy.Highs
    """The HiGHS instance behind Pyomo's persistent HiGHS interface (for callbacks and the
    warm start, which the interface does not expose)."""
    return solver._solver_model  # noqa: SLF001


def solve_model(
    built: AssignmentModel, problem: TerritoryProblem, *, time_limit: float, rel_gap: float,
    start: np.ndarray | None = None, relax: bool = False,
    stop: Callable[[float, float | None, float | None], bool] | None = None,
    cancel: threading.Event | None = None, tick: Callable[[float], None] | None = None,
    incumbent: Callable[[np.ndarray, float], None] | None = None,
) -> tuple[MipOutcome, dict[str, np.ndarray] | None]:
    """Solve the model (or its LP relaxation); with `relax`, also return the row duals.

    `start` (rep per unit) is given to HiGHS as a starting plan. `stop(seconds, objective,
    bound)` is asked at every new plan; True ends the solve early (reported as
    stopped_at_gap). `cancel` ends it at the next check (interrupted); `tick(seconds)` is
    called at each check, for progress; `incumbent(owner, objective)` at every improving
    plan (rep index per unit), so a caller can keep the best plan so far.
    """
    m = built.model
    units, reps = built.pairs
    for var in m.x.values():
        var.domain = pyo.UnitInterval if relax else pyo.Binary
    solver = SolverFactory("highs")
    solver.config.time_limit = max(time_limit, 0.1)
    solver.config.rel_gap = rel_gap
    solver.config.load_solutions = False
    solver.config.raise_exception_on_nonoptimal_result = False
    solver.config.threads = 1
    solver.set_instance(m)
    highs = _highs_of(solver)
    events: list[SolverEvent] = []
    started = time.perf_counter()
    first: list[float] = []

    scale = built.cost_scale

    def on_solution(event: object) -> None:
        out = event.data_out
        seconds = time.perf_counter() - started
        objective = float(out.objective_function_value) * scale
        bound = (float(out.mip_dual_bound) * scale if np.isfinite(out.mip_dual_bound)
                 else None)
        events.append(SolverEvent(seconds, objective, bound))
        if not first:
            first.append(seconds)
        if incumbent is not None:
            incumbent(_owner_of(np.asarray(out.mip_solution)[columns], built, problem),
                      objective)
        if stop is not None and stop(seconds, objective, bound):
            event.interrupt()

    deadline = started + max(time_limit, 0.1)
    overran: list[bool] = []

    def on_interrupt(event: object) -> None:
        now = time.perf_counter()
        if tick is not None:
            tick(now - started)
        if cancel is not None and cancel.is_set():
            event.interrupt()
        elif now > deadline:
            # HiGHS checks its own time limit only between some phases; this check holds the
            # limit as a wall-clock wall wherever HiGHS offers an interrupt.
            overran.append(True)
            event.interrupt()

    if incumbent is not None and not relax:
        column = solver._pyomo_var_to_solver_var_map  # noqa: SLF001
        columns = np.array([column[id(m.x[j])] for j in range(len(units))], dtype=np.int64)
    if not relax:
        highs.cbMipImprovingSolution.subscribe(on_solution)
        highs.cbMipInterrupt.subscribe(on_interrupt)
        highs.cbSimplexInterrupt.subscribe(on_interrupt)
        if start is not None:
            values = np.zeros(len(units))
            values[start[units] == reps] = 1.0
            solution = highs.getSolution()
            # `solution.col_value` hands out a copy on every read: fill a list, assign it once.
            col_value = [0.0] * highs.getNumCol()
            column = solver._pyomo_var_to_solver_var_map  # noqa: SLF001
            for j, var in m.x.items():
                col_value[column[id(var)]] = float(values[j])
            solution.col_value = col_value
            solution.value_valid = True
            highs.setSolution(solution)
    else:
        highs.cbSimplexInterrupt.subscribe(on_interrupt)
    results = solver.solve(m)
    seconds = time.perf_counter() - started
    termination = _termination(results.termination_condition)
    if highs.getModelStatus() == highspy.HighsModelStatus.kInterrupt:
        termination = "time_limit" if overran else "interrupted"
    if termination == "interrupted" and not (cancel is not None and cancel.is_set()):
        termination = "stopped_at_gap"
    objective = (None if results.incumbent_objective is None
                 else results.incumbent_objective * scale)
    bound = None if results.objective_bound is None else results.objective_bound * scale
    owner = None
    duals = None
    if objective is not None:
        solution = highs.getSolution()
        column_values = solution.col_value
        column = solver._pyomo_var_to_solver_var_map  # noqa: SLF001
        values = np.array([column_values[column[id(m.x[j])]] for j in range(len(units))])
        if relax:
            rows = solution.row_dual
            con_map = solver._pyomo_con_to_solver_con_map  # noqa: SLF001
            duals = {
                "assign": np.array([rows[con_map[m.assign[k]]] for k in m.assign]) * scale,
                "balance": _row_duals(m.balance, con_map, rows, problem.rep_count) * scale
                / built.balance_scale,
                "moves": (_row_duals(m.moves, con_map, rows, problem.rep_count) * scale
                          if hasattr(m, "moves") else np.zeros(problem.rep_count)),
                "x": values,
            }
            bound = objective
        else:
            owner = np.full(problem.unit_count, -1, dtype=np.int64)
            chosen = values > 0.5
            owner[units[chosen]] = reps[chosen]
    return MipOutcome(termination=termination, owner=owner, objective=objective,
                      bound=bound, seconds=seconds, events=events,
                      first_feasible_seconds=first[0] if first else None), duals


def _owner_of(values: np.ndarray, built: AssignmentModel, problem: TerritoryProblem
              ) -> np.ndarray:
    """Rep index per unit of a 0/1 solution over the model's pairs (-1: none)."""
    units, reps = built.pairs
    owner = np.full(problem.unit_count, -1, dtype=np.int64)
    chosen = values > 0.5
    owner[units[chosen]] = reps[chosen]
    return owner


def _row_duals(block: pyo.Constraint, con_map: dict, rows: list[float], size: int) -> np.ndarray:
    out = np.zeros(size)
    for index, con in block.items():
        if con in con_map:
            out[index] = rows[con_map[con]]
    return out


def full_problem_bound(
    problem: TerritoryProblem, scenario: TerritoryScenario, duals: dict[str, np.ndarray],
    pairs: Pairs,
) -> tuple[float, np.ndarray]:
    """A lower bound on the full problem's optimum from any multipliers (weak duality).

    L = Σ π_i + Σ_r [max(μ_r, 0) L_r + min(μ_r, 0) U_r] + Σ_r ν_r (n_r − M)
        + Σ over every eligible pair of min(0, c_ir − π_i − w_i μ_r − [cur_i = r] ν_r).
    Valid whatever the multipliers (ν clipped at 0); tight when they are the LP's optimal
    duals and no pair outside the model has a negative reduced cost. Also returns the
    unit × rep reduced costs (inf where ineligible) for widening the model.
    """
    units, _ = pairs
    low, high = problem.band(scenario.tolerance)
    pi = np.zeros(problem.unit_count)
    pi[np.unique(units)] = duals["assign"]
    mu = duals["balance"]
    nu = np.maximum(duals["moves"], 0.0)
    cost = problem.cost(scenario.disruption_weight)
    reduced = cost - pi[:, None] - problem.workload[:, None] * mu[None, :]
    current = problem.current
    has = np.flatnonzero(current >= 0)
    reduced[has, current[has]] -= nu[current[has]]
    reduced = np.where(problem.eligible, reduced, np.inf)
    bound = float(pi.sum() + (np.maximum(mu, 0) * low + np.minimum(mu, 0) * high).sum())
    if scenario.max_moves_per_rep is not None:
        owned = np.bincount(current[has], minlength=problem.rep_count)
        bound += float((nu * np.maximum(owned - scenario.max_moves_per_rep, 0)).sum())
    bound += float(np.minimum(reduced, 0.0)[problem.eligible].sum())
    return bound, reduced


def balance_lagrangian_bound(
    problem: TerritoryProblem, scenario: TerritoryScenario, upper: float, seconds: float,
    iterations: int = 2_000,
) -> tuple[float, int, np.ndarray]:
    """A lower bound for the full problem from relaxing only the balance rows, maximised over
    their multipliers by subgradient ascent with Polyak steps towards `upper` (a known plan's
    cost). Each bound is valid whatever the multipliers (weak duality), so the best one seen
    is returned, with the iterations run and the assignment that minimised it (each unit at
    its cheapest rep after the multipliers: nearly balanced, a start for repair). Needs no
    model: numpy passes over the unit × rep costs, for books too large for the LP."""
    started = time.perf_counter()
    cost = np.where(problem.eligible, problem.cost(scenario.disruption_weight), np.inf)
    w = problem.workload
    low, high = problem.band(scenario.tolerance)
    mu = np.zeros(problem.rep_count)
    best = -np.inf
    best_choice = np.zeros(problem.unit_count, dtype=np.int64)
    theta = 1.0
    stalled = 0
    rows = np.arange(problem.unit_count)
    done = 0
    while done < iterations:
        done += 1
        reduced = cost - w[:, None] * mu[None, :]
        choice = np.argmin(reduced, axis=1)
        value = float(reduced[rows, choice].sum()
                      + (np.maximum(mu, 0) * low + np.minimum(mu, 0) * high).sum())
        if not np.isfinite(best) or value > best + 1e-9 * max(abs(best), 1.0):
            best, stalled, best_choice = value, 0, choice
        else:
            stalled += 1
            if stalled >= 5:
                theta, stalled = theta / 2, 0
        load = np.bincount(choice, weights=w, minlength=problem.rep_count)
        gradient = np.where(load < low, low - load, np.where(load > high, high - load, 0.0))
        norm = float((gradient ** 2).sum())
        if norm == 0 or time.perf_counter() - started >= seconds or theta < 1e-4:
            break
        mu = mu + theta * max(upper - value, 0.0) / norm * gradient
    return best, done, best_choice
