"""Dates in any common form, with the numeric day/month order detected once per file."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

import pyarrow as pa
import pytest

from planning.cli import main
from planning.ingest import import_files, reasons
from planning.ingest import values as v
from planning.ingest.errors import ImportFileError
from planning.pipeline.csv_training import CsvDeals, read_opportunity_csv
from planning.store import Workspace

COLUMNS = """
[columns]
opportunity_id = "Deal"
account_id = "Account"
owner_id = "Owner"
stage = "Stage"
amount = "Value"
created_at = "Created"
close_date = "Expected close"
"""
HEADER = "Deal,Account,Owner,Stage,Value,Created,Expected close\n"


def deals_file(folder: Path, dates: list[tuple[str, str]], options: str = "",
               name: str = "deals.csv") -> tuple[Path, Path]:
    """An export of won deals with the given (created, close) cells, and its mapping."""
    rows = "".join(f'D{i},Acme,Ava,Closed Won,100,"{created}","{close}"\n'
                   for i, (created, close) in enumerate(dates, start=1))
    csv_path = folder / name
    csv_path.write_text(HEADER + rows, encoding="utf-8")
    mapping = folder / "mapping.toml"
    mapping.write_text(f'entity = "opportunities"\n{options}\n{COLUMNS}', encoding="utf-8")
    return csv_path, mapping


def read(folder: Path, dates: list[tuple[str, str]], options: str = "") -> CsvDeals:
    """What the import's checks make of the export."""
    return read_opportunity_csv(*deals_file(folder, dates, options),
                                now=dt.datetime(2026, 1, 1))


def read_back(deals: CsvDeals) -> list[tuple[dt.datetime, dt.date]]:
    """(created_at, close_date) of the rows kept."""
    frame = deals.frame.sort_values("opportunity_id")
    return [(created.to_pydatetime(), close.date())
            for created, close in zip(frame["created_at"], frame["close_date"], strict=True)]


OCT_20 = dt.datetime(2016, 10, 20)
NOV_25 = dt.date(2016, 11, 25)
NOV_3 = dt.date(2016, 11, 3)


@pytest.mark.parametrize(("created", "close", "when"), [
    ("2016-10-20", "2016-11-25", OCT_20),
    ("2016-10-20T09:30:00Z", "2016-11-25", OCT_20.replace(hour=9, minute=30)),
    ("2016-10-20T11:30:00+02:00", "2016-11-25", OCT_20.replace(hour=9, minute=30)),
    ("2016-10-20 09:30", "2016-11-25T23:00:00-05:00", OCT_20.replace(hour=9, minute=30)),
    ("10/20/2016", "11/25/2016", OCT_20),
    ("10/20/2016 2:30 PM", "11/25/2016", OCT_20.replace(hour=14, minute=30)),
    ("10/20/16", "11/25/16", OCT_20),
    ("20/10/2016", "25/11/2016", OCT_20),
    ("20/10/2016 14:30", "25/11/2016", OCT_20.replace(hour=14, minute=30)),
    ("20.10.2016", "25.11.2016", OCT_20),
    ("20.10.2016 14:30:15", "25.11.2016", OCT_20.replace(hour=14, minute=30, second=15)),
    ("20.10.16", "25.11.16", OCT_20),
    ("20-10-2016", "25-11-2016", OCT_20),
    ("20-10-16", "25-11-16", OCT_20),
    ("20-10-16 9:05 AM", "25-11-16", OCT_20.replace(hour=9, minute=5)),
    ("2016/10/20", "2016/11/25", OCT_20),
    ("2016/10/20 14:30", "2016/11/25", OCT_20.replace(hour=14, minute=30)),
    ("20 Oct 2016", "25 Nov 2016", OCT_20),
    ("Oct 20, 2016", "November 25, 2016", OCT_20),
    ("20-Oct-16", "25-Nov-16", OCT_20),
    ("Oct 20, 2016 10:15 PM", "Nov 25, 2016", OCT_20.replace(hour=22, minute=15)),
    ("42663", "42699", OCT_20),
    ("42663.5", "42699", OCT_20.replace(hour=12)),
])
def test_each_common_form_is_read_from_a_whole_file(tmp_path: Path, created: str, close: str,
                                                   when: dt.datetime) -> None:
    deals = read(tmp_path, [(created, close)])

    assert deals.rows_rejected == 0
    assert read_back(deals) == [(when, NOV_25)]


def test_the_day_month_order_is_detected_from_all_date_columns_together(
        tmp_path: Path) -> None:
    """Only the created date of the second row settles it (day 20): the close dates, all with
    days up to 12, follow it."""
    day_first = read(tmp_path, [("01-10-16", "03-11-16"), ("20-10-16", "03-11-16")])
    month_first = read(tmp_path, [("10-01-16", "11-03-16"), ("10-20-16", "11-03-16")])

    assert [close for _, close in read_back(day_first)] == [NOV_3, NOV_3]
    assert [close for _, close in read_back(month_first)] == [NOV_3, NOV_3]


def test_two_digit_years_are_1970_to_2069() -> None:
    column = v.clean(pa.array(["20-10-69", "20-10-70", "20-10-00", "20-10-99"]))
    expected = [dt.date(2069, 10, 20), dt.date(1970, 10, 20), dt.date(2000, 10, 20),
                dt.date(1999, 10, 20)]
    detected = v.read_dates(column, v.DateOptions(day_first=True))
    forced = v.read_dates(column, v.DateOptions(formats=("%d-%m-%y",)))

    assert detected.values.to_pylist() == expected
    assert forced.values.to_pylist() == expected
    assert v.TWO_DIGIT_YEAR_PIVOT == 70


