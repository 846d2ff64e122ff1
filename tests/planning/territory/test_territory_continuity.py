"""The default (continuity) scenario: every rep in the band, moving about as little as a
separately solved minimum-moves model; names in messages; a monotone trade-off table."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pyomo.environ as pyo
import pytest
from pyomo.contrib.solver.common.factory import SolverFactory

from planning.store import Workspace, close_all_workspaces, open_workspace
from planning.territory.check import plan_violations
from planning.territory.instances import us_territory_problem
from planning.territory.problem import TerritoryProblem, TerritoryScenario
from planning.territory.solve import solve_territories
from planning.territory.tradeoff import tradeoff
from planning.territory.workspace import workspace_territory
from tests.conftest import DEMO_AS_OF


def minimum_moves(problem: TerritoryProblem, tolerance: float,
                  seconds: float = 20) -> tuple[float, float, int]:
    """The minimum-moves model, written here independently of the solver's: a proven lower
    bound on the value that must move to bring every rep into its band (the MIP's bound after
    `seconds`, no more than the true minimum), the moved value of its best plan in that time
    and that plan's moved units."""
    low, high = problem.band(tolerance)
    units, reps = np.nonzero(problem.eligible)
    pairs = list(range(len(units)))
    m = pyo.ConcreteModel()
    m.x = pyo.Var(pairs, domain=pyo.Binary)
    by_unit: dict[int, list[int]] = {}
    by_rep: dict[int, list[int]] = {}
    for j in pairs:
        by_unit.setdefault(int(units[j]), []).append(j)
        by_rep.setdefault(int(reps[j]), []).append(j)
    m.assign = pyo.Constraint(list(by_unit), rule=lambda _, i: sum(m.x[j] for j in by_unit[i])
                              == 1)
    scale = float(problem.target.mean())
    m.balance = pyo.Constraint(list(by_rep), rule=lambda _, r: (
        float(low[r] / scale),
        sum(float(problem.workload[units[j]] / scale) * m.x[j] for j in by_rep[r]),
        float(high[r] / scale)))
    moved = problem.current[units] != reps
    value = problem.value / float(problem.value.mean())
    m.objective = pyo.Objective(expr=sum(float(value[units[j]]) * m.x[j]
                                         for j in pairs if moved[j]))
    solver = SolverFactory("highs")
    solver.config.time_limit = seconds
    solver.config.threads = 1
    solver.config.rel_gap = 1e-4
    solver.config.raise_exception_on_nonoptimal_result = False
    results = solver.solve(m)
    results.solution_loader.load_vars()
    chosen = np.array([pyo.value(m.x[j]) > 0.5 for j in pairs])
    moved_units = int((chosen & moved).sum())
    scale = float(problem.value.mean())
    return (float(results.objective_bound) * scale,
            float(results.incumbent_objective) * scale, moved_units)


def minimum_moved_value(problem: TerritoryProblem, tolerance: float) -> tuple[float, int]:
    """The minimum-moves model's proven lower bound and its best plan's moved units."""
    bound, _, units = minimum_moves(problem, tolerance)
    return bound, units


@pytest.fixture(scope="module")
def instance() -> tuple[TerritoryProblem, float, int]:
    """A 800-account, 12-rep book whose accounts sit with their nearest rep today (far out of
    balance), with its minimum-moves reference."""
    problem = us_territory_problem(800, 12, seed=11)
    return problem, *minimum_moved_value(problem, 0.10)


def test_the_default_scenario_is_continuity() -> None:
    scenario = TerritoryScenario()
    assert scenario.disruption_weight is None and scenario.objective == "continuity"
    assert scenario.tolerance == pytest.approx(0.05)


