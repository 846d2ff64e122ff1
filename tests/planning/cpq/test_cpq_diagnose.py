"""The minimal diagnosis changes as few picks as the smallest change found by trying every
configuration of small random catalogs, and the changed configuration is valid."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from planning.cpq.catalog import Configuration, load_catalog
from planning.cpq.diagnose import apply_changes, diagnose
from planning.cpq.validate import validate
from tests.planning.cpq.small_catalogs import DAY, every_configuration, random_catalog

SAMPLE = Path(__file__).resolve().parents[3] / "data" / "samples" / "cpq"


def changed_count(before: dict[str, int], after: dict[str, int]) -> int:
    return sum(1 for o in set(before) | set(after) if before.get(o, 0) != after.get(o, 0))


@pytest.mark.parametrize("seed", range(40))
def test_diagnosis_is_as_small_as_brute_force(seed: int) -> None:
    catalog = random_catalog(seed, option_count=7)
    rng = random.Random(1000 + seed)
    attributes = {"region": rng.choice(("a", "b"))}
    everything = list(every_configuration(catalog))
    picks = rng.choice(everything)
    configuration = Configuration(picks, attributes)
    valid = [c for c in everything
             if validate(catalog, Configuration(c, attributes), DAY).valid]
    diagnosis = diagnose(catalog, configuration, DAY)
    if not valid:
        assert diagnosis.status == "infeasible"
        assert not diagnosis.found
        return
    smallest = min(changed_count(picks, c) for c in valid)
    assert diagnosis.status == "optimal"
    assert len(diagnosis.changes) == smallest
    fixed = apply_changes(configuration, diagnosis.changes)
    assert validate(catalog, fixed, DAY).valid
    assert changed_count(picks, fixed.picked()) == smallest


def test_a_valid_configuration_needs_no_change_and_unknown_picks_are_removed() -> None:
    catalog = load_catalog(SAMPLE)
    base = {"professional": 1, "standard_seat": 20, "cloud": 1, "hosting_us": 1,
            "standard_support": 1}
    attributes = {"region": "us", "deployment": "cloud"}
    diagnosis = diagnose(catalog, Configuration(base, attributes), DAY)
    assert diagnosis.changes == ()
    assert diagnosis.describe(catalog) == "No change needed: the configuration is valid."
    diagnosis = diagnose(catalog, Configuration({**base, "gizmo": 2}, attributes), DAY)
    assert [(c.option_id, c.action) for c in diagnosis.changes] == [("gizmo", "remove")]


def test_diagnosis_on_the_sample_keeps_what_it_can_and_words_the_fix() -> None:
    catalog = load_catalog(SAMPLE)
    picks = {"starter": 1, "standard_seat": 30, "cloud": 1, "hosting_eu": 1,
             "standard_support": 1, "forecasting": 1, "sso": 1}
    configuration = Configuration(picks, {"region": "eu", "deployment": "cloud"})
    diagnosis = diagnose(catalog, configuration, DAY)
    assert len(diagnosis.changes) == 3
    assert validate(catalog, apply_changes(configuration, diagnosis.changes), DAY).valid
    assert diagnosis.describe(catalog).startswith("Smallest fix (3 changes): ")


def test_no_pick_change_can_fix_a_configuration_an_attribute_rules_out() -> None:
    catalog = load_catalog(SAMPLE)
    configuration = Configuration({"starter": 1, "standard_seat": 5, "on_prem": 1},
                                  {"deployment": "on_prem", "region": "us"})
    diagnosis = diagnose(catalog, configuration, DAY)
    assert diagnosis.found
    configuration = Configuration({"starter": 1}, {"deployment": "mainframe"})
    diagnosis = diagnose(catalog, configuration, DAY)
    assert diagnosis.status == "infeasible"
    assert "change an attribute" in diagnosis.describe(catalog)
