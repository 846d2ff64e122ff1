"""The solver hands each better plan to its caller, so a process stopped by the clock has one."""

from __future__ import annotations

from planning.territory.instances import us_territory_problem
from planning.territory.problem import TerritoryScenario
from planning.territory.solve import TerritoryResult, solve_territories


def test_each_incumbent_is_a_valid_time_limited_plan_and_none_is_worse() -> None:
    problem = us_territory_problem(400, 12, seed=3)
    scenario = TerritoryScenario(tolerance=0.03, disruption_weight=5.0, time_limit=20.0)
    seen: list[TerritoryResult] = []

    final = solve_territories(problem, scenario, incumbent=seen.append)

    assert seen, "no plan was handed over"
    assert seen[0].method == "heuristic"
    for best in seen:
        assert best.has_plan and len(best.assignment) == problem.unit_count
        assert best.status in ("time_limit", "within_gap", "optimal")
        if best.gap is None or best.gap > scenario.rel_gap:
            assert best.status == "time_limit"
    objectives = [best.objective for best in seen]
    assert objectives == sorted(objectives, reverse=True)
    assert final.objective <= objectives[-1] + 1e-6
