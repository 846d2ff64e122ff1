"""Reading territory CSV files: every bad input is refused with the file, the row and why."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from planning.errors import RevPlanError
from planning.territory.validation import (
    TerritoryInputError,
    read_territory_csv,
    territory_problem,
)

UNIT_HEADER = ["unit_id", "lat", "lon", "workload", "current_rep_id", "locked"]
UNIT_ROWS = [
    ["U1", "40.0", "-100.0", "5", "R1", "no"],
    ["U2", "41.0", "-99.0", "3", "R2", "no"],
    ["U3", "42.0", "-98.0", "4", "", "no"],
    ["U4", "43.0", "-97.0", "2", "R1", "yes"],
]
REP_HEADER = ["rep_id", "lat", "lon", "capacity"]
REP_ROWS = [
    ["R1", "40.0", "-100.0", "1"],
    ["R2", "42.0", "-98.0", "1"],
    ["R3", "44.0", "-96.0", "0.5"],
]
DROP = object()
"""Marks a column to leave out of the file."""


def csv_text(header: list[str], rows: list[list[str]]) -> str:
    return "".join(",".join(line) + "\n" for line in [header, *rows])


def edited(header: list[str], rows: list[list[str]], row: int | None, column: str,
           value: object) -> str:
    """The table with one cell set (row None: the column dropped from every line)."""
    if value is DROP:
        keep = [i for i, name in enumerate(header) if name != column]
        return csv_text([header[i] for i in keep], [[line[i] for i in keep] for line in rows])
    rows = [list(line) for line in rows]
    rows[row][header.index(column)] = str(value)
    return csv_text(header, rows)


def present(column: pd.Series) -> list[object]:
    """The column's values with every missing marker shown as None."""
    return [None if pd.isna(v) else v for v in column]


def write_inputs(tmp_path: Path, units: str | None = None, reps: str | None = None
                 ) -> tuple[Path, Path]:
    units_path, reps_path = tmp_path / "units.csv", tmp_path / "reps.csv"
    units_path.write_text(csv_text(UNIT_HEADER, UNIT_ROWS) if units is None else units,
                          encoding="utf-8")
    reps_path.write_text(csv_text(REP_HEADER, REP_ROWS) if reps is None else reps,
                         encoding="utf-8")
    return units_path, reps_path


def test_the_base_files_are_valid(tmp_path: Path) -> None:
    problem = read_territory_csv(*write_inputs(tmp_path))
    assert problem.unit_count == 4 and problem.rep_count == 3


# (file, data row index (0 = first data row), column, new value, problem words)
ROW_CASES = [
    pytest.param("units", 1, "unit_id", "U1", "duplicate unit_id 'U1' (first on row 2)",
                 id="duplicate-unit-id"),
    pytest.param("reps", 2, "rep_id", "R2", "duplicate rep_id 'R2' (first on row 3)",
                 id="duplicate-rep-id"),
    pytest.param("units", 2, "unit_id", "", "'unit_id' is empty", id="empty-unit-id"),
    pytest.param("units", 2, "workload", "-1", "workload -1 is negative",
                 id="negative-workload"),
    pytest.param("units", 1, "current_rep_id", "R9", "current_rep_id 'R9' is not in",
                 id="unknown-current-rep"),
    pytest.param("units", 2, "lat", "", "column 'lat' is empty, not a number",
                 id="empty-latitude"),
    pytest.param("units", 1, "lat", "NaN", "column 'lat' is 'NaN', not a number",
                 id="nan-latitude"),
    pytest.param("units", 3, "lat", "91", "latitude 91 is outside -90..90",
                 id="latitude-91"),
    pytest.param("units", 0, "lat", "-90.5", "latitude -90.5 is outside -90..90",
                 id="latitude-minus-90.5"),
    pytest.param("units", 2, "lon", "200", "longitude 200 is outside -180..180",
                 id="longitude-200"),
    pytest.param("reps", 1, "lon", "-181", "longitude -181 is outside -180..180",
                 id="rep-longitude--181"),
    pytest.param("reps", 2, "lat", "north", "column 'lat' is 'north', not a number",
                 id="rep-latitude-word"),
    pytest.param("units", 1, "workload", "abc", "column 'workload' is 'abc', not a number",
                 id="workload-abc"),
    pytest.param("units", 3, "workload", "inf", "column 'workload' is 'inf', not a number",
                 id="workload-inf"),
    pytest.param("reps", 1, "capacity", "0", "capacity 0 must be above 0", id="capacity-0"),
    pytest.param("reps", 2, "capacity", "-2", "capacity -2 must be above 0",
                 id="capacity-negative"),
    pytest.param("reps", 0, "capacity", "lots", "column 'capacity' is 'lots', not a number",
                 id="capacity-word"),
    pytest.param("units", 2, "locked", "maybe", "'locked' is 'maybe'", id="locked-maybe"),
    pytest.param("units", 2, "locked", "yes", "a locked unit needs a current_rep_id",
                 id="locked-without-rep"),
]


