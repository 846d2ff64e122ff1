"""CSV files that a person opens in a spreadsheet, safe from formula injection.

A spreadsheet runs a cell that starts with `=`, `+`, `-` or `@` (and, after a leading tab or
carriage return, whatever follows) as a formula, so an account named
`=HYPERLINK("http://evil","click")` in an export becomes a live link. Following the OWASP
CSV-injection rule, every text cell that starts with one of those characters gets a single
quote in front, which the spreadsheet shows as text. Numbers are left as they are: numeric
columns are never touched, and a text cell that is exactly a plain decimal number (`-5`,
`+1.50`, `-2e3`) is a number to the spreadsheet, not a formula, so it stays intact too.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable

import pandas as pd

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""First characters that make a spreadsheet read a cell as a formula (OWASP)."""

_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def neutralise_cell(value: object) -> object:
    """`value` with a single quote in front when it is text a spreadsheet would run as a
    formula; numbers, dates, missing values and harmless text come back unchanged."""
    if (isinstance(value, str) and value.startswith(FORMULA_STARTS)
            and not _PLAIN_NUMBER.fullmatch(value)):
        return "'" + value
    return value


def spreadsheet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of `frame` whose text cells and column names are neutralised; numeric, boolean
    and date columns keep their values and types."""
    safe = frame.copy()
    for column in safe.columns:
        series = safe[column]
        if (pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)
                or pd.api.types.is_datetime64_any_dtype(series)):
            continue
        safe[column] = series.astype(object).map(neutralise_cell)
    safe.columns = [neutralise_cell(name) for name in safe.columns]
    return safe


def spreadsheet_csv(frame: pd.DataFrame, **to_csv: object) -> str:
    """`frame` as CSV text (no index unless asked) with every formula-like text cell
    neutralised: the one way to turn a table into a CSV a person downloads or opens."""
    options = {"index": False, **to_csv}
    return spreadsheet_safe(frame).to_csv(**options)


def spreadsheet_rows_csv(rows: Iterable[Iterable[object]]) -> str:
    """Rows (the first one the header) as CSV text with every formula-like text cell
    neutralised, for exports built row by row."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for row in rows:
        writer.writerow([neutralise_cell(value) for value in row])
    return buffer.getvalue()
