"""The continuity–compactness trade-off: one scenario solved at a few disruption weights, so a
leader sees what each option moves and what it gains in distance before picking one.

Options run from continuity (the default: fewest moved value, then compactness) through a
balanced weight to compactness only (weight 0). Each solve gets an equal share of a total time
budget, so the whole table costs a known, bounded time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import pandas as pd

from planning.territory.problem import TerritoryProblem, TerritoryScenario
from planning.territory.solve import TerritoryResult, solve_territories

BALANCED_SHARE = 0.1
"""The balanced option's weight as a share of the continuity weight: a move is worth making
when it saves a tenth of the distance a continuity move would have to save."""

OPTIONS: tuple[tuple[str, float | None], ...] = (
    ("Continuity", None), ("Balanced", BALANCED_SHARE), ("Compactness", 0.0))
"""Option name and its weight: None is the continuity weight, a number below 1 a share of it
(0 is compactness only)."""


@dataclass(frozen=True)
class TradeOff:
    """The trade-off table and the plan of every option (same order)."""

    table: pd.DataFrame
    """option, disruption_weight, status, moved_units, moved_share, moved_value,
    weighted_distance_km, mean_distance_km, max_balance_deviation, gap, seconds."""
    results: tuple[TerritoryResult, ...]
    seconds: float
    """Wall-clock time of all the solves together."""


def option_weight(problem: TerritoryProblem, weight: float | None) -> float | None:
    """The disruption weight of an option: None stays continuity, a share scales it."""
    return None if weight is None else weight * problem.continuity_weight


def tradeoff(
    problem: TerritoryProblem, scenario: TerritoryScenario, *, total_seconds: float = 30.0,
    options: tuple[tuple[str, float | None], ...] = OPTIONS,
    solve: Callable[[TerritoryProblem, TerritoryScenario], TerritoryResult] = solve_territories,
) -> TradeOff:
    """Solve `scenario` once per option (its disruption weight replaced), each within an
    equal share of `total_seconds`, and tabulate moves against weighted distance. `solve`
    runs one option: the page passes a job-backed solve, so each has a hard time limit."""
    started = time.perf_counter()
    each = max(total_seconds / max(len(options), 1), 1.0)
    rows: list[dict[str, object]] = []
    results: list[TerritoryResult] = []
    units = max(problem.unit_count, 1)
    for name, share in options:
        weight = option_weight(problem, share)
        result = solve(problem, replace(
            scenario, disruption_weight=weight, time_limit=min(scenario.time_limit, each)))
        kpis = result.kpis()
        rows.append({
            "option": name,
            "disruption_weight": problem.continuity_weight if weight is None else weight,
            "status": result.status,
            "moved_units": kpis["moved_units"],
            "moved_share": None if kpis["moved_units"] is None
            else kpis["moved_units"] / units,
            "moved_value": kpis["moved_value"],
            "weighted_distance_km": kpis["weighted_distance_km"],
            "mean_distance_km": kpis["mean_distance_km"],
            "max_balance_deviation": kpis["max_balance_deviation"],
            "gap": result.gap, "seconds": result.seconds,
        })
        results.append(result)
    return TradeOff(table=pd.DataFrame(rows), results=tuple(results),
                    seconds=time.perf_counter() - started)