@pytest.mark.parametrize(("which", "row", "column", "value", "words"), ROW_CASES)
def test_a_bad_cell_names_the_file_the_row_and_the_problem(
    tmp_path: Path, which: str, row: int, column: str, value: str, words: str
) -> None:
    if which == "units":
        units_path, reps_path = write_inputs(
            tmp_path, units=edited(UNIT_HEADER, UNIT_ROWS, row, column, value))
    else:
        units_path, reps_path = write_inputs(
            tmp_path, reps=edited(REP_HEADER, REP_ROWS, row, column, value))
    path = units_path if which == "units" else reps_path
    with pytest.raises(TerritoryInputError) as caught:
        read_territory_csv(units_path, reps_path)
    message = str(caught.value)
    assert message.startswith(f"{path}, row {row + 2}: "), message
    assert words in message
    assert isinstance(caught.value, RevPlanError)


def test_an_unknown_current_rep_names_the_reps_file(tmp_path: Path) -> None:
    units_path, reps_path = write_inputs(
        tmp_path, units=edited(UNIT_HEADER, UNIT_ROWS, 3, "current_rep_id", "R7"))
    with pytest.raises(TerritoryInputError) as caught:
        read_territory_csv(units_path, reps_path)
    assert str(caught.value) == (f"{units_path}, row 5: current_rep_id 'R7' is not in "
                                 f"{reps_path}")


@pytest.mark.parametrize(("which", "column"), [
    pytest.param("units", "workload", id="units-without-workload"),
    pytest.param("units", "unit_id", id="units-without-unit_id"),
    pytest.param("units", "lat", id="units-without-lat"),
    pytest.param("units", "lon", id="units-without-lon"),
    pytest.param("reps", "rep_id", id="reps-without-rep_id"),
    pytest.param("reps", "lon", id="reps-without-lon"),
])
def test_a_missing_column_names_the_file_and_the_column(
    tmp_path: Path, which: str, column: str
) -> None:
    if which == "units":
        units_path, reps_path = write_inputs(
            tmp_path, units=edited(UNIT_HEADER, UNIT_ROWS, None, column, DROP))
    else:
        units_path, reps_path = write_inputs(
            tmp_path, reps=edited(REP_HEADER, REP_ROWS, None, column, DROP))
    path = units_path if which == "units" else reps_path
    with pytest.raises(TerritoryInputError) as caught:
        read_territory_csv(units_path, reps_path)
    assert str(caught.value) == f"{path}: missing column '{column}'"


@pytest.mark.parametrize("which", ["units", "reps"])
def test_an_empty_file_is_refused_by_name(tmp_path: Path, which: str) -> None:
    units_path, reps_path = write_inputs(tmp_path, **{which: ""})
    path = units_path if which == "units" else reps_path
    assert path.stat().st_size == 0
    with pytest.raises(TerritoryInputError) as caught:
        read_territory_csv(units_path, reps_path)
    assert str(caught.value) == f"{path}: the file is empty"


@pytest.mark.parametrize(("which", "words"), [("units", "no units"), ("reps", "no reps")])
def test_a_header_without_rows_is_refused(tmp_path: Path, which: str, words: str) -> None:
    header = UNIT_HEADER if which == "units" else REP_HEADER
    units_path, reps_path = write_inputs(tmp_path, **{which: csv_text(header, [])})
    path = units_path if which == "units" else reps_path
    with pytest.raises(TerritoryInputError) as caught:
        read_territory_csv(units_path, reps_path)
    assert str(caught.value) == f"{path}: {words}"


