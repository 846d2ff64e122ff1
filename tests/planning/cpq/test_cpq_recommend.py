"""The recommendation is valid, meets the requirements and costs as little as the cheapest
configuration found by trying every configuration of small random catalogs; `fit` meets as
many requirements as any valid configuration can, then costs least."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from planning.cpq.catalog import Catalog, Configuration, Requirements, load_catalog
from planning.cpq.recommend import SEAT_UNIT, recommend
from planning.cpq.validate import validate
from tests.planning.cpq.small_catalogs import DAY, MODULES, every_configuration, random_catalog

SAMPLE = Path(__file__).resolve().parents[3] / "data" / "samples" / "cpq"


def cost(catalog: Catalog, picks: dict[str, int]) -> int:
    return sum(catalog.option(o).cost_cents * q for o, q in picks.items())


def shortfall(catalog: Catalog, picks: dict[str, int],
              requirements: Requirements) -> tuple[int, int]:
    """(modules not provided, users without a seat)."""
    provided = {m for o in picks for m in catalog.option(o).provides}
    seats = sum(q for o, q in picks.items() if catalog.option(o).unit == SEAT_UNIT)
    return (len(set(requirements.modules) - provided), max(requirements.users - seats, 0))


def random_requirements(seed: int) -> Requirements:
    rng = random.Random(2000 + seed)
    return Requirements(users=rng.randrange(0, 5),
                        modules=tuple(rng.sample(MODULES, rng.randrange(0, 3))),
                        region=rng.choice(("a", "b", None)))


def valid_configurations(catalog: Catalog, requirements: Requirements) -> list[dict[str, int]]:
    attributes = requirements.attributes()
    return [c for c in every_configuration(catalog)
            if validate(catalog, Configuration(c, attributes), DAY).valid]


@pytest.mark.parametrize("seed", range(40))
def test_the_recommendation_is_the_cheapest_valid_configuration(seed: int) -> None:
    catalog = random_catalog(seed, option_count=7)
    requirements = random_requirements(seed)
    meeting = [c for c in valid_configurations(catalog, requirements)
               if shortfall(catalog, c, requirements) == (0, 0)]
    found = recommend(catalog, requirements, "cost", DAY)
    if not meeting:
        assert found.status == "infeasible"
        assert found.configuration is None and found.message
        return
    assert found.status == "optimal"
    assert found.configuration is not None
    picks = found.configuration.picked()
    assert validate(catalog, found.configuration, DAY).valid
    assert shortfall(catalog, picks, requirements) == (0, 0)
    assert found.cost_cents == cost(catalog, picks) == min(cost(catalog, c) for c in meeting)
    assert found.objective == found.cost_cents and found.gap == 0.0


@pytest.mark.parametrize("seed", range(20))
def test_the_best_fit_meets_most_requirements_then_costs_least(seed: int) -> None:
    catalog = random_catalog(seed, option_count=7)
    requirements = random_requirements(seed)
    requirements = Requirements(requirements.users + 2, MODULES, requirements.deployment,
                                requirements.region)
    valid = valid_configurations(catalog, requirements)
    found = recommend(catalog, requirements, "fit", DAY)
    if not valid:
        assert found.configuration is None
        return
    assert found.configuration is not None
    picks = found.configuration.picked()
    assert validate(catalog, found.configuration, DAY).valid
    best = min((shortfall(catalog, c, requirements), cost(catalog, c)) for c in valid)
    assert (shortfall(catalog, picks, requirements), cost(catalog, picks)) == best
    assert len(found.unmet) == best[0][0] + (1 if best[0][1] else 0)


def test_the_sample_recommendation_for_an_eu_cloud_buyer() -> None:
    catalog = load_catalog(SAMPLE)
    requirements = Requirements(users=120, modules=("forecasting", "sso", "encryption"),
                                deployment="cloud", region="eu")
    found = recommend(catalog, requirements, "cost", DAY)
    assert found.status == "optimal"
    assert found.configuration is not None
    picks = found.configuration.picked()
    assert picks["enterprise"] == 1 and picks["standard_seat"] == 120
    assert {"forecasting", "analytics", "sso", "byok", "hosting_eu", "cloud"} <= set(picks)
    assert found.configuration.attributes == {"deployment": "cloud", "region": "eu"}
    assert validate(catalog, found.configuration, DAY).valid


def test_a_module_nobody_sells_is_named_and_a_bad_objective_refused() -> None:
    catalog = load_catalog(SAMPLE)
    found = recommend(catalog, Requirements(users=5, modules=("teleport",)), "cost", DAY)
    assert found.status == "infeasible"
    assert found.unmet == ("teleport",)
    assert "provides teleport" in found.message
    with pytest.raises(ValueError, match="not one of cost, fit"):
        recommend(catalog, Requirements(), "cheap", DAY)
