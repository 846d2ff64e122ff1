"""Territory CSV files that are not plain comma-separated text: the delimiter is read from the
header, and extra fields or a quote that never closes are refused in one line naming the
file, the row (and column) and what to change."""

from __future__ import annotations

from pathlib import Path

import pytest

from planning.cli import main
from planning.territory.validation import TerritoryInputError, read_territory_csv

REPS = "rep_id,lat,lon\nR1,40.7,-74.0\nR2,41.0,-73.6\n"
UNITS = ("unit_id,lat,lon,workload\nU1,40.7,-74.0,5\nU2,40.8,-73.9,5\nU3,41.0,-73.5,5\n")


def write(folder: Path, units: str, reps: str = REPS) -> tuple[Path, Path]:
    units_path, reps_path = folder / "units.csv", folder / "reps.csv"
    units_path.write_text(units, encoding="utf-8")
    reps_path.write_text(reps, encoding="utf-8")
    return units_path, reps_path


@pytest.mark.parametrize("delimiter", [";", "\t", "|"])
def test_a_file_with_another_delimiter_is_read_by_its_header(
        tmp_path: Path, delimiter: str) -> None:
    problem = read_territory_csv(*write(tmp_path, UNITS.replace(",", delimiter)))
    assert problem.units["unit_id"].tolist() == ["U1", "U2", "U3"]
    assert problem.workload.tolist() == [5.0, 5.0, 5.0]


def test_a_semicolon_file_missing_a_column_names_the_delimiter(tmp_path: Path) -> None:
    units, reps = write(tmp_path, "unit_id;lat;workload\nU1;40.7;5\n")
    with pytest.raises(TerritoryInputError) as caught:
        read_territory_csv(units, reps)
    assert str(caught.value) == (f"{units}: missing column 'lon' (the header was read as "
                                 "semicolon-separated: unit_id, lat, workload)")


def test_extra_fields_are_one_line_naming_the_row(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    units, reps = write(tmp_path, UNITS.replace("U2,40.8,-73.9,5", "U2,40.8,-73.9,5,7,8"))
    code = main(["territory", "solve", "--units", str(units), "--reps", str(reps)])
    err = capsys.readouterr().err
    assert code == 2
    assert err == (f"error: {units}, row 3: 6 fields where the header has 4 "
                   "(comma-separated); remove the extra values or quote the values that "
                   "contain a comma\n")


def test_an_unclosed_quote_names_the_row_and_column(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    units, reps = write(tmp_path, UNITS.replace("U2,40.8,", 'U2,"40.8,'))
    code = main(["territory", "solve", "--units", str(units), "--reps", str(reps)])
    err = capsys.readouterr().err
    assert code == 2
    assert err == (f"error: {units}, row 3, column 'lat': a quoted value is never closed, "
                   "so every line after it would be read into it; close the quote or remove "
                   "it\n")


def test_quoted_values_with_delimiters_and_line_breaks_still_read(tmp_path: Path) -> None:
    units = ("unit_id,lat,lon,workload,name\n"
             'U1,40.7,-74.0,5,"Acme, Inc."\n'
             'U2,40.8,-73.9,5,"two\nlines"\n'
             'U3,41.0,-73.5,5,"say ""hi"""\n')
    problem = read_territory_csv(*write(tmp_path, units))
    assert problem.units["name"].tolist() == ["Acme, Inc.", "two\nlines", 'say "hi"']


def test_a_short_row_leaves_the_missing_cells_empty(tmp_path: Path) -> None:
    units, reps = write(tmp_path, UNITS.replace("U2,40.8,-73.9,5", "U2,40.8,-73.9"))
    with pytest.raises(TerritoryInputError) as caught:
        read_territory_csv(units, reps)
    assert str(caught.value) == f"{units}, row 3: column 'workload' is empty, not a number"
