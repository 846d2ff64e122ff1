"""A fast constructive heuristic with repair and local search: a feasible plan in well under a
second for thousands of units, used alone for very large books and as the MIP's warm start.

1. Construct: today's assignment is the start (every unit its current rep may keep stays);
   units without one, heaviest first, go to the cheapest eligible rep with room below its
   upper limit. A first plan therefore moves only what the band requires.
2. Repair: while some rep is outside its band, make the single move that removes the most
   band violation per unit of added cost (pulling units into reps below the band, pushing
   units out of reps above it). A book so far from balance that this takes more than a
   quarter of the time switches to rounds of many moves (each still reducing the violation,
   best first, without re-ranking in between): a somewhat costlier plan, but a plan in time.
3. Improve: apply cost-reducing moves, then pairwise swaps, that keep every rep in its band.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from planning.territory.problem import TerritoryProblem, TerritoryScenario

EPS = 1e-9
BATCH_REPAIR_SHARE = 0.25
"""Share of the heuristic's time after which repair switches to rounds of many moves."""


@dataclass
class PlanState:
    """A plan under construction: owner per unit, load per rep, units moved off each rep."""

    owner: np.ndarray
    load: np.ndarray
    moved_out: np.ndarray


@dataclass(frozen=True)
class HeuristicPlan:
    """The heuristic's plan (-1 for a unit it could not place) and whether it is feasible."""

    owner: np.ndarray
    feasible: bool
    violation: float
    """Total workload outside the reps' bands (0 when feasible)."""
    seconds: float
    feasible_seconds: float | None = None
    """When the first feasible plan was reached (after repair), if it was."""


