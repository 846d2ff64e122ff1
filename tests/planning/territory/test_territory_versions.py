"""Saving territory plans as versions people can tell apart: a repeated plan or a taken name
is refused in one line naming the existing version, and nothing of the refused save is kept."""

from __future__ import annotations

import pytest

from planning.access.roles import Role
from planning.access.users import User
from planning.store import Workspace
from planning.territory.problem import TerritoryScenario
from planning.territory.solve import solve_territories
from planning.territory.workspace import save_scenario, workspace_territory
from planning.versions import DuplicateVersionError, list_versions, read_version
from tests.conftest import DEMO_AS_OF

AUTHOR = User("rory@example.com", "Rory", "demo", roles=frozenset({Role.REVOPS}))


def test_a_repeated_plan_or_name_is_refused_naming_the_saved_version(
    demo_copy: Workspace,
) -> None:
    territory = workspace_territory(demo_copy, today=DEMO_AS_OF)
    scenario = TerritoryScenario(tolerance=0.2, method="heuristic", time_limit=30)
    result = solve_territories(territory.problem, scenario)
    assert result.has_plan
    first = save_scenario(demo_copy, territory, result, "West rebalance", user=AUTHOR)

    with pytest.raises(DuplicateVersionError) as repeated:
        save_scenario(demo_copy, territory, result, "West rebalance again", user=AUTHOR)
    assert "already saved as version" in str(repeated.value)
    assert '"West rebalance"' in str(repeated.value) and first in str(repeated.value)

    with pytest.raises(DuplicateVersionError) as taken:
        save_scenario(demo_copy, territory, result, " west  REBALANCE", user=AUTHOR,
                      locked_ids=(territory.units["unit_id"].iloc[0],))
    assert "already named" in str(taken.value) and first in str(taken.value)

    assert list(list_versions(demo_copy, "territory")["version_id"]) == [first]
    assert demo_copy.read(lambda cur: cur.execute(
        "SELECT scenario_id FROM territory_scenarios").fetchall()) == [(first,)]


def test_a_saved_plan_keeps_each_rep_s_deviation_and_its_mean_distance(
    demo_copy: Workspace,
) -> None:
    territory = workspace_territory(demo_copy, today=DEMO_AS_OF)
    scenario = TerritoryScenario(tolerance=0.2, method="heuristic", time_limit=30)
    result = solve_territories(territory.problem, scenario)
    version_id = save_scenario(demo_copy, territory, result, "Kept figures", user=AUTHOR)
    metrics = read_version_in(demo_copy, version_id).metrics
    deviations = result.reps.set_index("rep_id")["deviation"]
    assert metrics["rep_deviation"] == pytest.approx(deviations.round(6).to_dict())
    assignment = result.assignment
    expected = (assignment["km"] * assignment["value"]).sum() / assignment["value"].sum()
    assert metrics["mean_distance_km"] == pytest.approx(expected)
    assert 0 < metrics["mean_distance_km"] < 5_000


def read_version_in(workspace: Workspace, version_id: str):
    return workspace.read(lambda cur: read_version(cur, version_id))
