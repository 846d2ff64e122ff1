"""Infeasible territory scenarios: the obstacle is named and the suggested tolerance works."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from planning.territory.diagnose import diagnose
from planning.territory.problem import TerritoryProblem, TerritoryScenario
from planning.territory.solve import solve_territories
from tests.planning.territory.problems import grid_problem

SCENARIO = TerritoryScenario(tolerance=0.05, time_limit=20)
TWO_REPS = [(40.0, -100.0), (40.0, -95.0)]
THREE_REPS = [(40.0, -100.0), (40.0, -95.0), (40.0, -91.0)]


def rep_loads(problem: TerritoryProblem, assignment_reps: np.ndarray) -> np.ndarray:
    index = {rep: i for i, rep in enumerate(problem.reps["rep_id"])}
    owner = np.array([index[rep] for rep in assignment_reps])
    return np.bincount(owner, weights=problem.workload, minlength=problem.rep_count)


def assert_valid_plan(problem: TerritoryProblem, tolerance: float, result: object) -> None:
    """Every unit has one rep and every rep's load is inside its band, recomputed here."""
    assert result.status not in ("infeasible", "no_plan"), result.message
    assignment = result.assignment
    assert list(assignment["unit_id"]) == list(problem.units["unit_id"])
    total = problem.workload.sum()
    share = problem.capacity / problem.capacity.sum()
    load = rep_loads(problem, assignment["rep_id"].to_numpy())
    assert np.all(load <= total * share * (1 + tolerance) + 1e-9)
    assert np.all(load >= total * share * (1 - tolerance) - 1e-9)


def heavy_unit_problem() -> TerritoryProblem:
    """U00 weighs 40 of 60; capacities 1, 2, 1 give targets 15, 30, 15."""
    return grid_problem([40.0] + [2.0] * 10, THREE_REPS, capacity=[1.0, 2.0, 1.0])


def test_a_unit_heavier_than_every_limit_is_named_with_the_tolerance_it_needs() -> None:
    problem = heavy_unit_problem()
    total = 40.0 + 10 * 2.0
    best_target = total * 2.0 / (1.0 + 2.0 + 1.0)
    needed = 40.0 / best_target - 1
    assert needed == pytest.approx(1 / 3, rel=1e-12)
    found = diagnose(problem, SCENARIO)
    assert found is not None
    assert found.constraint == "unit_too_heavy"
    assert found.units == ("U00",)
    assert "U00" in found.message and "R1" in found.message
    assert found.tolerance_needed == pytest.approx(needed, rel=1e-9)
    assert found.suggested_tolerance is not None
    assert found.suggested_tolerance >= found.tolerance_needed
    assert found.suggested_tolerance == pytest.approx(0.334, abs=1e-12)
    assert f"±{found.suggested_tolerance:.1%}" in found.to_text()

    tolerance = found.suggested_tolerance
    result = solve_territories(problem, replace(SCENARIO, tolerance=tolerance))
    assert_valid_plan(problem, tolerance, result)
    owner = dict(zip(result.assignment["unit_id"], result.assignment["rep_id"], strict=True))
    assert owner["U00"] == "R1"


def test_below_the_proven_tolerance_there_is_no_plan() -> None:
    problem = heavy_unit_problem()
    found = diagnose(problem, SCENARIO)
    result = solve_territories(problem, replace(SCENARIO, tolerance=found.tolerance_needed
                                                - 0.001))
    assert result.status == "infeasible"
    assert not result.has_plan
    assert result.has_best_effort
    assert result.kpis()["moved_units"] is None
    assert result.infeasibility.constraint == "unit_too_heavy"


def test_solving_an_infeasible_scenario_reports_the_diagnosis() -> None:
    problem = heavy_unit_problem()
    result = solve_territories(problem, SCENARIO)
    assert result.status == "infeasible"
    assert not result.has_plan
    assert result.infeasibility == diagnose(problem, SCENARIO)
    assert result.message.startswith(result.infeasibility.to_text())
    assert "Showing the best effort, which breaks: balance: R1" in result.message
    report = result.report()
    assert report["status"] == "infeasible"
    assert report["infeasibility"]["constraint"] == "unit_too_heavy"
    assert report["infeasibility"]["units"] == ["U00"]
    assert report["infeasibility"]["suggested_tolerance"] == pytest.approx(0.334, abs=1e-12)


