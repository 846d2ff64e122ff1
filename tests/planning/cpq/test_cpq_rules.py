"""Every rule kind on the sample catalog, each with a configuration that keeps it and one that
breaks it; effects (selection proposes a change, validation blocks, alert only warns); pick
checks (quantity bounds, attribute values, product version windows); live flags."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from planning.cpq.catalog import Configuration, load_catalog
from planning.cpq.rules import PickChange
from planning.cpq.validate import flag_incompatible, incompatible_with, validate

SAMPLE = Path(__file__).resolve().parents[3] / "data" / "samples" / "cpq"
CATALOG = load_catalog(SAMPLE)
DAY = date(2026, 6, 1)
BASE = {"professional": 1, "standard_seat": 20, "cloud": 1, "hosting_us": 1,
        "standard_support": 1}
US_CLOUD = {"region": "us", "deployment": "cloud"}


def check(changes: dict[str, int], attributes: dict[str, str] | None = None,
          day: date = DAY) -> tuple[set[str], set[str]]:
    """(broken blocking rule ids, alert ids) of BASE with `changes` (0 removes a pick)."""
    picks = {k: v for k, v in {**BASE, **changes}.items() if v}
    found = validate(CATALOG, Configuration(picks, attributes or US_CLOUD), day)
    return {v.rule_id for v in found.violations}, {a.rule_id for a in found.alerts}


def test_the_base_configuration_is_valid() -> None:
    assert check({}) == (set(), set())


@pytest.mark.parametrize(("rule_id", "keeps", "breaks"), [
    ("forecasting_needs_analytics", {"forecasting": 1, "analytics": 1}, {"forecasting": 1}),
    ("cpq_needs_workflow", {"cpq_module": 1, "workflow": 1}, {"cpq_module": 1}),
    ("professional_no_byok", {"enterprise": 1, "professional": 0, "standard_seat": 100,
                              "sso": 1, "byok": 1}, {"byok": 1}),
    ("ai_not_on_prem", {"ai_assistant": 1, "analytics": 1},
     {"ai_assistant": 1, "analytics": 1, "cloud": 0, "hosting_us": 0, "on_prem": 1,
      "standard_support": 0, "premium_support": 1}),
    ("professional_min_seats", {"standard_seat": 10}, {"standard_seat": 9}),
    ("enterprise_min_seats", {"enterprise": 1, "professional": 0, "standard_seat": 60,
                              "power_seat": 40, "sso": 1},
     {"enterprise": 1, "professional": 0, "standard_seat": 60, "power_seat": 39, "sso": 1}),
    ("starter_max_seats", {"starter": 1, "professional": 0, "standard_seat": 25},
     {"starter": 1, "professional": 0, "standard_seat": 26}),
    ("sandbox_pro_max", {"sandbox": 1}, {"sandbox": 2}),
    ("one_edition", {}, {"enterprise": 1, "sso": 1}),
    ("one_edition", {}, {"professional": 0}),
    ("cloud_needs_hosting", {"hosting_us": 1}, {"hosting_us": 0}),
    ("cloud_needs_hosting", {}, {"hosting_eu": 1}),
    ("ai_regions", {"ai_assistant": 1, "analytics": 1},
     {"ai_assistant": 1, "analytics": 1, "hosting_us": 0, "hosting_apac": 1}),
    ("ai_launch", {"ai_assistant": 1, "analytics": 1}, {"ai_assistant": 1, "analytics": 1}),
])
def test_each_rule_kind_kept_and_broken(rule_id: str, keeps: dict[str, int],
                                        breaks: dict[str, int]) -> None:
    apac = {"region": "apac", "deployment": "cloud"}
    keep_day = DAY
    break_day = date(2026, 2, 1) if rule_id == "ai_launch" else DAY
    attributes = apac if rule_id == "ai_regions" else US_CLOUD
    assert rule_id not in check(keeps, US_CLOUD, keep_day)[0]
    assert rule_id in check(breaks, attributes, break_day)[0]


def test_a_selection_rule_proposes_its_change_and_a_validation_rule_does_not() -> None:
    found = validate(CATALOG, Configuration({**BASE, "forecasting": 1, "sandbox": 3},
                                            US_CLOUD), DAY)
    by_rule = {v.rule_id: v for v in found.violations}
    assert by_rule["forecasting_needs_analytics"].effect == "selection"
    assert by_rule["forecasting_needs_analytics"].changes == (
        PickChange("analytics", "add", 0, 1),)
    assert by_rule["forecasting_needs_analytics"].message == (
        "Forecasting module requires Analytics module.")
    assert by_rule["forecasting_needs_analytics"].fix == (
        "Add Analytics module, or remove Forecasting module.")
    assert by_rule["sandbox_pro_max"].effect == "validation"
    assert by_rule["sandbox_pro_max"].changes == ()
    assert "at most 1 allowed" in by_rule["sandbox_pro_max"].message
    assert found.suggested_changes == (PickChange("analytics", "add", 0, 1),)
    assert not found.valid


def test_a_selection_excludes_rule_proposes_the_removal_with_its_own_words() -> None:
    picks = {"professional": 1, "standard_seat": 20, "on_prem": 1, "hosting_eu": 1,
             "premium_support": 1}
    found = validate(CATALOG, Configuration(picks, {"region": "eu", "deployment": "on_prem"}),
                     DAY)
    (violation,) = found.violations
    assert violation.rule_id == "on_prem_no_hosting"
    assert violation.message.startswith("On-premises installs run in the customer's data")
    assert violation.changes == (PickChange("hosting_eu", "remove", 1, 0),)


def test_an_alert_warns_without_blocking() -> None:
    broken, alerts = check({"enterprise": 1, "professional": 0, "standard_seat": 100, "sso": 1})
    assert broken == set()
    assert alerts == {"enterprise_support_alert"}
    found = validate(CATALOG, Configuration({**BASE, "viewer_seat": 5}, US_CLOUD), DAY)
    assert found.valid
    assert [a.message for a in found.alerts] == [
        "Viewer seats usually sell in packs of 10 or more."]


def test_attribute_rules_hold_when_the_attribute_is_not_stated() -> None:
    assert "ai_regions" not in check({"ai_assistant": 1, "analytics": 1}, {})[0]
    assert "residency_region" in check(
        {"eu_residency": 1, "hosting_us": 0, "hosting_eu": 1}, {"region": "us"})[0]


def test_pick_checks_quantity_attribute_version_window_and_unknown_options() -> None:
    broken, _ = check({"standard_seat": 6000, "hosting_eu": 1, "hosting_us": 0,
                       "mystery": 1, "professional": 0, "legacy_professional": 1})
    assert {"option:standard_seat:quantity", "option:hosting_eu:region", "unknown:mystery",
            "option:legacy_professional:validity"} <= broken
    assert "option:legacy_professional:validity" not in check(
        {"professional": 0, "legacy_professional": 1}, US_CLOUD, date(2025, 6, 1))[0]
    found = validate(CATALOG, Configuration({**BASE, "legacy_professional": 1}, US_CLOUD), DAY)
    words = {v.rule_id: v.message for v in found.violations}
    assert words["option:legacy_professional:validity"] == (
        "Professional edition 2025 belongs to Nimbus Platform version 2025.2, which cannot be "
        "sold on 2026-06-01 (sellable from 2025-01-01 to 2025-12-31).")


def test_validation_records_the_catalog_and_rule_versions() -> None:
    found = validate(CATALOG, Configuration(BASE, US_CLOUD), DAY)
    assert found.catalog_version == CATALOG.catalog_version
    assert found.rule_versions["enterprise_min_seats"] == "2"
    assert len(found.rule_versions) == len(CATALOG.rules)


def test_incompatible_with_flags_only_the_conflicts_a_new_pick_adds() -> None:
    configuration = Configuration(
        {"starter": 1, "standard_seat": 10, "cloud": 1, "hosting_us": 1}, US_CLOUD)
    assert {v.rule_id for v in incompatible_with(CATALOG, configuration, "sso", DAY)} == {
        "starter_no_sso"}
    assert {v.rule_id for v in incompatible_with(CATALOG, configuration, "professional",
                                                 DAY)} == {"one_edition"}
    assert incompatible_with(CATALOG, configuration, "forecasting", DAY) == ()
    assert incompatible_with(CATALOG, configuration, "standard_support", DAY) == ()
    assert {v.rule_id for v in incompatible_with(CATALOG, configuration, "hosting_eu",
                                                 DAY)} == {"option:hosting_eu:region",
                                                           "cloud_needs_hosting"}
    flags = flag_incompatible(CATALOG, configuration, DAY)
    assert "sso" in flags and "analytics" not in flags and "starter" not in flags
    assert {v.rule_id for v in flags["api_access"]} == {"starter_api_alert"}
