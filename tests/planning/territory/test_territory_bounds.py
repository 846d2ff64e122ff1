"""Territory settings and file amounts out of their documented range: one line naming the
input, the value and the range, exit status 2 on the command line."""

from __future__ import annotations

from pathlib import Path

import pytest

from planning.bounds import InputRangeError
from planning.cli import main
from planning.territory.problem import TerritoryScenario
from planning.territory.validation import TerritoryInputError, read_territory_csv


def write_inputs(folder: Path, workload: str = "5", capacity: str = "1") -> tuple[Path, Path]:
    units, reps = folder / "units.csv", folder / "reps.csv"
    units.write_text("unit_id,lat,lon,workload\nU1,40.7,-74.0,5\n"
                     f"U2,40.8,-73.9,{workload}\nU3,41.0,-73.5,5\n", encoding="utf-8")
    reps.write_text(f"rep_id,lat,lon,capacity\nR1,40.7,-74.0,{capacity}\n"
                    "R2,41.0,-73.6,1\n", encoding="utf-8")
    return units, reps


@pytest.mark.parametrize(("option", "value", "words"), [
    ("--tolerance", "nan", "tolerance nan is out of range: give a number at least 0 and below 1."),
    ("--tolerance", "inf", "tolerance inf is out of range"),
    ("--tolerance", "-0.1", "tolerance -0.1 is out of range"),
    ("--tolerance", "1e17", "tolerance 1e+17 is out of range"),
    ("--disruption-weight", "1e30", "disruption weight 1e+30 is out of range: give a number "
     "from 0 to 1,000,000,000,000."),
    ("--disruption-weight", "nan", "disruption weight nan is out of range"),
    ("--disruption-weight", "-1", "disruption weight -1 is out of range"),
    ("--time-limit", "0",
     "time limit 0 is out of range: give a number above 0 and at most 86,400."),
    ("--time-limit", "inf", "time limit inf is out of range"),
    ("--time-limit", "1e17", "time limit 1e+17 is out of range"),
    ("--gap", "nan", "relative gap nan is out of range"),
    ("--gap", "-1", "relative gap -1 is out of range"),
    ("--max-moves", "-1", "max moves per rep -1 is out of range"),
    ("--max-moves", "10000000", "max moves per rep 10,000,000 is out of range"),
])
def test_a_bad_setting_exits_2_with_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], option: str, value: str,
        words: str) -> None:
    units, reps = write_inputs(tmp_path)
    code = main(["territory", "solve", "--units", str(units), "--reps", str(reps),
                 option, value])
    captured = capsys.readouterr()
    assert code == 2, captured.out
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith(f"error: {words}"), lines[0]


@pytest.mark.parametrize(("settings", "words"), [
    ({"candidates": 0}, "candidates per unit 0 is out of range"),
    ({"candidates": 10**6}, "candidates per unit 1,000,000 is out of range"),
    ({"rel_gap": 1.0}, "relative gap 1 is out of range"),
])
def test_the_scenario_refuses_what_the_page_could_send(settings: dict, words: str) -> None:
    with pytest.raises(InputRangeError, match=f"^{words}"):
        TerritoryScenario(**settings)


@pytest.mark.parametrize(("workload", "capacity", "words"), [
    ("1e17", "1", "units.csv, row 3: workload 1e+17 is out of range: give a number from 0 to "
     "1e+12"),
    ("5", "1e30", "reps.csv, row 2: capacity 1e+30 must be above 0 and at most 1000"),
    ("5", "0", "reps.csv, row 2: capacity 0 must be above 0 and at most 1000"),
    ("inf", "1", "units.csv, row 3: column 'workload' is 'inf', not a number"),
    ("nan", "1", "units.csv, row 3: column 'workload' is 'nan', not a number"),
])
def test_a_file_amount_out_of_range_names_the_row(
        tmp_path: Path, workload: str, capacity: str, words: str) -> None:
    units, reps = write_inputs(tmp_path, workload=workload, capacity=capacity)
    with pytest.raises(TerritoryInputError) as caught:
        read_territory_csv(units, reps)
    assert str(caught.value) == f"{tmp_path}/{words}"