def test_a_missing_file_is_refused_by_name(tmp_path: Path) -> None:
    units_path, reps_path = write_inputs(tmp_path)
    missing = tmp_path / "nowhere.csv"
    with pytest.raises(TerritoryInputError) as caught:
        read_territory_csv(units_path, missing)
    assert str(caught.value) == f"{missing}: no such file"


def test_zero_total_workload_is_refused(tmp_path: Path) -> None:
    rows = [[*line[:3], "0", *line[4:]] for line in UNIT_ROWS]
    units_path, reps_path = write_inputs(tmp_path, units=csv_text(UNIT_HEADER, rows))
    with pytest.raises(TerritoryInputError) as caught:
        read_territory_csv(units_path, reps_path)
    assert str(caught.value) == f"{units_path}: the total workload is 0; nothing to balance"


def test_good_input_is_normalised(tmp_path: Path) -> None:
    units = (
        "Unit_ID, LAT, Lon, Workload, current_rep_id, locked, segment\n"
        "01001, 40.5, -100.25, 5, R1, yes, Enterprise\n"
        "01002, 41, -99, 3.5, R2, no,\n"
        "01003, 42, -98, 4, , 0,\n"
        "01004, 43, -97, 2, R1, 1, Enterprise\n"
        "01005, -89.9, 179.9, 0, R2, TRUE,\n"
        "01006, 0, 0, 1, R2, false,\n"
        "01007, 1, 1, 1, , ,\n"
    )
    reps = "rep_id,lat,lon\nR1,40,-100\nR2,-42.5,98\n"
    problem = read_territory_csv(*write_inputs(tmp_path, units=units, reps=reps))
    frame = problem.units
    assert list(frame["unit_id"]) == [f"0100{i}" for i in range(1, 8)]
    assert frame["lat"].tolist() == [40.5, 41.0, 42.0, 43.0, -89.9, 0.0, 1.0]
    assert frame["lon"].tolist() == [-100.25, -99.0, -98.0, -97.0, 179.9, 0.0, 1.0]
    assert frame["workload"].tolist() == [5.0, 3.5, 4.0, 2.0, 0.0, 1.0, 1.0]
    assert frame["locked"].tolist() == [True, False, False, True, True, False, False]
    assert present(frame["current_rep_id"]) == ["R1", "R2", None, "R1", "R2", "R2", None]
    assert problem.current.tolist() == [0, 1, -1, 0, 1, 1, -1]
    assert present(frame["segment"]) == ["Enterprise", None, None, "Enterprise", None, None,
                                        None]
    assert frame["value"].tolist() == frame["workload"].tolist()
    assert problem.reps["capacity"].tolist() == [1.0, 1.0]
    assert problem.reps["lat"].tolist() == [40.0, -42.5]
    assert problem.target.tolist() == pytest.approx([8.25, 8.25], rel=1e-12)


@pytest.mark.parametrize(("word", "expected"), [
    ("yes", True), ("no", False), ("1", True), ("0", False), ("true", True),
    ("false", False), ("Yes", True), ("NO", False), ("True", True), ("FALSE", False),
    ("y", True), ("n", False), ("t", True), ("f", False), ("", False),
])
def test_locked_words(tmp_path: Path, word: str, expected: bool) -> None:
    units = edited(UNIT_HEADER, UNIT_ROWS, 1, "locked", word)
    problem = read_territory_csv(*write_inputs(tmp_path, units=units))
    assert problem.locked.tolist() == [False, expected, False, True]


def test_capacity_defaults_to_one_and_blank_capacity_too(tmp_path: Path) -> None:
    absent = edited(REP_HEADER, REP_ROWS, None, "capacity", DROP)
    problem = read_territory_csv(*write_inputs(tmp_path, reps=absent))
    assert problem.capacity.tolist() == [1.0, 1.0, 1.0]
    assert problem.target.tolist() == pytest.approx([14 / 3] * 3, rel=1e-12)
    blank = edited(REP_HEADER, REP_ROWS, 1, "capacity", "")
    problem = read_territory_csv(*write_inputs(tmp_path, reps=blank))
    assert problem.capacity.tolist() == [1.0, 1.0, 0.5]
    assert problem.target.tolist() == pytest.approx([5.6, 5.6, 2.8], rel=1e-12)


