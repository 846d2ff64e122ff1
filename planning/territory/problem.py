"""A territory problem: units of work to assign, reps to assign them to, and scenario settings.

Units are accounts or geographic aggregates (ZIPs, counties) with a location and a workload;
reps have a home location and a capacity (FTE, ramp-adjusted). Everything the solver needs is
derived here once, as arrays indexed like `units` and `reps`: workloads, each rep's band, the
eligibility of every unit-rep pair and the cost of every pair.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from planning.bounds import (
    MAX_CANDIDATES,
    MAX_DISRUPTION_WEIGHT,
    MAX_MOVES_PER_REP,
    MAX_TIME_LIMIT_S,
    check_number,
)
from planning.geo import haversine_km

CONTINUITY_MARGIN = 1.5
"""The continuity weight exceeds the largest distance gain of a move by this factor."""


@dataclass(frozen=True)
class TerritoryScenario:
    """What-if settings of one territory solve."""

    tolerance: float = 0.05
    """Each rep's workload must lie within ±tolerance of its capacity share of the total."""
    disruption_weight: float | None = None
    """Cost per unit of value of a unit that leaves its current rep (0: compactness only).
    None (the default) is continuity: the problem's `continuity_weight`, large enough that
    moving less value comes first and compactness second."""
    max_moves_per_rep: int | None = None
    """At most this many of a rep's current units may move to other reps (None: no cap)."""
    time_limit: float = 60.0
    """Seconds the whole solve may take."""
    rel_gap: float = 0.01
    """Stop once the plan is proven within this relative gap of the best bound."""
    candidates: int = 12
    """Nearest eligible reps per unit given to the MIP (widened when the bound needs it)."""
    method: str = "auto"
    """'auto' (heuristic, then warm-started MIP), 'heuristic' or 'plain' (the full MIP)."""
    balance_measure: str = "workload"
    """What the workload column measures, in words (for reports)."""

    def __post_init__(self) -> None:
        check_number("tolerance", self.tolerance, 0.0, 1.0, below_high=True)
        if self.disruption_weight is not None:
            check_number("disruption weight", self.disruption_weight, 0.0,
                         MAX_DISRUPTION_WEIGHT)
        if self.max_moves_per_rep is not None:
            check_number("max moves per rep", self.max_moves_per_rep, 0, MAX_MOVES_PER_REP)
        check_number("time limit", self.time_limit, 0.0, MAX_TIME_LIMIT_S, above_low=True)
        check_number("relative gap", self.rel_gap, 0.0, 1.0, below_high=True)
        check_number("candidates per unit", self.candidates, 1, MAX_CANDIDATES)
        if self.method not in ("auto", "heuristic", "plain"):
            raise ValueError(f"unknown method {self.method!r}: auto, heuristic or plain")

    @property
    def objective(self) -> str:
        """'continuity' (fewest moved value first, then compactness) or 'weighted'."""
        return "continuity" if self.disruption_weight is None else "weighted"