def test_excel_day_numbers_only_when_the_whole_column_is_plausible() -> None:
    serials = v.read_dates(v.clean(pa.array(["42663", None, "20000", "54000"])), v.DateOptions())
    mixed = v.read_dates(v.clean(pa.array(["42663", "2016-10-20"])), v.DateOptions())
    small = v.read_dates(v.clean(pa.array(["42663", "12345"])), v.DateOptions())

    assert serials.values.to_pylist() == [dt.date(2016, 10, 20), None, dt.date(1954, 10, 3),
                                          dt.date(2047, 11, 4)]
    assert serials.problems == []
    assert mixed.values.to_pylist() == [None, dt.date(2016, 10, 20)]
    assert [reason for _, reason in mixed.problems] == [reasons.INVALID_DATE]
    assert small.values.to_pylist() == [None, None]


AMBIGUOUS = [("01-02-12", "10-11-12"), ("03-04-16", "05-06-16")]


def test_an_ambiguous_file_is_refused_naming_both_readings_and_the_fix(
        workspace: Workspace, tmp_path: Path) -> None:
    csv_path, mapping = deals_file(tmp_path, AMBIGUOUS, name="crm-export.csv")

    with pytest.raises(ImportFileError) as refused:
        import_files(workspace, [csv_path], mapping_path=mapping)

    message = str(refused.value)
    assert "\n" not in message
    assert message.startswith('crm-export.csv: column "Expected close" has dates such as '
                              '"10-11-12"')
    assert "%d-%m-%y (10 Nov 2012)" in message and "%m-%d-%y (11 Oct 2012)" in message
    assert "day_first = true" in message and 'date_formats = ["%d-%m-%y"]' in message
    assert workspace.read(lambda cur: cur.execute(
        "SELECT count(*) FROM import_runs").fetchone()[0]) == 0


def test_a_file_of_equal_day_and_month_is_not_ambiguous(tmp_path: Path) -> None:
    deals = read(tmp_path, [("01-01-16", "02-02-16")])

    assert read_back(deals) == [(dt.datetime(2016, 1, 1), dt.date(2016, 2, 2))]


@pytest.mark.parametrize(("options", "close"), [
    ("day_first = true", dt.date(2012, 11, 10)),
    ("day_first = false", dt.date(2012, 10, 11)),
    ('date_formats = ["%d-%m-%y"]', dt.date(2012, 11, 10)),
    ('date_formats = ["%m-%d-%y"]', dt.date(2012, 10, 11)),
])
def test_the_mapping_settles_an_ambiguous_file(tmp_path: Path, options: str,
                                               close: dt.date) -> None:
    deals = read(tmp_path, AMBIGUOUS, options)

    assert deals.rows_rejected == 0
    assert read_back(deals)[0][1] == close


def test_values_in_no_detected_form_are_rejected_rows_naming_the_form(tmp_path: Path) -> None:
    deals = read(tmp_path, [("20-10-16", "25-11-16"), ("21-10-16", "banana"),
                            ("22-10-16", "11-25-16"), ("23-10-16", "31-02-16"),
                            ("24-10-16", "2016-11-25")])

    expected = "invalid date (expected %d-%m-%y, like 20-10-16)"
    assert reasons.invalid_date_expected("%d-%m-%y") == expected
    assert deals.rejected_by_reason[expected] == 2
    assert deals.rejected_by_reason[reasons.INVALID_DATE] == 1
    assert list(deals.frame.sort_values("opportunity_id")["opportunity_id"]) == ["D1", "D5"]


def day_month_export(folder: Path, amount_text: str | None = None) -> tuple[Path, Path]:
    """240 closed deals of 2016 with `d-m-y` dates; every amount `amount_text` when given."""
    rng = random.Random(11)
    lines = [HEADER.strip()]
    for i in range(240):
        created = dt.date(2016, 1, 1) + dt.timedelta(days=rng.randrange(330))
        close = created + dt.timedelta(days=rng.randrange(10, 120))
        amount = rng.randrange(5, 200) * 100
        won = rng.random() < (0.7 if amount < 8000 else 0.3)
        stage = "Closed Won" if won else "Closed Lost"
        lines.append(f"D{i},Acct {i % 23},Rep {i % 7},{stage},{amount_text or amount},"
                     f"{created:%d-%m-%y},{close:%d-%m-%y}")
    csv_path = folder / "deals.csv"
    csv_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    mapping = folder / "mapping.toml"
    mapping.write_text(f'entity = "opportunities"\n{COLUMNS}', encoding="utf-8")
    return csv_path, mapping


def test_csv_trainer_reads_a_day_month_two_digit_year_export(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv_path, mapping = day_month_export(tmp_path)

    code = main(["pipeline", "train", "--csv", str(csv_path), "--mapping", str(mapping)])

    captured = capsys.readouterr()
    assert "unexpected failure" not in captured.err
    assert code == 0, captured.err
    assert "Read 240 rows of deals.csv" in captured.out
    assert "0 rejected" in captured.out


def test_csv_trainer_on_an_export_with_every_row_rejected_says_why_in_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv_path, mapping = day_month_export(tmp_path, amount_text="n/a")

    code = main(["pipeline", "train", "--csv", str(csv_path), "--mapping", str(mapping)])

    err = capsys.readouterr().err
    assert code == 2
    assert "unexpected failure" not in err
    assert "240 of 240 rows of deals.csv were rejected, most as invalid amount (240)" in err
