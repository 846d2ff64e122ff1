"""Reading and checking territory inputs: one clear message naming the file, row and problem.

`units.csv`: unit_id, lat, lon, workload [, current_rep_id] [, locked] [, segment] [, value]
`reps.csv`:  rep_id, lat, lon [, capacity] [, segment]   (capacity defaults to 1.0)
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pandas as pd

from planning.bounds import MAX_CAPACITY, MAX_WORKLOAD
from planning.errors import RevPlanError
from planning.ingest.csvfile import sniff_delimiter, unclosed_quote
from planning.territory.problem import TerritoryProblem

TRUE_WORDS = {"1", "true", "t", "yes", "y"}
FALSE_WORDS = {"0", "false", "f", "no", "n", ""}


class TerritoryInputError(RevPlanError):
    """Bad territory input; the message names the file, the row (as in the file) and why."""


class SourceName(str):
    """A file name that knows the line in the file of each row read from it (blank lines
    skipped in between); plain names count rows from line 2."""

    lines: np.ndarray | None = None
    delimiter: str = ","

    @classmethod
    def of(cls, name: str, lines: np.ndarray) -> SourceName:
        source = cls(name)
        source.lines = lines
        return source


def _missing_column(name: str, column: str, frame: pd.DataFrame) -> TerritoryInputError:
    """A missing column; when the file was not comma-separated, the message says how the
    header was split, so a file exported with another delimiter is recognisable."""
    delimiter = getattr(name, "delimiter", ",")
    if delimiter == ",":
        return TerritoryInputError(f"{name}: missing column '{column}'")
    return TerritoryInputError(
        f"{name}: missing column '{column}' (the header was read as "
        f"{DELIMITER_NAMES[delimiter]}-separated: {', '.join(map(str, frame.columns))})")


def _row(name: str, position: int) -> int:
    lines = getattr(name, "lines", None)
    return int(lines[position]) if lines is not None else position + 2


def _where(name: str, position: int | None) -> str:
    return name if position is None else f"{name}, row {_row(name, position)}"


def _text(frame: pd.DataFrame, column: str) -> pd.Series:
    if column not in frame.columns:
        return pd.Series([None] * len(frame), index=frame.index, dtype=object)
    values = frame[column].astype(object)
    return values.where(values.notna() & (values.astype(str).str.strip() != ""), None).map(
        lambda v: v if v is None else str(v).strip())


def _numbers(frame: pd.DataFrame, column: str, name: str, *, default: float | None = None
             ) -> np.ndarray:
    if column not in frame.columns:
        if default is None:
            raise _missing_column(name, column, frame)
        return np.full(len(frame), default, dtype=float)
    raw = frame[column]
    values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)
    blank = raw.isna().to_numpy() | (raw.astype(str).str.strip() == "").to_numpy()
    if default is not None:
        values = np.where(blank, default, values)
        blank = np.zeros(len(frame), dtype=bool)
    bad = np.flatnonzero(np.isnan(values) | np.isinf(values))
    if len(bad):
        position = int(bad[0])
        shown = "empty" if blank[position] else repr(str(raw.iat[position]))
        raise TerritoryInputError(
            f"{_where(name, position)}: column '{column}' is {shown}, not a number")
    return values


def _ids(frame: pd.DataFrame, column: str, name: str) -> pd.Series:
    if column not in frame.columns:
        raise _missing_column(name, column, frame)
    ids = _text(frame, column)
    empty = np.flatnonzero(ids.isna().to_numpy())
    if len(empty):
        raise TerritoryInputError(f"{_where(name, int(empty[0]))}: '{column}' is empty")
    duplicated = np.flatnonzero(ids.duplicated().to_numpy())
    if len(duplicated):
        position = int(duplicated[0])
        first = int(np.flatnonzero((ids == ids.iat[position]).to_numpy())[0])
        raise TerritoryInputError(
            f"{_where(name, position)}: duplicate {column} {ids.iat[position]!r} (first on row "
            f"{_row(name, first)})")
    return ids


def _coordinates(frame: pd.DataFrame, name: str) -> tuple[np.ndarray, np.ndarray]:
    lat = _numbers(frame, "lat", name)
    lon = _numbers(frame, "lon", name)
    bad = np.flatnonzero(np.abs(lat) > 90)
    if len(bad):
        raise TerritoryInputError(f"{_where(name, int(bad[0]))}: latitude {lat[bad[0]]:g} is "
                                  "outside -90..90")
    bad = np.flatnonzero(np.abs(lon) > 180)
    if len(bad):
        raise TerritoryInputError(f"{_where(name, int(bad[0]))}: longitude {lon[bad[0]]:g} is "
                                  "outside -180..180")
    return lat, lon


def _at_most(values: np.ndarray, column: str, name: str) -> None:
    """Refuse the first row whose amount is above MAX_WORKLOAD (a solver cannot balance
    numbers that large against the others)."""
    bad = np.flatnonzero(values > MAX_WORKLOAD)
    if len(bad):
        raise TerritoryInputError(f"{_where(name, int(bad[0]))}: {column} {values[bad[0]]:g} "
                                  f"is out of range: give a number from 0 to {MAX_WORKLOAD:g}")


def _flags(frame: pd.DataFrame, column: str, name: str) -> np.ndarray:
    if column not in frame.columns:
        return np.zeros(len(frame), dtype=bool)
    words = frame[column].astype(object).map(
        lambda v: "" if v is None or (isinstance(v, float) and np.isnan(v))
        else str(v).strip().lower())
    unknown = np.flatnonzero(~words.isin(TRUE_WORDS | FALSE_WORDS).to_numpy())
    if len(unknown):
        position = int(unknown[0])
        raise TerritoryInputError(f"{_where(name, position)}: '{column}' is "
                                  f"{frame[column].iat[position]!r}; use true/false, yes/no "
                                  "or 1/0")
    return words.isin(TRUE_WORDS).to_numpy()


def territory_problem(
    units: pd.DataFrame, reps: pd.DataFrame, *, units_name: str = "units",
    reps_name: str = "reps", balance_within_segments: bool = False,
) -> TerritoryProblem:
    """Check and normalise unit and rep tables into a problem; TerritoryInputError if bad.

    Targets are capacity shares of the total workload, or with `balance_within_segments`,
    of the rep's own segment's workload.
    """
    if reps.empty:
        raise TerritoryInputError(f"{reps_name}: no reps")
    if units.empty:
        raise TerritoryInputError(f"{units_name}: no units")
    rep_ids = _ids(reps, "rep_id", reps_name)
    rep_lat, rep_lon = _coordinates(reps, reps_name)
    capacity = _numbers(reps, "capacity", reps_name, default=1.0)
    bad = np.flatnonzero((capacity <= 0) | (capacity > MAX_CAPACITY))
    if len(bad):
        raise TerritoryInputError(f"{_where(reps_name, int(bad[0]))}: capacity "
                                  f"{capacity[bad[0]]:g} must be above 0 and at most "
                                  f"{MAX_CAPACITY:g}")
    unit_ids = _ids(units, "unit_id", units_name)
    lat, lon = _coordinates(units, units_name)
    workload = _numbers(units, "workload", units_name)
    bad = np.flatnonzero(workload < 0)
    if len(bad):
        raise TerritoryInputError(f"{_where(units_name, int(bad[0]))}: workload "
                                  f"{workload[bad[0]]:g} is negative")
    _at_most(workload, "workload", units_name)
    if workload.sum() <= 0:
        raise TerritoryInputError(f"{units_name}: the total workload is 0; nothing to balance")
    value = workload.copy()
    if "value" in units.columns:
        given = _text(units, "value").notna().to_numpy()
        filled = units.assign(value=np.where(given, units["value"].astype(object), workload))
        value = _numbers(filled, "value", units_name)
    bad = np.flatnonzero(value < 0)
    if len(bad):
        raise TerritoryInputError(f"{_where(units_name, int(bad[0]))}: value "
                                  f"{value[bad[0]]:g} is negative")
    _at_most(value, "value", units_name)
    current = _text(units, "current_rep_id")
    known = set(rep_ids)
    unknown = np.flatnonzero((current.notna() & ~current.isin(known)).to_numpy())
    if len(unknown):
        position = int(unknown[0])
        raise TerritoryInputError(f"{_where(units_name, position)}: current_rep_id "
                                  f"{current.iat[position]!r} is not in {reps_name}")
    locked = _flags(units, "locked", units_name)
    orphan = np.flatnonzero(locked & current.isna().to_numpy())
    if len(orphan):
        raise TerritoryInputError(f"{_where(units_name, int(orphan[0]))}: a locked unit needs "
                                  "a current_rep_id")
    return TerritoryProblem(
        units=pd.DataFrame({
            "unit_id": unit_ids.to_numpy(dtype=object), "lat": lat, "lon": lon,
            "workload": workload, "current_rep_id": current.to_numpy(dtype=object),
            "locked": locked, "segment": _text(units, "segment").to_numpy(dtype=object),
            "value": value, **_names(units),
        }),
        reps=_with_targets(pd.DataFrame({
            "rep_id": rep_ids.to_numpy(dtype=object), "lat": rep_lat, "lon": rep_lon,
            "capacity": capacity, "segment": _text(reps, "segment").to_numpy(dtype=object),
            **_names(reps),
        }), workload, _text(units, "segment"), balance_within_segments),
    )


def _names(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """The optional `name` column (for messages that name units and reps), when given."""
    if "name" not in frame.columns:
        return {}
    return {"name": _text(frame, "name").to_numpy(dtype=object)}


def _with_targets(
    reps: pd.DataFrame, workload: np.ndarray, unit_segment: pd.Series, within: bool
) -> pd.DataFrame:
    """With `within`, each rep's target is its capacity share among the reps of its segment
    of that segment's workload (reps without a segment share the units without one)."""
    if not within:
        return reps
    units = pd.DataFrame({"segment": unit_segment.fillna("").to_numpy(), "workload": workload})
    pool = units.groupby("segment")["workload"].sum()
    segment = reps["segment"].fillna("")
    share = reps["capacity"] / reps.groupby(segment)["capacity"].transform("sum")
    return reps.assign(target=share * segment.map(pool).fillna(0.0))


DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}


def _read_csv(path: Path) -> tuple[pd.DataFrame, SourceName]:
    """The file's rows as text (blank lines dropped) and its name carrying each row's line.

    The delimiter is read from the header line (comma, semicolon, tab or pipe); a row with
    more fields than the header, or a quote that never closes, is refused naming the row and
    what to change."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError as exc:
        raise TerritoryInputError(f"{path}: no such file") from exc
    except UnicodeDecodeError as exc:
        raise TerritoryInputError(f"{path}: not UTF-8 text (byte 0x{exc.object[exc.start]:02X}"
                                  "); save it as \"CSV UTF-8\"") from None
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise TerritoryInputError(f"{path}: the file is empty")
    delimiter = sniff_delimiter(text.split("\n", 1)[0])
    unclosed = unclosed_quote(text, delimiter)
    if unclosed is not None:
        line, field = unclosed
        header = next(csv.reader([text.split("\n", 1)[0]], delimiter=delimiter), [])
        column = (f", column '{header[field].strip().lower()}'" if field < len(header)
                  else f", field {field + 1}")
        raise TerritoryInputError(
            f"{path}, row {line + 1}{column}: a quoted value is never closed, so every line "
            "after it would be read into it; close the quote or remove it")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter,
                        skipinitialspace=True)
    header: list[str] | None = None
    rows: list[list[str]] = []
    lines: list[int] = []
    previous = 0
    for record in reader:
        line, previous = previous + 1, reader.line_num
        if not any(cell.strip() for cell in record):
            continue
        if header is None:
            header = [cell.strip().lower() for cell in record]
            continue
        if len(record) > len(header):
            raise TerritoryInputError(
                f"{path}, row {line}: {len(record)} fields where the header has "
                f"{len(header)} ({DELIMITER_NAMES[delimiter]}-separated); remove the extra "
                f"values or quote the values that contain a {DELIMITER_NAMES[delimiter]}")
        rows.append(record + [""] * (len(header) - len(record)))
        lines.append(line)
    if header is None:
        raise TerritoryInputError(f"{path}: the file is empty")
    frame = pd.DataFrame(rows, columns=header, dtype=object) if rows else pd.DataFrame(
        columns=header, dtype=object)
    source = SourceName.of(str(path), np.asarray(lines, dtype=np.int64))
    source.delimiter = delimiter
    return frame, source


def read_territory_csv(units_path: Path, reps_path: Path) -> TerritoryProblem:
    """Read and check `units.csv` and `reps.csv` (see the module docstring)."""
    units, units_name = _read_csv(Path(units_path))
    reps, reps_name = _read_csv(Path(reps_path))
    return territory_problem(units, reps, units_name=units_name, reps_name=reps_name)