@dataclass(frozen=True)
class TerritoryProblem:
    """Validated units (unit_id, lat, lon, workload, current_rep_id, locked, segment, value)
    and reps (rep_id, lat, lon, capacity, segment[, target]), in a fixed order; built by
    `validation.territory_problem`."""

    units: pd.DataFrame
    reps: pd.DataFrame
    _cache: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def unit_count(self) -> int:
        return len(self.units)

    @property
    def rep_count(self) -> int:
        return len(self.reps)

    @cached_property
    def workload(self) -> np.ndarray:
        return self.units["workload"].to_numpy(dtype=float)

    @cached_property
    def value(self) -> np.ndarray:
        """What a unit's move costs in disruption (its value; the workload when not given)."""
        return self.units["value"].to_numpy(dtype=float)

    @cached_property
    def capacity(self) -> np.ndarray:
        return self.reps["capacity"].to_numpy(dtype=float)

    @cached_property
    def target(self) -> np.ndarray:
        """Each rep's capacity share of the total workload, or the reps' `target` column when
        given (e.g. shares within each segment's own workload)."""
        if "target" in self.reps.columns:
            return self.reps["target"].to_numpy(dtype=float)
        return self.workload.sum() * self.capacity / self.capacity.sum()

    @cached_property
    def current(self) -> np.ndarray:
        """Index of each unit's current rep, -1 when it has none."""
        index = {rep: i for i, rep in enumerate(self.reps["rep_id"])}
        return np.array([index.get(rep, -1) if isinstance(rep, str) else -1
                         for rep in self.units["current_rep_id"]], dtype=np.int64)

    @cached_property
    def locked(self) -> np.ndarray:
        return self.units["locked"].to_numpy(dtype=bool)

    @cached_property
    def distance_km(self) -> np.ndarray:
        """Unit × rep great-circle distance from the rep's home, km."""
        units, reps = self.units, self.reps
        return haversine_km(units["lat"].to_numpy(float)[:, None],
                            units["lon"].to_numpy(float)[:, None],
                            reps["lat"].to_numpy(float)[None, :],
                            reps["lon"].to_numpy(float)[None, :])

    @cached_property
    def eligible(self) -> np.ndarray:
        """Unit × rep: may the rep own the unit (segments match or either has none)."""
        unit_segment = self.units["segment"].to_numpy(dtype=object)
        rep_segment = self.reps["segment"].to_numpy(dtype=object)
        open_unit = pd.isna(unit_segment)[:, None]
        open_rep = pd.isna(rep_segment)[None, :]
        same = unit_segment[:, None] == rep_segment[None, :]
        allowed = open_unit | open_rep | same
        locked = self.locked & (self.current >= 0)
        if locked.any():
            rows = np.flatnonzero(locked)
            keep = allowed[rows, self.current[rows]]
            allowed[rows] = False
            allowed[rows, self.current[rows]] = keep
        return allowed

    @cached_property
    def unit_labels(self) -> np.ndarray:
        """Each unit as people know it: "Name (id)" when the units carry a name, else the id."""
        return _labels(self.units, "unit_id")

    @cached_property
    def rep_labels(self) -> np.ndarray:
        """Each rep as people know them: "Name (id)" when the reps carry a name, else the id."""
        return _labels(self.reps, "rep_id")

    @cached_property
    def continuity_weight(self) -> float:
        """The disruption weight of the continuity objective: per unit of value, a move costs
        at least what the unit's distance could ever gain from it (workload × the spread of
        its eligible reps' distances), so no move is worth making for compactness alone and
        the plan moves as little value as the band allows, then is as compact as it can be.
        Units of tiny value would need an unbounded weight; the ratio is capped at 100 × its
        median, which keeps the objective's coefficients within a range HiGHS solves well."""
        eligible = self.eligible
        farthest = np.where(eligible, self.distance_km, -np.inf).max(axis=1)
        nearest = np.where(eligible, self.distance_km, np.inf).min(axis=1)
        spread = np.where(eligible.any(axis=1), farthest - nearest, 0.0)
        priced = (self.value > 0) & (self.workload > 0) & (spread > 0)
        if not priced.any():
            return 1.0
        ratio = self.workload[priced] * spread[priced] / self.value[priced]
        return float(min(ratio.max(), 100 * np.median(ratio)) * CONTINUITY_MARGIN)

    def band(self, tolerance: float) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper workload limits of every rep."""
        return self.target * (1 - tolerance), self.target * (1 + tolerance)

    def cost(self, disruption_weight: float | None) -> np.ndarray:
        """Unit × rep objective cost: workload × km, plus weight × value when the unit moves
        (None: the continuity weight)."""
        if disruption_weight is None:
            disruption_weight = self.continuity_weight
        key = ("cost", disruption_weight)
        if key not in self._cache:
            cost = self.workload[:, None] * self.distance_km
            if disruption_weight:
                moved = np.ones_like(cost, dtype=bool)
                has = self.current >= 0
                moved[np.flatnonzero(has), self.current[has]] = False
                moved[~has] = False
                cost = cost + disruption_weight * self.value[:, None] * moved
            self._cache[key] = cost
        return self._cache[key]


def _labels(frame: pd.DataFrame, id_column: str) -> np.ndarray:
    ids = frame[id_column].astype(str)
    if "name" not in frame.columns:
        return ids.to_numpy(dtype=object)
    names = frame["name"]
    named = names.notna() & (names.astype(str).str.strip() != "") & (names.astype(str) != ids)
    return np.where(named, names.astype(str) + " (" + ids + ")", ids).astype(object)
