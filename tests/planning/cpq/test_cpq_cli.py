"""`revplan cpq validate` and `revplan cpq recommend` on the sample catalog: JSON in, text or
JSON out, exit status by outcome, and one line for every input a person can get wrong."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from planning.cli import main

SAMPLE = str(Path(__file__).resolve().parents[3] / "data" / "samples" / "cpq")


def _write(path: Path, data: object) -> str:
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)
    return str(path)


def test_validate_json_names_broken_rules_and_the_smallest_fix(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    quote = _write(tmp_path / "quote.json", {
        "picks": {"starter": 1, "standard_seat": 30, "cloud": 1, "hosting_eu": 1,
                  "standard_support": 1, "forecasting": 1},
        "attributes": {"region": "eu", "deployment": "cloud"}, "on_day": "2026-06-01"})
    assert main(["cpq", "validate", "--catalog", SAMPLE, "--quote", quote, "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["valid"] is False
    assert report["on_day"] == "2026-06-01"
    assert {v["rule_id"] for v in report["violations"]} == {
        "starter_max_seats", "forecasting_needs_analytics"}
    assert report["suggested_changes"] == [
        {"option_id": "analytics", "action": "add", "from_qty": 0, "to_qty": 1,
         "text": "add Analytics module (1)"}]
    changes = {(c["option_id"], c["action"], c["to_qty"])
               for c in report["minimal_diagnosis"]["changes"]}
    assert changes == {("standard_seat", "set_qty", 25), ("analytics", "add", 1)}


def test_validate_text_of_a_valid_quote_exits_zero(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    quote = _write(tmp_path / "quote.json", {
        "lines": [{"option_id": "professional", "qty": 1},
                  {"option_id": "standard_seat", "qty": 40},
                  {"option_id": "cloud"}, {"option_id": "hosting_us"},
                  {"option_id": "standard_support"}],
        "attributes": {"region": "us", "deployment": "cloud"}})
    assert main(["cpq", "validate", "--catalog", SAMPLE, "--quote", quote,
                 "--on", "2026-06-01"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Configuration valid (catalog ")


def test_recommend_json_is_the_cheapest_valid_configuration(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    requirements = _write(tmp_path / "req.json", {
        "users": 40, "modules": ["analytics", "sso"], "deployment": "cloud", "region": "eu",
        "on_day": "2026-06-01"})
    assert main(["cpq", "recommend", "--catalog", SAMPLE, "--requirements", requirements,
                 "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["status"] == "optimal"
    assert report["gap"] == 0.0
    picks = {p["option_id"]: p["qty"] for p in report["picks"]}
    assert picks == {"professional": 1, "standard_seat": 40, "cloud": 1, "hosting_eu": 1,
                     "analytics": 1, "sso": 1, "standard_support": 1}
    assert report["cost_cents"] == sum(p["cost_cents"] for p in report["picks"]) == 320000
    assert report["objective"] == 320000


def test_recommend_fit_names_what_it_cannot_meet(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    requirements = _write(tmp_path / "req.json", {
        "users": 20, "modules": ["ai", "analytics"], "deployment": "on_prem",
        "objective": "fit"})
    assert main(["cpq", "recommend", "--catalog", SAMPLE, "--requirements", requirements,
                 "--on", "2026-06-01"]) == 0
    out = capsys.readouterr().out
    assert "Analytics module (analytics) x 1" in out
    assert "Not met: ai" in out
    assert main(["cpq", "recommend", "--catalog", SAMPLE, "--requirements", requirements,
                 "--on", "2026-06-01", "--objective", "cost"]) == 1
    assert "No recommendation (infeasible)" in capsys.readouterr().out


@pytest.mark.parametrize(("content", "expected"), [
    ("{not json", "not valid JSON (line 1, column 2"),
    ({"picks": {"starter": "one"}}, "picks.starter: 'one' is not a whole number"),
    ({"picks": {"starter": 1}, "on_day": "June"}, "on_day: 'June' is not a date"),
    ({"items": []}, "needs \"picks\""),
    ([1, 2], "expected a JSON object"),
])
def test_a_bad_quote_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                      content: object, expected: str) -> None:
    quote = _write(tmp_path / "quote.json", content)
    assert main(["cpq", "validate", "--catalog", SAMPLE, "--quote", quote]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and expected in err
    assert err.count("\n") == 1


def test_bad_requirements_and_catalog_are_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    requirements = _write(tmp_path / "req.json", {"users": 10, "seats": 5})
    assert main(["cpq", "recommend", "--catalog", SAMPLE, "--requirements", requirements]) == 2
    assert "unknown field 'seats'" in capsys.readouterr().err
    good = _write(tmp_path / "good.json", {"users": 10})
    assert main(["cpq", "recommend", "--catalog", str(tmp_path), "--requirements", good]) == 2
    err = capsys.readouterr().err
    assert "products.csv: file missing" in err and err.count("\n") == 1
    assert main(["cpq", "recommend", "--catalog", SAMPLE, "--requirements", good,
                 "--on", "someday"]) == 2
    assert "--on 'someday' is not a date" in capsys.readouterr().err