class PlanSearch:
    """Moves on one problem and scenario, keeping loads and move counts up to date."""

    def __init__(self, problem: TerritoryProblem, scenario: TerritoryScenario) -> None:
        self.problem = problem
        self.scenario = scenario
        self.w = problem.workload
        self.cost = problem.cost(scenario.disruption_weight)
        self.eligible = problem.eligible
        self.current = problem.current
        self.fixed = problem.locked & (problem.current >= 0)
        self.low, self.high = problem.band(scenario.tolerance)
        slack = EPS * max(float(self.w.sum()), 1.0)
        self.low = self.low - slack
        self.high = self.high + slack
        self.cap = scenario.max_moves_per_rep
        self._nearest: dict[tuple[int, bool], np.ndarray] = {}
        rows = problem.rep_count
        self.state = PlanState(owner=np.full(problem.unit_count, -1, dtype=np.int64),
                               load=np.zeros(rows), moved_out=np.zeros(rows, dtype=np.int64))

    def violation(self, load: np.ndarray | None = None) -> np.ndarray:
        """Workload outside each rep's band."""
        load = self.state.load if load is None else load
        return np.maximum(self.low - load, 0.0) + np.maximum(load - self.high, 0.0)

    def moves_allowed(self, unit: int, source: int, target: int) -> bool:
        """Would moving `unit` from `source` (-1: unplaced) to `target` respect the move cap?"""
        home = self.current[unit]
        if self.cap is None or home < 0:
            return True
        after = self.state.moved_out[home] - (source >= 0 and source != home) + (target != home)
        return after <= self.cap

    def place(self, unit: int, target: int) -> None:
        """Put `unit` on `target`, taking it off its present rep."""
        state = self.state
        source = state.owner[unit]
        home = self.current[unit]
        if source >= 0:
            state.load[source] -= self.w[unit]
            if home >= 0 and source != home:
                state.moved_out[home] -= 1
        state.owner[unit] = target
        state.load[target] += self.w[unit]
        if home >= 0 and target != home:
            state.moved_out[home] += 1

    def construct(self) -> None:
        """Today's assignment is the start: every unit whose current rep may keep it stays
        (locked or not), so repair then moves only what the band requires; the rest,
        heaviest first, go to the cheapest rep with room."""
        has = self.current >= 0
        stays = np.zeros(len(self.w), dtype=bool)
        stays[has] = self.eligible[np.flatnonzero(has), self.current[has]]
        for unit in np.flatnonzero(stays):
            self.place(unit, int(self.current[unit]))
        free = np.flatnonzero(~stays & ~self.fixed & self.eligible.any(axis=1))
        order = free[np.argsort(-self.w[free], kind="stable")]
        masked = np.where(self.eligible, self.cost, np.inf)
        for unit in order:
            ranked = np.argsort(masked[unit], kind="stable")
            ranked = ranked[np.isfinite(masked[unit, ranked])]
            room = self.state.load[ranked] + self.w[unit] <= self.high[ranked]
            chosen = -1
            for target in ranked[room]:
                if self.moves_allowed(unit, -1, int(target)):
                    chosen = int(target)
                    break
            if chosen < 0:
                over = self.state.load[ranked] + self.w[unit] - self.high[ranked]
                for target in ranked[np.argsort(over, kind="stable")]:
                    if self.moves_allowed(unit, -1, int(target)):
                        chosen = int(target)
                        break
            if chosen >= 0:
                self.place(unit, chosen)

    def repair(self, deadline: float, batch_after: float | None = None) -> None:
        """Single moves that each reduce total band violation, best per unit of cost first
        (from `batch_after` on, as many per rep as still help; see the module docstring).

        Reps are taken worst first; a rep with no improving move is set aside until another
        move changes the loads. Stops when every rep is in its band or every one is stuck.
        """
        batch_after = deadline if batch_after is None else batch_after
        stuck: set[int] = set()
        while time.perf_counter() < deadline:
            violation = self.violation()
            if violation.sum() <= 0:
                return
            order = [int(r) for r in np.argsort(-violation, kind="stable")
                     if violation[r] > 0 and int(r) not in stuck]
            if not order:
                return
            rep = order[0]
            if self.move_for(rep, violation, batch=time.perf_counter() >= batch_after):
                stuck.clear()
            else:
                stuck.add(rep)

    def move_for(self, rep: int, violation: np.ndarray, batch: bool = False) -> bool:
        """Make the best violation-reducing move into (below band) or out of (above) `rep`;
        with `batch`, go on down the ranking until `rep` is in its band or no move helps."""
        if self.state.load[rep] < self.low[rep]:
            options = self.pull_options(rep, self.nearest_units(rep), violation)
            if not (options[2] < -EPS).any():
                options = self.pull_options(rep, self.nearest_units(rep, wide=True), violation)
            if not (options[2] < -EPS).any():
                options = self.pull_options(rep, np.arange(len(self.w)), violation)
        else:
            options = self.push_options(rep, violation)
        units, sources, change, delta, targets = options
        improving = change < -EPS
        if not improving.any():
            return False
        score = np.where(improving, delta / -np.minimum(change, -EPS), np.inf)
        best = np.flatnonzero(improving)
        if not batch and len(best) > 64:
            best = best[np.argpartition(score[best], 63)[:64]]
        moved = False
        for choice in best[np.lexsort((best, score[best]))]:
            unit, source, target = int(units[choice]), int(sources[choice]), int(targets[choice])
            if self.state.owner[unit] != source or not self.moves_allowed(unit, source, target):
                continue
            if self.move_change(unit, source, target) < -EPS:
                self.place(unit, target)
                moved = True
                if not batch or self.violation_of(np.array([rep]), self.state.load[[rep]])[0] <= 0:
                    break
        return moved

    def move_change(self, unit: int, source: int, target: int) -> float:
        """Change in total band violation if `unit` moved from `source` to `target` now."""
        pair = np.array([source, target])
        load = self.state.load[pair]
        after = load + np.array([-self.w[unit], self.w[unit]])
        return float(self.violation_of(pair, after).sum() - self.violation_of(pair, load).sum())

    def pull_options(self, rep: int, pool: np.ndarray, violation: np.ndarray) -> tuple:
        """Moves of units in `pool` onto `rep`: units, sources, violation change, cost change,
        targets."""
        state = self.state
        movable = (state.owner[pool] >= 0) & (state.owner[pool] != rep) & ~self.fixed[pool] & (
            self.eligible[pool, rep])
        units = pool[movable]
        sources = state.owner[units]
        weights = self.w[units]
        change = (self.violation_of(sources, state.load[sources] - weights) - violation[sources]
                  + self.violation_of(np.full(len(units), rep), state.load[rep] + weights)
                  - violation[rep])
        delta = self.cost[units, rep] - self.cost[units, sources]
        return units, sources, change, delta, np.full(len(units), rep)

    def push_options(self, rep: int, violation: np.ndarray) -> tuple:
        """The best move of each unit of `rep` to another rep (same tuple as pull_options)."""
        state = self.state
        units = np.flatnonzero((state.owner == rep) & ~self.fixed)
        weights = self.w[units][:, None]
        allowed = self.eligible[units].copy()
        allowed[:, rep] = False
        change = (self.violation_of(np.arange(len(state.load))[None, :],
                                    state.load[None, :] + weights)
                  - violation[None, :]
                  + self.violation_of(np.full((1, 1), rep), state.load[rep] - weights)
                  - violation[rep])
        change = np.where(allowed, change, np.inf)
        delta = self.cost[units] - self.cost[units, rep][:, None]
        best = np.argmin(np.where(change < -EPS, delta / -np.minimum(change, -EPS), np.inf),
                         axis=1)
        pick = np.arange(len(units))
        return (units, np.full(len(units), rep), change[pick, best], delta[pick, best], best)

    def nearest_units(self, rep: int, wide: bool = False) -> np.ndarray:
        """The units cheapest to give to `rep` (about ten times a rep's share, or sixty times
        when `wide`), cached."""
        key = (rep, wide)
        if key not in self._nearest:
            count = len(self.w)
            size = min(count, max(200, (60 if wide else 10) * count // max(len(self.low), 1)))
            column = np.where(self.eligible[:, rep], self.cost[:, rep], np.inf)
            chosen = (np.argpartition(column, size - 1)[:size] if size < count
                      else np.arange(count))
            self._nearest[key] = np.sort(chosen[np.isfinite(column[chosen])])
        return self._nearest[key]

    def violation_of(self, reps: np.ndarray, load: np.ndarray) -> np.ndarray:
        """Band violation of `reps` if their loads were `load` (broadcasting)."""
        return np.maximum(self.low[reps] - load, 0.0) + np.maximum(load - self.high[reps], 0.0)

    def improve(self, deadline: float, passes: int = 6) -> None:
        """Cost-reducing single moves and swaps that keep every rep within its band."""
        for _ in range(passes):
            if time.perf_counter() >= deadline:
                return
            gained = self.improve_moves(deadline) + self.improve_swaps(deadline)
            if gained <= EPS * max(float(np.abs(self.cost).max(initial=1.0)), 1.0):
                return

    def improve_moves(self, deadline: float) -> float:
        """Apply improving single moves (best first); the total cost removed."""
        state = self.state
        units = np.flatnonzero(~self.fixed & (state.owner >= 0))
        if not len(units):
            return 0.0
        here = self.cost[units, state.owner[units]]
        delta = np.where(self.eligible[units], self.cost[units] - here[:, None], np.inf)
        best = np.argmin(delta, axis=1)
        gain = -delta[np.arange(len(units)), best]
        gained = 0.0
        for choice in np.argsort(-gain, kind="stable"):
            if gain[choice] <= EPS or time.perf_counter() >= deadline:
                break
            unit = int(units[choice])
            source = int(state.owner[unit])
            row = np.where(self.eligible[unit], self.cost[unit] - self.cost[unit, source], np.inf)
            ok = (state.load + self.w[unit] <= self.high) & (row < -EPS)
            ok[source] = False
            if state.load[source] - self.w[unit] < self.low[source] or not ok.any():
                continue
            for target in np.argsort(np.where(ok, row, np.inf), kind="stable"):
                if not ok[target]:
                    break
                if self.moves_allowed(unit, source, int(target)):
                    gained -= float(row[target])
                    self.place(unit, int(target))
                    break
        return gained

    def improve_swaps(self, deadline: float) -> float:
        """Exchange pairs of units between reps where that lowers cost and keeps both bands."""
        state = self.state
        gained = 0.0
        units = np.flatnonzero(~self.fixed & (state.owner >= 0))
        masked = np.where(self.eligible[units], self.cost[units], np.inf)
        nearest = np.argsort(masked, axis=1) if masked.shape[1] <= 4 else np.argpartition(
            masked, 3, axis=1)[:, :4]
        nearest = np.take_along_axis(
            nearest, np.argsort(np.take_along_axis(masked, nearest, axis=1), axis=1,
                                kind="stable"), axis=1)[:, :4]
        for position, unit in enumerate(units):
            if time.perf_counter() >= deadline:
                break
            unit = int(unit)
            source = int(state.owner[unit])
            for target in nearest[position]:
                target = int(target)
                if target == source or not self.eligible[unit, target]:
                    continue
                move = self.cost[unit, target] - self.cost[unit, source]
                if move >= 0:
                    break
                others = np.flatnonzero((state.owner == target) & ~self.fixed
                                        & self.eligible[:, source])
                if not len(others):
                    continue
                back = self.cost[others, source] - self.cost[others, target]
                shift = self.w[unit] - self.w[others]
                fits = ((state.load[source] - shift >= self.low[source])
                        & (state.load[source] - shift <= self.high[source])
                        & (state.load[target] + shift >= self.low[target])
                        & (state.load[target] + shift <= self.high[target])
                        & (move + back < -EPS))
                if not fits.any():
                    continue
                for other in others[fits][np.argsort((move + back)[fits], kind="stable")]:
                    other = int(other)
                    if self.swap_allowed(unit, other):
                        gained -= float(move + self.cost[other, source]
                                        - self.cost[other, target])
                        self.place(unit, target)
                        self.place(other, source)
                        break
                break
        return gained

    def swap_allowed(self, first: int, second: int) -> bool:
        """Would exchanging the reps of two units respect the move cap?"""
        if self.cap is None:
            return True
        a, b = int(self.state.owner[first]), int(self.state.owner[second])
        self.place(first, b)
        self.place(second, a)
        ok = bool((self.state.moved_out <= self.cap).all())
        self.place(first, a)
        self.place(second, b)
        return ok


def heuristic_plan(
    problem: TerritoryProblem, scenario: TerritoryScenario, seconds: float = 10.0,
    start: np.ndarray | None = None, improve_seconds: float | None = None,
) -> HeuristicPlan:
    """Construct (or start from `start`), repair and improve a plan within `seconds` (local
    search stops after `improve_seconds` from the start, when given)."""
    started = time.perf_counter()
    deadline = started + seconds
    search = PlanSearch(problem, scenario)
    if start is None:
        search.construct()
    else:
        for unit, rep in enumerate(start):
            if rep >= 0:
                search.place(unit, int(rep))
    search.repair(deadline, batch_after=started + BATCH_REPAIR_SHARE * seconds)
    placed = bool((search.state.owner >= 0).all())
    violation = float(search.violation().sum())
    feasible_seconds = None
    if placed and violation <= 0:
        feasible_seconds = time.perf_counter() - started
        search.improve(min(deadline, started + improve_seconds) if improve_seconds is not None
                       else deadline)
        violation = float(search.violation().sum())
    return HeuristicPlan(owner=search.state.owner.copy(),
                         feasible=placed and violation <= 0,
                         violation=violation, seconds=time.perf_counter() - started,
                         feasible_seconds=feasible_seconds)