def locked_problem(workloads: list[float], locked_count: int) -> TerritoryProblem:
    """The first `locked_count` units are locked to R0; the rest are free and unassigned."""
    free = len(workloads) - locked_count
    return grid_problem(workloads, TWO_REPS, current=["R0"] * locked_count + [None] * free,
                        locked=[True] * locked_count + [False] * free)


def test_locked_units_overfilling_a_rep_name_the_rep() -> None:
    # R0 holds 30 locked of a total 40; its target is 20, so it needs +50 %.
    problem = locked_problem([10.0, 10.0, 10.0, 5.0, 5.0], 3)
    found = diagnose(problem, SCENARIO)
    assert found is not None
    assert found.constraint == "locked_overfill"
    assert found.reps == ("R0",)
    assert "R0" in found.message and "R1" not in found.message
    assert found.tolerance_needed == pytest.approx(0.5, rel=1e-9)
    assert found.suggested_tolerance is not None
    assert found.suggested_tolerance >= found.tolerance_needed
    result = solve_territories(problem, replace(SCENARIO, tolerance=found.suggested_tolerance))
    assert_valid_plan(problem, found.suggested_tolerance, result)
    owner = dict(zip(result.assignment["unit_id"], result.assignment["rep_id"], strict=True))
    assert [owner[u] for u in ("U00", "U01", "U02")] == ["R0", "R0", "R0"]


def test_locked_overfill_is_named_when_the_balance_bound_only_ties() -> None:
    # R0 holds 3 locked of a total 5; its target is 2.5, so it needs +20 %.
    problem = locked_problem([1.0] * 5, 3)
    found = diagnose(problem, SCENARIO)
    assert found.constraint == "locked_overfill"
    assert found.reps == ("R0",)
    assert found.tolerance_needed == pytest.approx(0.2, rel=1e-9)
    assert found.suggested_tolerance >= found.tolerance_needed


def test_a_unit_of_a_segment_no_rep_serves_is_named() -> None:
    problem = grid_problem([1.0] * 6, TWO_REPS, unit_segments=["A"] * 4 + ["B", "A"],
                           rep_segments=["A", "A"])
    found = diagnose(problem, SCENARIO)
    assert found is not None
    assert found.constraint == "segment"
    assert found.units == ("U04",)
    assert "U04" in found.message and "B" in found.message
    assert found.tolerance_needed is None
    assert found.suggested_tolerance is None
    assert found.to_text() == found.message
    result = solve_territories(problem, SCENARIO)
    assert result.status == "infeasible"
    assert result.infeasibility.constraint == "segment"
    assert result.infeasibility.units == ("U04",)


def test_a_locked_unit_on_a_rep_of_another_segment_is_named() -> None:
    problem = grid_problem([1.0] * 4, TWO_REPS, current=["R1", None, None, None],
                           locked=[True, False, False, False],
                           unit_segments=["A", None, None, None], rep_segments=["A", "B"])
    found = diagnose(problem, SCENARIO)
    assert found is not None
    assert found.constraint == "locked"
    assert found.units == ("U00",)
    assert found.suggested_tolerance is None


def test_a_move_cap_that_keeps_a_rep_overfull_is_named() -> None:
    # Every unit sits with R0 and at most one may move: R0 keeps 5 of a target of 3.
    problem = grid_problem([1.0] * 6, TWO_REPS, current=["R0"] * 6)
    scenario = replace(SCENARIO, max_moves_per_rep=1)
    found = diagnose(problem, scenario)
    assert found is not None
    assert found.constraint == "move_cap"
    assert found.reps == ("R0",)
    assert found.tolerance_needed == pytest.approx(5 / 3 - 1, rel=1e-9)
    assert found.suggested_tolerance >= found.tolerance_needed
    tolerance = found.suggested_tolerance
    result = solve_territories(problem, replace(scenario, tolerance=tolerance))
    assert_valid_plan(problem, tolerance, result)
    assert int(result.assignment["moved"].sum()) <= 1