def test_the_default_plan_is_in_band_and_moves_about_the_minimum(
    instance: tuple[TerritoryProblem, float, int],
) -> None:
    problem, least_value, least_units = instance
    scenario = TerritoryScenario(tolerance=0.10, time_limit=30)
    result = solve_territories(problem, scenario)
    assert result.has_plan, result.message
    plan = result.assignment.set_index("unit_id")["rep_id"]
    assert not plan_violations(problem, scenario, plan)
    assert result.kpis()["max_balance_deviation"] <= 0.10 + 1e-9
    assert least_value > 0
    # Moves are counted weighted by value (what the objective minimises); the count of a
    # least-value plan is not unique, so only a loose check on it.
    assert result.kpis()["moved_value"] <= least_value * 1.05
    assert result.kpis()["moved_units"] <= 2 * least_units


def test_the_heuristic_alone_starts_from_today_and_moves_little(
    instance: tuple[TerritoryProblem, float, int],
) -> None:
    problem, least_value, _ = instance
    scenario = TerritoryScenario(tolerance=0.10, time_limit=10, method="heuristic")
    result = solve_territories(problem, scenario)
    assert result.has_plan
    assert result.kpis()["moved_units"] < 0.5 * problem.unit_count
    assert result.kpis()["moved_value"] <= least_value * 1.5


def test_a_move_cap_message_names_the_rep_by_name(demo_copy: Workspace) -> None:
    territory = workspace_territory(demo_copy, "revenue", respect_segments=False)
    result = solve_territories(territory.problem,
                               TerritoryScenario(tolerance=0.05, max_moves_per_rep=0,
                                                 time_limit=20))
    assert result.status == "infeasible"
    assert result.infeasibility is not None
    rep_id = result.infeasibility.reps[0]
    name = territory.reps.set_index("rep_id").loc[rep_id, "name"]
    assert f"{name} ({rep_id})" in result.message


def test_more_weight_on_continuity_moves_fewer_accounts() -> None:
    problem = us_territory_problem(600, 10, seed=12)
    found = tradeoff(problem, TerritoryScenario(tolerance=0.10, time_limit=20),
                     total_seconds=45)
    table = found.table
    assert list(table["option"]) == ["Continuity", "Balanced", "Compactness"]
    assert (table["status"].isin(["optimal", "within_gap", "time_limit", "feasible"])).all()
    moved = table["moved_units"].to_numpy()
    distance = table["weighted_distance_km"].to_numpy()
    assert moved[0] <= moved[1] <= moved[2]
    assert moved[0] < moved[2]
    assert distance[2] <= distance[0]
    assert found.seconds <= 45 * 1.5


@pytest.fixture(scope="module")
def medium_demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    """The medium demo company (60 reps, 6,000 accounts) as of the test demo day."""
    from planning.demo import DEMO_SIZES, generate_demo_workspace

    folder = tmp_path_factory.mktemp("medium-demo")
    generate_demo_workspace("medium", size=DEMO_SIZES["medium"], seed=7, as_of=DEMO_AS_OF,
                            base=folder)
    yield open_workspace("medium", base=folder)
    close_all_workspaces()


@pytest.mark.slow
def test_the_default_scenario_on_the_medium_demo_moves_about_the_minimum(
    medium_demo: Workspace,
) -> None:
    problem = workspace_territory(medium_demo).problem
    scenario = TerritoryScenario()
    result = solve_territories(problem, scenario)
    assert result.has_plan, result.message
    plan = result.assignment.set_index("unit_id")["rep_id"]
    assert not plan_violations(problem, scenario, plan)
    assert result.kpis()["max_balance_deviation"] <= scenario.tolerance + 1e-9
    bound, least_value, least_units = minimum_moves(problem, scenario.tolerance, seconds=60)
    assert 0 < bound <= least_value
    # Within 5 % of the value the minimum-moves model, solved separately for as long as the
    # default scenario's limit, moves; and far fewer accounts, as compactness comes second.
    assert result.kpis()["moved_value"] <= least_value * 1.05
    assert result.kpis()["moved_units"] <= least_units
