"""The realistic-export builder writes the files the issue describes, trait by trait."""

from __future__ import annotations

import csv
import datetime as dt
import tomllib
from pathlib import Path

import pytest

from tests.realistic_exports import DATE_FORMATS, write_crm_export


def _rows(path: Path, delimiter: str = ",") -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter=delimiter))


def test_default_export_has_the_data_sets_shape(tmp_path: Path) -> None:
    export = write_crm_export(tmp_path, deals=500, seed=3)
    teams = _rows(export.sales_teams)
    accounts = _rows(export.accounts)
    deals = _rows(export.sales_pipeline)

    assert list(teams[0]) == ["sales_agent", "manager", "regional_office"]
    assert len(teams) == export.reps
    managers = {row["manager"] for row in teams}
    assert len(managers) == export.managers
    assert not managers & {row["sales_agent"] for row in teams}, "managers exist only as names"

    assert list(accounts[0]) == ["account", "sector", "year_established", "revenue",
                                 "employees", "office_location"]
    assert len(accounts) == export.account_count
    assert "United States" in {row["office_location"] for row in accounts}

    assert len(deals) == 500 == export.deals
    lost = [row for row in deals if row["deal_stage"] == "Lost"]
    won = [row for row in deals if row["deal_stage"] == "Won"]
    open_deals = [row for row in deals if row["deal_stage"] in ("Prospecting", "Engaging")]
    assert (len(won), len(lost), len(open_deals)) == (export.won, export.lost, export.open_deals)
    assert lost and all(row["close_value"] == "0" for row in lost)
    assert won and all(int(row["close_value"]) > 0 for row in won)
    assert open_deals and all(row["close_date"] == row["close_value"] == ""
                              for row in open_deals)
    prospecting = [row for row in deals if row["deal_stage"] == "Prospecting"]
    assert all(row["engage_date"] == "" for row in prospecting)
    no_account = [row for row in deals if row["account"] == ""]
    assert len(no_account) == export.open_without_account > 0
    assert all(row["deal_stage"] == "Prospecting" for row in no_account)

    closes = [dt.date.fromisoformat(row["close_date"]) for row in won + lost]
    engages = [dt.date.fromisoformat(row["engage_date"]) for row in deals if row["engage_date"]]
    assert min(engages) >= dt.date(2016, 10, 1) and max(closes) <= dt.date(2017, 12, 31)
    assert max(closes) == export.newest_close
    assert len({row["opportunity_id"] for row in deals}) == len(deals)


@pytest.mark.parametrize("style", ["us", "dmy2", "eu"])
def test_date_styles(tmp_path: Path, style: str) -> None:
    export = write_crm_export(tmp_path, deals=300, date_style=style)
    days = [row["close_date"] for row in _rows(export.sales_pipeline) if row["close_date"]]
    parsed = [dt.datetime.strptime(day, DATE_FORMATS[style]).date() for day in days]
    assert all(dt.date(2016, 10, 1) <= day <= dt.date(2017, 12, 31) for day in parsed)
    if style == "dmy2":
        assert all(len(day) == 8 for day in days)


def test_european_file_uses_semicolons_and_decimal_commas(tmp_path: Path) -> None:
    export = write_crm_export(tmp_path, deals=300, delimiter=";", date_style="eu")
    assert ";" in export.accounts.read_text(encoding="utf-8").splitlines()[0]
    accounts = _rows(export.accounts, ";")
    assert all("," in row["revenue"] and "." not in row["revenue"] for row in accounts)
    won = [row for row in _rows(export.sales_pipeline, ";") if row["deal_stage"] == "Won"]
    assert all(row["close_value"].endswith(",00") for row in won)
    mapping = tomllib.loads(export.mapping.read_text(encoding="utf-8"))
    assert mapping["decimal_separator"] == ","


def test_location_variants_and_mapping(tmp_path: Path) -> None:
    city_only = write_crm_export(tmp_path / "a", deals=300, locations="city_state")
    rows = _rows(city_only.accounts)
    assert "office_location" not in rows[0] and all(row["city"] and row["state"] for row in rows)
    mapping = tomllib.loads(city_only.mapping.read_text(encoding="utf-8"))
    entities = {entry["entity"]: entry for entry in mapping["mapping"]}
    assert set(entities) == {"reps", "accounts", "opportunities"}
    assert entities["accounts"]["columns"]["city"] == "city"
    assert "country" not in entities["accounts"]["columns"]
    deals = entities["opportunities"]
    assert deals["columns"]["amount"] == "close_value"
    assert deals["values"]["status"] == {"Won": "won", "Lost": "lost", "*": "open"}
    assert entities["reps"]["columns"]["manager_id"] == "manager"

    mixed = write_crm_export(tmp_path / "b", deals=300, locations="mixed")
    rows = _rows(mixed.accounts)
    assert any(row["city"] for row in rows) and any(not row["city"] for row in rows)
    assert all(row["city"] == "" or row["office_location"] == "United States" for row in rows)


def test_no_leak_option_and_seed_determinism(tmp_path: Path) -> None:
    clean = write_crm_export(tmp_path / "a", deals=300, lost_value_zero=False)
    lost = [row for row in _rows(clean.sales_pipeline) if row["deal_stage"] == "Lost"]
    assert all(int(row["close_value"]) > 0 for row in lost)
    again = write_crm_export(tmp_path / "b", deals=300, lost_value_zero=False)
    assert clean.sales_pipeline.read_bytes() == again.sales_pipeline.read_bytes()
