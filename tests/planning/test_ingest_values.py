"""The value readers behind the import: money, numbers, dates, booleans, ids, CSV reading."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pytest

from planning.ingest import reasons
from planning.ingest import values as v
from planning.ingest.csvfile import read_csv_file
from planning.ingest.errors import ImportFileError
from planning.ingest.fields import ENTITIES
from planning.ingest.formats import detect_format
from planning.ingest.mapping import OPTION_KEYS

DOCS = Path(__file__).resolve().parents[2] / "docs" / "IMPORT.md"


def outcome(parsed: v.Parsed, count: int) -> list[tuple[object, str | None]]:
    """(value, reason) per row."""
    found: dict[int, str] = {}
    for mask, reason in parsed.problems:
        for row in mask.nonzero()[0]:
            assert row not in found, f"row {row} has two reasons"
            found[int(row)] = reason
    return [(parsed.values[i].as_py(), found.get(i)) for i in range(count)]


def cells(*texts: str | None) -> pa.Array:
    return v.clean(pa.array(list(texts), pa.string()))


@pytest.mark.parametrize(("text", "cents"), [
    ("1200", 120_000), ("1200.5", 120_050), ("$1,200.50", 120_050), ("USD 1,200.50", 120_050),
    ("1 200,50", 120_050), ("1'200.50", 120_050), ("US$ 99", 9_900), ("0.005", 1),
    ("0.004", 0), ("12.345", 1_235), ("1,234,567", 123_456_700), ("1.5e3", 150_000),
    (" 42 ", 4_200), ("-0", 0),
])
def test_amounts_become_cents(text: str, cents: int) -> None:
    assert outcome(v.read_money(cells(text), None, False, "USD"), 1) == [(cents, None)]


@pytest.mark.parametrize(("text", "reason"), [
    ("12abc", reasons.INVALID_AMOUNT), ("1.2.3,4,5", reasons.INVALID_AMOUNT),
    ("(12", reasons.INVALID_AMOUNT), ("--5", reasons.INVALID_AMOUNT),
    ("$ € 5", reasons.INVALID_AMOUNT), ("-12", reasons.NEGATIVE_AMOUNT),
    ("(1,200.00)", reasons.NEGATIVE_AMOUNT), ("\u2212 7", reasons.NEGATIVE_AMOUNT),
    ("12345678901234", reasons.AMOUNT_OUT_OF_RANGE), ("1e20", reasons.AMOUNT_OUT_OF_RANGE),
    ("€5", reasons.CURRENCY_MISMATCH), ("5 EUR", reasons.CURRENCY_MISMATCH),
])
def test_bad_amounts_have_one_reason(text: str, reason: str) -> None:
    assert outcome(v.read_money(cells(text), None, False, "USD"), 1) == [(None, reason)]


def test_a_lone_separator_before_three_digits_follows_the_column() -> None:
    comma_column = v.read_money(cells("1.200", "12,5"), None, False, "USD")
    assert outcome(comma_column, 2) == [(120_000, None), (1_250, None)]
    point_column = v.read_money(cells("1.200", "12.5"), None, False, "USD")
    assert outcome(point_column, 2) == [(120, None), (1_250, None)]
    nothing_else = v.read_money(cells("1,200"), None, False, "USD")
    assert outcome(nothing_else, 1) == [(120_000, None)]
    mixed = v.read_money(cells("1,200", "1.250,75", "12,500.50"), None, False, "USD")
    assert outcome(mixed, 3) == [(None, reasons.AMBIGUOUS_NUMBER), (125_075, None),
                                 (1_250_050, None)]
    forced = v.read_money(cells("1.200", "12.5"), ",", False, "USD")
    assert outcome(forced, 2) == [(120_000, None), (None, reasons.INVALID_AMOUNT)]


def test_currency_symbols_follow_the_workspace_currency() -> None:
    assert outcome(v.read_money(cells("€5", "$5", "5 EUR"), None, False, "EUR"), 3) == [
        (500, None), (None, reasons.CURRENCY_MISMATCH), (500, None)]
    assert outcome(v.read_money(cells("$5"), None, False, "CAD"), 1) == [(500, None)]


def test_whole_numbers_treat_an_ambiguous_separator_as_grouping() -> None:
    parsed = v.read_int(cells("1,200", "1.200", "12", "12.0", "12.5", "-3", "1e3", None), None,
                        0, 100_000)
    assert outcome(parsed, 8) == [
        (1200, None), (1200, None), (12, None), (12, None), (None, reasons.NOT_WHOLE_NUMBER),
        (None, reasons.NUMBER_OUT_OF_RANGE), (1000, None), (None, None)]


def test_decimal_numbers_and_ranges() -> None:
    parsed = v.read_float(cells("37.7749", "-122.4", "91", "x", "45,5"), None, -90, 90)
    assert outcome(parsed, 5) == [
        (37.7749, None), (None, reasons.NUMBER_OUT_OF_RANGE),
        (None, reasons.NUMBER_OUT_OF_RANGE), (None, reasons.INVALID_NUMBER), (45.5, None)]


@pytest.mark.parametrize(("text", "expected"), [
    ("2024-03-05", dt.datetime(2024, 3, 5)),
    ("2024-03-05T10:00:00Z", dt.datetime(2024, 3, 5, 10)),
    ("2024-03-05T10:00:00.000+0000", dt.datetime(2024, 3, 5, 10)),
    ("2024-03-05T10:00:00-05:00", dt.datetime(2024, 3, 5, 15)),
    ("2024-03-05 10:00", dt.datetime(2024, 3, 5, 10)),
    ("2024/3/5", dt.datetime(2024, 3, 5)),
    ("03/05/2024", dt.datetime(2024, 3, 5)),
    ("3/5/2024 1:30 PM", dt.datetime(2024, 3, 5, 13, 30)),
    ("12/5/2024 12:15 am", dt.datetime(2024, 12, 5, 0, 15)),
    ("05.03.2024", dt.datetime(2024, 3, 5)),
    ("05.03.2024 14:30:15", dt.datetime(2024, 3, 5, 14, 30, 15)),
    ("5 Mar 2024", dt.datetime(2024, 3, 5)),
    ("05-Mar-2024", dt.datetime(2024, 3, 5)),
    ("March 5, 2024", dt.datetime(2024, 3, 5)),
    ("Sept 5 2024", dt.datetime(2024, 9, 5)),
    ("Tue, 5 Mar 2024 10:00:00 GMT", dt.datetime(2024, 3, 5, 10)),
])
def test_common_date_forms(text: str, expected: dt.datetime) -> None:
    assert outcome(v.read_timestamps(cells(text), v.DateOptions()), 1) == [(expected, None)]
    assert outcome(v.read_dates(cells(text), v.DateOptions()), 1) == [(expected.date(), None)]


@pytest.mark.parametrize(("text", "reason"), [
    ("2024-02-30", reasons.INVALID_DATE), ("2024-03", reasons.INVALID_DATE),
    ("13/13/2024", reasons.INVALID_DATE), ("3/5/202", reasons.INVALID_DATE),
    ("yesterday", reasons.INVALID_DATE), ("2024-03-05-05", reasons.INVALID_DATE),
    ("5 Mrz 2024", reasons.INVALID_DATE), ("25:00 2024-01-01", reasons.INVALID_DATE),
    ("2024-03-05 24:00", reasons.INVALID_DATE), ("1899-12-31", reasons.DATE_OUT_OF_RANGE),
    ("2101-01-01", reasons.DATE_OUT_OF_RANGE),
])
def test_bad_dates(text: str, reason: str) -> None:
    assert outcome(v.read_timestamps(cells(text), v.DateOptions()), 1) == [(None, reason)]


def test_slash_dates_follow_the_file_order() -> None:
    column = cells("03/05/2024", "25/01/2024")
    assert v.detect_date_order([column]) == v.DateOrder(True, "%d/%m/%Y")
    parsed = v.read_dates(column, v.DateOptions(day_first=True))
    assert outcome(parsed, 2) == [(dt.date(2024, 5, 3), None), (dt.date(2024, 1, 25), None)]
    assert v.detect_date_order([cells("03/05/2024", "01/25/2024")]) == v.DateOrder(
        False, "%m/%d/%Y")


def test_dates_keep_the_written_day_and_timestamps_convert_to_utc() -> None:
    late = cells("2024-03-05T23:30:00-05:00")
    assert outcome(v.read_dates(late, v.DateOptions()), 1) == [(dt.date(2024, 3, 5), None)]
    assert outcome(v.read_timestamps(late, v.DateOptions()), 1) == [
        (dt.datetime(2024, 3, 6, 4, 30), None)]
    berlin = v.DateOptions(timezone="Europe/Berlin")
    local = cells("2024-03-05 10:00", "2024-03-31 02:30", "2024-03-05T10:00:00Z")
    assert outcome(v.read_timestamps(local, berlin), 3) == [
        (dt.datetime(2024, 3, 5, 9), None), (None, reasons.INVALID_DATE),
        (dt.datetime(2024, 3, 5, 10), None)]


def test_explicit_formats_replace_recognition() -> None:
    options = v.DateOptions(formats=("%d.%m.%Y",))
    assert outcome(v.read_dates(cells("05.03.2024", "2024-03-05"), options), 2) == [
        (dt.date(2024, 3, 5), None), (None, reasons.INVALID_DATE)]


def test_booleans_ids_and_enumerations() -> None:
    assert outcome(v.read_bool(cells("TRUE", "no", "Y", "0", "maybe", None)), 6) == [
        (True, None), (False, None), (True, None), (False, None),
        (None, reasons.INVALID_BOOLEAN), (None, None)]
    assert v.salesforce_id18("001A000000ABCde") == "001A000000ABCdeIAH"
    ids = v.read_salesforce_ids(cells("001A000000ABCde", "001A000000ABCdeIAH", "bad id"))
    assert outcome(ids, 3) == [("001A000000ABCdeIAH", None), ("001A000000ABCdeIAH", None),
                               (None, reasons.INVALID_SALESFORCE_ID)]
    category = next(f for f in ENTITIES[2].fields if f.name == "forecast_category")
    parsed = v.read_enum(cells("best_case", "FORECAST", "Omit", "Maybe"), category.aliases,
                         "unknown forecast category")
    assert outcome(parsed, 4) == [("Best Case", None), ("Commit", None), ("Omitted", None),
                                  (None, "unknown forecast category")]


def test_formats_are_told_apart_by_their_headers() -> None:
    user = detect_format(["Id", "Name", "Email", "ManagerId", "IsActive"])
    account = detect_format(["Id", "Name", "Industry", "BillingPostalCode", "OwnerId"])
    deals = detect_format(["Record ID", "Deal Name", "Deal Stage", "Amount"])
    companies = detect_format(["record id", " Company name ", "City"])
    assert user is not None and user[0].label == "Salesforce User export"
    assert account is not None and account[0].label == "Salesforce Account export"
    assert deals is not None and deals[0].label == "HubSpot deals export"
    assert companies is not None and companies[1] == {"account_id": "record id",
                                                      "name": " Company name ",
                                                      "city": "City"}
    assert detect_format(["Foo", "Bar"]) is None


def test_csv_reading_tracks_physical_lines(tmp_path: Path) -> None:
    file = tmp_path / "t.csv"
    file.write_bytes(b'\xef\xbb\xbfa;b;c\r\n1;2;3\r\n\r\n4;5\r\n"x\r\ny";2;3\r\n6;7;8;9\r\n'
                     b';;\r\n10;"11";12')
    raw = read_csv_file(file)
    assert raw.delimiter == ";" and raw.header == ["a", "b", "c"]
    assert raw.table.column(0).to_pylist() == ["1", "x\r\ny", "10"]
    assert raw.lines.tolist() == [2, 5, 9]
    assert [(r.line, r.fields) for r in raw.ragged] == [(4, ["4", "5"]),
                                                         (7, ["6", "7", "8", "9"])]
    assert raw.records == 5


def test_stray_quotes_do_not_shift_lines(tmp_path: Path) -> None:
    file = tmp_path / "t.csv"
    file.write_text('a,b\n5" screen,2\n3,"q\nz"\n7,8\n', encoding="utf-8")
    raw = read_csv_file(file)
    assert raw.table.column(0).to_pylist() == ['5" screen', "3", "7"]
    assert raw.lines.tolist() == [2, 3, 5]


def test_bare_carriage_returns_are_line_ends(tmp_path: Path) -> None:
    file = tmp_path / "t.csv"
    file.write_bytes(b"a,b\r1,2\r3,4\r")
    raw = read_csv_file(file)
    assert raw.table.column(1).to_pylist() == ["2", "4"] and raw.lines.tolist() == [2, 3]


def test_a_folder_is_not_a_file(tmp_path: Path) -> None:
    with pytest.raises(ImportFileError, match="is a folder"):
        read_csv_file(tmp_path)


def test_every_field_and_option_is_documented() -> None:
    text = DOCS.read_text(encoding="utf-8")
    for entity in ENTITIES:
        section = text.split(f"### {entity.name}\n", 1)
        assert len(section) == 2, f"docs/IMPORT.md lacks a section for {entity.name}"
        body = section[1].split("\n### ", 1)[0]
        for spec in entity.fields:
            assert f"| `{spec.name}`" in body, f"{entity.name}.{spec.name} is not documented"
    for key in (*OPTION_KEYS, "entity", "files", "[columns]", "[values.FIELD]"):
        assert f"| `{key}` |" in text, f"mapping key {key} is not documented"
    reason_names = [getattr(reasons, n) for n in dir(reasons) if n.isupper()]
    for reason in reason_names:
        assert f"`{reason}`" in text, f"reason {reason!r} is not documented"