def test_a_value_column_is_used_where_given(tmp_path: Path) -> None:
    units = ("unit_id,lat,lon,workload,value\n"
             "U1,40,-100,5,7.5\n"
             "U2,41,-99,3,0\n")
    problem = read_territory_csv(*write_inputs(tmp_path, units=units))
    assert problem.value.tolist() == [7.5, 0.0]
    assert problem.workload.tolist() == [5.0, 3.0]


def test_a_negative_value_is_refused(tmp_path: Path) -> None:
    units = ("unit_id,lat,lon,workload,value\n"
             "U1,40,-100,5,7.5\n"
             "U2,41,-99,3,-1\n")
    units_path, reps_path = write_inputs(tmp_path, units=units)
    with pytest.raises(TerritoryInputError) as caught:
        read_territory_csv(units_path, reps_path)
    assert str(caught.value) == f"{units_path}, row 3: value -1 is negative"


def test_a_blank_value_cell_defaults_to_the_workload(tmp_path: Path) -> None:
    units = ("unit_id,lat,lon,workload,value\n"
             "U1,40,-100,5,7.5\n"
             "U2,41,-99,3,\n")
    problem = read_territory_csv(*write_inputs(tmp_path, units=units))
    assert problem.value.tolist() == [7.5, 3.0]


def test_the_row_counts_blank_lines_in_the_file(tmp_path: Path) -> None:
    units = ("unit_id,lat,lon,workload\n"
             "U1,40,-100,5\n"
             "\n"
             "U2,41,-99,3\n"
             "U3,95,-98,3\n")
    units_path, reps_path = write_inputs(tmp_path, units=units)
    with pytest.raises(TerritoryInputError) as caught:
        read_territory_csv(units_path, reps_path)
    assert str(caught.value).startswith(f"{units_path}, row 5: latitude 95")


def test_territory_problem_on_frames_uses_the_given_names() -> None:
    units = pd.DataFrame({"unit_id": ["A", "B"], "lat": [10.0, np.nan], "lon": [5.0, 6.0],
                          "workload": [1.0, 2.0]})
    reps = pd.DataFrame({"rep_id": ["R"], "lat": [10.0], "lon": [5.0]})
    with pytest.raises(TerritoryInputError) as caught:
        territory_problem(units, reps, units_name="accounts")
    assert str(caught.value) == "accounts, row 3: column 'lat' is empty, not a number"
    units.loc[1, "lat"] = 11.0
    problem = territory_problem(units, reps)
    assert problem.units["value"].tolist() == [1.0, 2.0]
    assert present(problem.units["current_rep_id"]) == [None, None]
    assert problem.units["locked"].tolist() == [False, False]
    assert problem.capacity.tolist() == [1.0]


def test_targets_within_segments_share_each_segments_own_workload() -> None:
    units = pd.DataFrame({
        "unit_id": ["A1", "A2", "B1", "N1"], "lat": [40.0] * 4, "lon": [-100.0, -99, -98, -97],
        "workload": [2.0, 4.0, 4.0, 2.0], "segment": ["A", "A", "B", ""],
    })
    reps = pd.DataFrame({
        "rep_id": ["R1", "R2", "R3", "R4"], "lat": [40.0] * 4, "lon": [-100.0, -99, -98, -97],
        "capacity": [1.0, 2.0, 1.0, 1.0], "segment": ["A", "A", "B", None],
    })
    assert territory_problem(units, reps).target.tolist() == pytest.approx(
        [2.4, 4.8, 2.4, 2.4], rel=1e-12)
    within = territory_problem(units, reps, balance_within_segments=True)
    assert within.target.tolist() == pytest.approx([2.0, 4.0, 4.0, 2.0], rel=1e-12)
    assert within.band(0.1)[1].tolist() == pytest.approx([2.2, 4.4, 4.4, 2.2], rel=1e-12)
