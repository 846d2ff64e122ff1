"""Reading a catalog folder: the sample catalog, and one clear line for each kind of bad cell."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest

from planning.cpq.catalog import CatalogError, load_catalog

SAMPLE = Path(__file__).resolve().parents[3] / "data" / "samples" / "cpq"


def test_sample_catalog_loads_with_every_rule_kind_and_effect() -> None:
    catalog = load_catalog(SAMPLE)
    assert len(catalog.options) == 31
    assert len(catalog.rules) == 41
    assert {r.kind for r in catalog.rules} == {
        "requires", "excludes", "min_qty", "max_qty", "one_of", "attribute", "validity"}
    assert {r.effect for r in catalog.rules} == {"selection", "validation", "alert"}
    assert catalog.option("ai_assistant").attributes == {"deployment": ("cloud", "private_cloud")}
    assert catalog.option("round_the_clock").provides == ("premium_support", "24x7")
    assert catalog.product("platform_2025").valid_to == date(2025, 12, 31)
    assert catalog.bundles[0].components["standard_seat"] == 10
    assert catalog.rule("enterprise_min_seats").version == "2"
    assert {r.rule_id for r in catalog.rules_about("analytics")} >= {
        "forecasting_needs_analytics", "ai_needs_analytics"}


def test_catalog_version_is_the_same_for_the_same_files_and_changes_with_them(
        tmp_path: Path) -> None:
    copy = tmp_path / "catalog"
    shutil.copytree(SAMPLE, copy)
    assert load_catalog(copy).catalog_version == load_catalog(SAMPLE).catalog_version
    with (copy / "rules.csv").open("a") as rules:
        rules.write("extra,requires,selection,sso,audit_log,,,,,,,1\n")
    assert load_catalog(copy).catalog_version != load_catalog(SAMPLE).catalog_version
    assert load_catalog(copy, "2026.06").catalog_version == "2026.06"


def _broken(tmp_path: Path, file: str, old: str, new: str) -> str:
    copy = tmp_path / "catalog"
    shutil.copytree(SAMPLE, copy)
    path = copy / file
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    with pytest.raises(CatalogError) as caught:
        load_catalog(copy)
    message = str(caught.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize(("file", "old", "new", "expected"), [
    ("rules.csv", "one_edition,one_of", "one_edition,one_off",
     "rules.csv: row 2, column 'kind': 'one_off' is not one of"),
    ("rules.csv", "one_edition,one_of,validation", "one_edition,one_of,block",
     "rules.csv: row 2, column 'effect'"),
    ("rules.csv", "starter|professional|enterprise", "starter|pro|enterprise",
     "rules.csv: row 2, column 'subjects': 'pro' is not an option"),
    ("rules.csv", "forecasting,analytics,,", "forecasting,analytics,,,",
     "rules.csv: row 15: more cells than header columns"),
    ("rules.csv", "ai_needs_analytics,requires,selection,ai_assistant",
     "ai_needs_analytics,requires,selection,",
     "rules.csv: row 16, column 'when': a requires rule needs the option that triggers it"),
    ("rules.csv", "professional,standard_seat|power_seat,10,",
     "professional,standard_seat|power_seat,ten,",
     "rules.csv: row 9, column 'value': 'ten' is not a whole number"),
    ("rules.csv", "2026-03-01", "March 2026", "column 'valid_from': 'March 2026' is not a date"),
    ("options.csv", "standard_seat,platform,Standard user seat,seats,seat,1,5000",
     "standard_seat,platform,Standard user seat,seats,seat,1,lots",
     "options.csv: row 6, column 'max_qty': 'lots' is not a whole number"),
    ("options.csv", "professional,platform,", "starter,platform,",
     "options.csv: row 3, column 'option_id': 'starter' appears twice"),
    ("options.csv", "analytics,modules,", "analytics,addons,",
     "options.csv: row 15, column 'product_id': 'addons' is not a product"),
    ("options.csv", "deployment=cloud,\n", "deployment cloud,\n",
     "options.csv: row 9, column 'attributes'"),
    ("products.csv", "product_id,name", "product,name",
     "products.csv: row 1: column 'product_id' missing from the header"),
    ("bundles.csv", "starter:1|", "starter_edition:1|",
     "bundles.csv: row 2, column 'components': 'starter_edition' is not an option"),
])
def test_a_bad_cell_is_one_line_naming_file_row_and_column(
        tmp_path: Path, file: str, old: str, new: str, expected: str) -> None:
    assert expected in _broken(tmp_path, file, old, new)


def test_a_missing_folder_or_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="not a folder"):
        load_catalog(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CatalogError, match="products.csv: file missing"):
        load_catalog(tmp_path / "empty")