@pytest.mark.parametrize(("workloads", "tolerance"), [
    ([1.0] * 6, 0.05),
    ([3.0, 1.0, 2.0, 2.0, 1.0, 3.0], 0.0),
    ([40.0] + [2.0] * 10, 0.34),
])
def test_a_feasible_scenario_has_no_diagnosis(workloads: list[float], tolerance: float) -> None:
    if len(workloads) == 11:
        problem = grid_problem(workloads, THREE_REPS, capacity=[1.0, 2.0, 1.0])
    else:
        problem = grid_problem(workloads, TWO_REPS)
    scenario = replace(SCENARIO, tolerance=tolerance)
    assert diagnose(problem, scenario) is None
    assert_valid_plan(problem, tolerance, solve_territories(problem, scenario))


@pytest.mark.parametrize("settings", [
    {"tolerance": 1.5}, {"tolerance": 1.0}, {"tolerance": -0.01},
    {"disruption_weight": -1.0}, {"disruption_weight": -1e-9},
    {"max_moves_per_rep": -1}, {"time_limit": 0.0}, {"rel_gap": 1.0}, {"candidates": 0},
    {"method": "fast"},
])
def test_the_scenario_refuses_bad_settings(settings: dict) -> None:
    with pytest.raises(ValueError):
        TerritoryScenario(**settings)


@pytest.mark.parametrize("settings", [
    {"tolerance": 0.0}, {"tolerance": 0.999}, {"disruption_weight": 0.0},
    {"disruption_weight": 1e6}, {"max_moves_per_rep": 0}, {"method": "plain"},
])
def test_the_scenario_accepts_edge_settings(settings: dict) -> None:
    scenario = TerritoryScenario(**settings)
    for name, value in settings.items():
        assert getattr(scenario, name) == value


def test_a_band_holding_no_whole_number_of_equal_units_is_named() -> None:
    from planning.territory.diagnose import whole_unit_bands

    # Three accounts of weight 1 over two reps: each share is 1.5 accounts.
    problem = grid_problem([1.0, 1.0, 1.0], [(40.0, -99.0), (40.0, -98.0)])
    found = whole_unit_bands(problem, TerritoryScenario(tolerance=0.2))
    assert found is not None and found.constraint == "whole_units"
    assert set(found.reps) == {"R0", "R1"}
    assert found.tolerance_needed == pytest.approx(1 / 3)
    assert whole_unit_bands(problem, TerritoryScenario(tolerance=0.34)) is None
    result = solve_territories(problem, TerritoryScenario(tolerance=0.2, time_limit=10))
    assert result.status == "infeasible"
    assert result.infeasibility.constraint == "whole_units"
    assert result.infeasibility.suggested_tolerance == pytest.approx(0.334)


def test_a_diagnosis_leaves_highs_able_to_solve_quotas_in_the_same_process() -> None:
    """HiGHS keeps one thread scheduler per process: a diagnosis run at another thread count
    made every later quota solve in the app's process fail ("Not Set"). In a fresh process,
    so that no earlier test has set the scheduler up already."""
    script = (
        "from dataclasses import replace\n"
        "from tests.planning.territory.test_territory_diagnose import SCENARIO, "
        "heavy_unit_problem\n"
        "from planning.territory.diagnose import diagnose\n"
        "from planning.territory.solve import solve_territories\n"
        "import pandas as pd\n"
        "from planning.quota.model import QuotaScenario, solve_quotas\n"
        "problem = heavy_unit_problem()\n"
        "found = diagnose(problem, SCENARIO)\n"
        "assert solve_territories(problem, replace(SCENARIO, tolerance=found.tolerance_needed"
        " - 0.001)).status == 'infeasible'\n"
        "reps = pd.DataFrame({'rep_id': ['A', 'B'], 'name': ['A', 'B'], 'team': ['T', 'T'],"
        " 'potential': [1.0, 2.0], 'history': [1.0, 1.0], 'pipeline': [1.0, 1.0],"
        " 'ramp': [1.0, 1.0], 'last_quota': [float('nan')] * 2})\n"
        "print(solve_quotas(reps, QuotaScenario(target_cents=300_000)).status)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=False, timeout=120, cwd=Path(__file__).parents[3])
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "optimal"
