"""Turning a bound file's text cells into typed RevPlan columns, finding every row problem.

This step needs no database: it checks types, formats, required values, duplicates within the
file and rules between fields (status flags, close before created...). References to reps,
accounts and opportunities are checked later, inside the import transaction (`load`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from planning.ingest import reasons
from planning.ingest import values as v
from planning.ingest.csvfile import RawFile, fail
from planning.ingest.fields import (
    ACCOUNTS,
    MAX_TEXT_LENGTH,
    OPPORTUNITIES,
    OPPORTUNITY_HISTORY,
    FieldSpec,
)
from planning.ingest.formats import FileBinding

MAX_ID_LENGTH = 255
MAX_OWNER_LENGTH = 320
ZIP_FIELDS = ("zip", "home_zip")
DAY_US = 86_400_000_000
OPEN, WON, LOST = 0, 1, 2
STATUS_NAMES = pa.array(["open", "won", "lost"], pa.string())
WON_STAGES = ("closedwon", "won")
LOST_STAGES = ("closedlost", "lost")
"""Folded stage names that mean won or lost without a mapping ("Closed - Won", "Won"...)."""
DEFAULT_CYCLE_DAYS = 90
"""Sales cycle assumed for estimated close dates when neither file nor workspace has a won
deal with both dates."""
UNKNOWN_ACCOUNT_ID = "unknown-account"
"""The account that deals without an account are put on (created by the import)."""
OPEN_DEAL_FALLBACKS = ("account_id", "close_date", "created_at")
"""Required opportunity fields whose missing values fall back instead of rejecting the row
(close and created dates only for open deals; see `_fill_deal_gaps`)."""


@dataclass(frozen=True)
class Context:
    """Facts about the run the checks need: the workspace currency and the run's time."""

    currency: str
    now: datetime
    won_cycle_days: int | None = None
    """Median days from created to close of the workspace's won deals (None: it has none);
    used for estimated close dates when the file itself has no won deal."""


@dataclass
class Problems:
    """Rejected cells: row positions with the header they concern and the reason."""

    positions: list[np.ndarray] = field(default_factory=list)
    headers: list[str | None] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)

    def add(self, mask: np.ndarray, header: str | None, reason: str) -> None:
        """Record `reason` for the rows where `mask` is true."""
        rows = np.flatnonzero(mask)
        if len(rows):
            self.positions.append(rows)
            self.headers.append(header)
            self.reasons.append(reason)

    def add_at(self, rows: np.ndarray, header: str | None, reason: str) -> None:
        """Record `reason` for the given row positions."""
        if len(rows):
            self.positions.append(np.asarray(rows, dtype=np.int64))
            self.headers.append(header)
            self.reasons.append(reason)

    def rows(self, n: int) -> np.ndarray:
        """Mask of the rows with at least one problem."""
        mask = np.zeros(n, dtype=bool)
        for rows in self.positions:
            mask[rows] = True
        return mask

    def rows_at(self, header: str | None, n: int) -> np.ndarray:
        """Mask of the rows with a problem in the given column."""
        mask = np.zeros(n, dtype=bool)
        for rows, at in zip(self.positions, self.headers, strict=True):
            if at == header:
                mask[rows] = True
        return mask


@dataclass
class Prepared:
    """A file's typed values (by field name), problems so far and rows to skip."""

    raw: RawFile
    binding: FileBinding
    values: dict[str, pa.Array]
    derived: set[str]
    problems: Problems
    skipped: np.ndarray
    fallbacks: dict[str, np.ndarray] = field(default_factory=dict)
    """Rows whose value a fallback filled, by fallback name (see FALLBACKS in summary)."""
    flags: dict[str, pa.Array] = field(default_factory=dict)
    """Extra table columns written with the rows (e.g. close_date_estimated), by column."""
    warnings: Problems = field(default_factory=Problems)
    """Problems on rows that are kept anyway (listed as warnings, never rejected)."""

    def copy(self) -> Prepared:
        """A copy whose values, derived fields and problems can change independently."""
        problems = Problems(list(self.problems.positions), list(self.problems.headers),
                            list(self.problems.reasons))
        warnings = Problems(list(self.warnings.positions), list(self.warnings.headers),
                            list(self.warnings.reasons))
        return Prepared(self.raw, self.binding, dict(self.values), set(self.derived), problems,
                        self.skipped, dict(self.fallbacks), dict(self.flags), warnings)

    @property
    def size(self) -> int:
        """Rows with the right number of fields."""
        return self.raw.table.num_rows

    def header(self, field_name: str) -> str | None:
        """The file header feeding a field, None for derived fields."""
        return self.binding.columns.get(field_name)

    @property
    def written_fields(self) -> list[str]:
        """Fields stored in the entity's table: those the file provides plus derived ones."""
        entity = self.binding.entity
        out = []
        for spec in entity.fields:
            if spec.db_column and (spec.name in self.values or spec.name in self.derived):
                out.append(spec.name)
        return out


def _translate(cells: pa.Array, table: dict[str, str], default: str | None,
               strict: bool) -> tuple[pa.Array, np.ndarray]:
    """Apply a value map to cells; unlisted values keep their text, take the default, or fail."""
    has = v.present(cells)
    keys = list(table)
    if keys:
        index = pc.index_in(v.fold(cells), value_set=pa.array(keys, pa.string()))
        hit = v.mask_of(pc.is_valid(index))
        mapped = pc.take(pa.array([table[k] for k in keys], pa.string()), index)
    else:
        hit = np.zeros(len(cells), dtype=bool)
        mapped = pa.nulls(len(cells), pa.string())
    if default is not None:
        fallback: pa.Array = pa.array(np.where(has, default, None), pa.string())
    else:
        fallback = cells.cast(pa.string())
    out = pc.if_else(pa.array(hit), mapped, fallback)
    bad = has & ~hit & strict & (default is None)
    return out, bad


def _ids(cells: pa.Array, style: str) -> v.Parsed:
    if style == "salesforce":
        return v.read_salesforce_ids(cells)
    if style == "hubspot":
        return v.read_hubspot_ids(cells)
    return v.read_text(cells, MAX_ID_LENGTH)


def _read_field(spec: FieldSpec, cells: pa.Array, binding: FileBinding, context: Context,
                dates: v.DateOptions) -> v.Parsed:
    options = binding.options
    kind = spec.kind
    if kind in ("id", "ref"):
        return _ids(cells, binding.id_style)
    if kind == "owner":
        if binding.id_style == "salesforce":
            return v.read_salesforce_ids(cells)
        return v.read_text(cells, MAX_OWNER_LENGTH)
    if kind == "text":
        parsed = v.read_text(cells, MAX_TEXT_LENGTH)
        if spec.name in ZIP_FIELDS:
            parsed.values = pc.replace_substring_regex(parsed.values, r"^([0-9]{5})-[0-9]{4}$",
                                                       r"\1")
        return parsed
    if kind == "email":
        return v.read_email(cells, MAX_OWNER_LENGTH)
    if kind == "date":
        return v.read_dates(cells, dates)
    if kind == "timestamp":
        return v.read_timestamps(cells, dates)
    if kind == "money":
        return v.read_money(cells, options.decimal_separator, options.money_unit == "cents",
                            context.currency)
    if kind == "int":
        return v.read_int(cells, options.decimal_separator, spec.minimum, spec.maximum)
    if kind == "float":
        return v.read_float(cells, options.decimal_separator, spec.minimum, spec.maximum)
    if kind == "bool":
        return v.read_bool(cells)
    return v.read_enum(cells, spec.aliases, reasons.unknown_value(spec.label))


def _date_options(binding: FileBinding, cells: dict[str, pa.Array],
                  file_name: str) -> v.DateOptions:
    """The file's date reading rules. Unless the mapping sets `date_formats` or `day_first`,
    the day/month order of numeric dates is detected once from all the file's date columns
    (CRMs write one format per export); a file no value settles is refused as a whole."""
    options = binding.options
    if options.date_formats:
        return v.DateOptions(formats=options.date_formats, timezone=options.timezone)
    dated = [s.name for s in binding.entity.fields
             if s.kind in ("date", "timestamp") and s.name in cells]
    if binding.entity is OPPORTUNITY_HISTORY:
        dated += [name for name in ("old_value", "new_value") if name in cells]
    order = v.detect_date_order([cells[name] for name in dated], options.day_first)
    if order.ambiguous_column is not None and order.example is not None:
        header = binding.columns[dated[order.ambiguous_column]]
        raise fail(file_name, _ambiguous_dates(header, order.example))
    return v.DateOptions(day_first=order.day_first, timezone=options.timezone,
                         expected=order.expected)


def _ambiguous_dates(header: str, example: str) -> str:
    """Why a file's numeric dates cannot be read, with both readings and how to choose one."""
    day_format, day_reading = v.numeric_date_reading(example, day_first=True)
    month_format, month_reading = v.numeric_date_reading(example, day_first=False)
    return (f'column "{header}" has dates such as "{example}" that read as {day_format} '
            f"({day_reading}) and as {month_format} ({month_reading}), and no value in the "
            f"file settles which; set day_first = true ({day_format}) or day_first = false "
            f'({month_format}) in the mapping, or date_formats = ["{day_format}"]')


def prepare(raw: RawFile, binding: FileBinding, context: Context,
            report: Callable[[float], None] | None = None) -> Prepared:
    """Read every bound column of a file into typed values and record what is wrong.

    `report`, when given, receives the share of columns read so far (for progress bars).
    """
    entity = binding.entity
    n = raw.table.num_rows
    options = binding.options
    problems = Problems()
    cells: dict[str, pa.Array] = {
        name: v.clean(raw.column(header), options.missing_values)
        for name, header in binding.columns.items()
    }
    source_stage = cells.get("stage")
    for name in list(cells):
        table = binding.values.get(name)
        default = binding.defaults.get(name)
        if table is None and default is None:
            continue
        strict = name in binding.strict
        cells[name], bad = _translate(cells[name], table or {}, default, strict)
        if strict:
            problems.add(bad, binding.columns[name], binding.strict[name])

    dates = _date_options(binding, cells, raw.name)
    values: dict[str, pa.Array] = {}
    skipped = np.zeros(n, dtype=bool)
    for done, (name, column) in enumerate(cells.items()):
        if report is not None:
            report(done / len(cells))
        spec = entity.field(name)
        header = binding.columns[name]
        if spec.required and not (entity is OPPORTUNITIES and name in OPEN_DEAL_FALLBACKS):
            problems.add(~v.present(column), header, reasons.MISSING_VALUE)
        if entity is OPPORTUNITY_HISTORY and name == "field":
            parsed = v.read_enum(column, spec.aliases, reasons.unknown_value(spec.label))
            skipped = v.present(column) & parsed.invalid()
            values[name] = parsed.values
            continue
        if binding.source == "hubspot" and name == "account_id":
            several = v.mask_of(pc.match_substring(column, ";"))
            problems.add(several, header, reasons.SEVERAL_COMPANIES)
            column = pc.if_else(pa.array(several), pa.scalar(None, pa.string()), column)
        parsed = _read_field(spec, column, binding, context, dates)
        for mask, reason in parsed.problems:
            problems.add(mask, header, reason)
        values[name] = parsed.values

    prepared = Prepared(raw, binding, values, set(), problems, skipped)
    _check_currency(prepared, context)
    _check_created(prepared, context)
    _check_duplicates(prepared)
    if entity is OPPORTUNITIES:
        _derive_status(prepared, source_stage)
        _fill_deal_gaps(prepared, context)
        _check_dates(prepared)
    elif entity is ACCOUNTS:
        _derive_segment(prepared)
    elif entity is OPPORTUNITY_HISTORY:
        _history_values(prepared, context, dates)
    elif entity.name == "reps" and "role" not in values:
        prepared.derived.add("role")
    return prepared


def _check_currency(prepared: Prepared, context: Context) -> None:
    currency = prepared.values.pop("currency", None)
    if currency is None:
        return
    other = v.present(currency) & ~v.mask_of(pc.equal(pc.utf8_upper(currency), context.currency))
    prepared.problems.add(other, prepared.header("currency"), reasons.CURRENCY_MISMATCH)


def _check_created(prepared: Prepared, context: Context) -> None:
    created = prepared.values.get("created_at")
    if created is None:
        return
    limit = np.datetime64(context.now + timedelta(days=1), "us").astype(np.int64)
    stamps = pc.fill_null(pc.cast(created, pa.int64()), np.iinfo(np.int64).min).to_numpy()
    prepared.problems.add(stamps > limit, prepared.header("created_at"),
                          reasons.CREATED_IN_FUTURE)


def _check_duplicates(prepared: Prepared) -> None:
    key = prepared.binding.entity.key
    ids = prepared.values.get(key)
    if ids is None:
        return
    codes, _ = pd.factorize(pd.Series(ids.to_pandas()), use_na_sentinel=True)
    duplicated = pd.Series(codes).duplicated(keep="first").to_numpy() & (codes >= 0)
    prepared.problems.add(duplicated, prepared.header(key), reasons.DUPLICATE_ID)


def _flags(values: pa.Array | None, n: int) -> np.ndarray:
    """A nullable boolean as 1 (true), 0 (false) or -1 (missing)."""
    if values is None:
        return np.full(n, -1, dtype=np.int8)
    true = v.mask_of(values)
    known = v.present(values)
    return np.where(known, true.astype(np.int8), np.int8(-1))


def _derive_status(prepared: Prepared, source_stage: pa.Array | None) -> None:
    """Status from the status column, the closed/won flags or the stage; closed_at to match."""
    values = prepared.values
    n = prepared.size
    stage_key = v.fold(values["stage"])
    stage_won = v.mask_of(pc.is_in(stage_key, value_set=pa.array(WON_STAGES, pa.string())))
    stage_lost = v.mask_of(pc.is_in(stage_key, value_set=pa.array(LOST_STAGES, pa.string())))
    by_stage = np.where(stage_won, WON, np.where(stage_lost, LOST, OPEN)).astype(np.int8)
    closed = _flags(values.pop("is_closed", None), n)
    won = _flags(values.pop("is_won", None), n)
    if "status" in values:
        status = _status_codes(values["status"])
    else:
        status = by_stage
        mapping = prepared.binding.status_from_stage
        if mapping is not None and source_stage is not None:
            default = prepared.binding.defaults.get("status")
            translated, _ = _translate(source_stage, mapping, default, strict=False)
            if default is not None:
                listed = v.present(source_stage)
            else:
                listed = v.mask_of(pc.is_in(v.fold(source_stage),
                                            value_set=pa.array(list(mapping), pa.string())))
            status = np.where(listed, _status_codes(translated), by_stage).astype(np.int8)
        elif (closed >= 0).any() or (won >= 0).any():
            won_not_closed = (won == 1) & (closed == 0)
            prepared.problems.add(won_not_closed, prepared.header("is_won"),
                                  reasons.WON_NOT_CLOSED)
            closed_status = np.where((won == -1) & (by_stage == WON), WON, LOST)
            from_flags = np.where(won == 1, WON, np.where(
                closed == 1, closed_status, np.where(closed == 0, OPEN, by_stage)))
            flagged = (closed >= 0) | (won >= 0)
            status = np.where(flagged, from_flags, by_stage).astype(np.int8)
            contradiction = flagged & ~won_not_closed & (
                (stage_won & (status != WON)) | (stage_lost & (status != LOST)))
            prepared.problems.add(contradiction, prepared.header("stage"),
                                  reasons.STAGE_CONTRADICTS_FLAGS)
        values["status"] = pc.take(STATUS_NAMES, pa.array(status))
        prepared.derived.add("status")
    if "closed_at" not in values:
        days = pc.fill_null(pc.cast(values["close_date"], pa.int32()), 0).to_numpy()
        closed_at = days.astype(np.int64) * DAY_US
        missing = ~v.present(values["close_date"]) | (status == OPEN) | (status < 0)
        values["closed_at"] = pa.array(closed_at, pa.timestamp("us"), mask=missing)
        prepared.derived.add("closed_at")


def _status_codes(statuses: pa.Array) -> np.ndarray:
    """open/won/lost text as OPEN/WON/LOST codes, -1 for anything else."""
    index = pc.index_in(statuses, value_set=STATUS_NAMES)
    return np.asarray(pc.fill_null(index, -1).to_numpy(), dtype=np.int8)


def _days(column: pa.Array) -> np.ndarray:
    """Dates or timestamps as whole days since 1970 (float, NaN where missing)."""
    if pa.types.is_timestamp(column.type):
        micros = pc.cast(column, pa.int64()).to_numpy(zero_copy_only=False)
        days = np.floor_divide(np.nan_to_num(micros.astype(float)), DAY_US)
    else:
        days = pc.cast(column, pa.int32()).to_numpy(zero_copy_only=False).astype(float)
    return np.where(v.present(column), days, np.nan)


def _fill_deal_gaps(prepared: Prepared, context: Context) -> None:
    """Keep deals a CRM exports with gaps: fill the account, and an open deal's dates.

    A deal without an account goes to the unknown-account bucket. A closed deal needs its close
    date (taken from `closed_at` when only that is given) and its created date. An open deal
    without a created date gets the file's newest date of any deal (not after the import day);
    one without a close date gets the mapping's `open_deal_close_date`, or created + the median
    sales cycle of won deals (in the file, else the workspace, else 90 days); a date before the
    deal's created date also becomes created + that cycle. Estimated dates are flagged.
    """
    values = prepared.values
    n = prepared.size
    status = _status_codes(values["status"])
    closed = (status == WON) | (status == LOST)
    no_account = ~v.present(values["account_id"])
    values["account_id"] = pc.fill_null(values["account_id"], UNKNOWN_ACCOUNT_ID)
    prepared.fallbacks["unknown_account"] = no_account

    close_days = _days(values["close_date"])
    created_days = _days(values["created_at"])
    if "closed_at" in prepared.binding.columns:
        from_closed_at = closed & np.isnan(close_days) & v.present(values["closed_at"])
        close_days = np.where(from_closed_at, _days(values["closed_at"]), close_days)
    for name, days in (("close_date", close_days), ("created_at", created_days)):
        header = prepared.header(name)
        empty = np.isnan(days) & ~prepared.problems.rows_at(header, n)
        prepared.problems.add(closed & empty, header, reasons.MISSING_VALUE)

    fine = ~prepared.problems.rows(n)
    won_both = fine & (status == WON) & ~np.isnan(close_days) & ~np.isnan(created_days)
    if won_both.any():
        cycle = int(round(float(np.median(close_days[won_both] - created_days[won_both]))))
    elif context.won_cycle_days is not None:
        cycle = context.won_cycle_days
    else:
        cycle = DEFAULT_CYCLE_DAYS
    cycle = max(cycle, 0)

    open_deal = ~closed & fine
    created_gap = open_deal & np.isnan(created_days)
    if created_gap.any():
        known = np.concatenate([created_days[fine], close_days[fine]])
        known = known[~np.isnan(known)]
        today = float(np.datetime64(context.now, "D").astype(np.int64))
        newest = min(float(known.max()), today) if len(known) else today
        created_days = np.where(created_gap, newest, created_days)
    close_gap = open_deal & np.isnan(close_days)
    chosen = prepared.binding.options.open_deal_close_date
    by_cycle = created_days + cycle
    if chosen is not None:
        fixed = float(np.datetime64(chosen, "D").astype(np.int64))
        estimate = np.where(fixed < created_days, by_cycle, fixed)
    else:
        estimate = by_cycle
    close_days = np.where(close_gap, estimate, close_days)

    prepared.fallbacks["close_date_estimated"] = close_gap
    prepared.fallbacks["created_estimated"] = created_gap
    prepared.flags["close_date_estimated"] = pa.array(close_gap)
    prepared.flags["created_estimated"] = pa.array(created_gap)
    if close_gap.any() or closed.any():
        filled = ~np.isnan(close_days)
        values["close_date"] = pa.array(np.where(filled, close_days, 0).astype(np.int32),
                                        pa.int32(), mask=~filled).cast(pa.date32())
    if created_gap.any():
        stamps = np.where(created_gap, created_days, 0).astype(np.int64) * DAY_US
        estimated = pa.array(stamps, pa.timestamp("us"))
        values["created_at"] = pc.if_else(pa.array(created_gap), estimated,
                                          values["created_at"].cast(pa.timestamp("us")))
    if "closed_at" in prepared.derived:
        days = np.where(np.isnan(close_days), 0, close_days).astype(np.int64)
        values["closed_at"] = pa.array(days * DAY_US, pa.timestamp("us"),
                                       mask=~closed | np.isnan(close_days))


def _check_dates(prepared: Prepared) -> None:
    close = prepared.values["close_date"]
    created = prepared.values["created_at"]
    both = v.present(close) & v.present(created)
    close_days = pc.fill_null(pc.cast(close, pa.int32()), 0).to_numpy().astype(np.int64)
    created_days = np.floor_divide(
        pc.fill_null(pc.cast(created, pa.int64()), 0).to_numpy(), DAY_US)
    prepared.problems.add(both & (close_days < created_days), prepared.header("close_date"),
                          reasons.CLOSE_BEFORE_CREATED)


def _derive_segment(prepared: Prepared) -> None:
    values = prepared.values
    if "segment" in values or "employees" not in values:
        return
    employees = values["employees"]
    count = pc.fill_null(employees, 0).to_numpy()
    segment = np.where(count < 100, "SMB", np.where(count < 1000, "Mid-Market", "Enterprise"))
    values["segment"] = pa.array(segment.astype(object), pa.string(),
                                 mask=~v.present(employees))
    prepared.derived.add("segment")


def _history_values(prepared: Prepared, context: Context, dates: v.DateOptions) -> None:
    """Old and new values in RevPlan's form: amounts in cents, dates ISO, categories named."""
    values = prepared.values
    kind = values["field"].to_numpy(zero_copy_only=False)
    options = prepared.binding.options
    category = OPPORTUNITIES.field("forecast_category")
    for name in ("old_value", "new_value"):
        if name not in values:
            continue
        header = prepared.header(name)
        column = values[name]
        for field_name in ("amount", "close_date", "forecast_category"):
            rows = np.flatnonzero((kind == field_name) & v.present(column))
            if not len(rows):
                continue
            subset = pc.take(column, pa.array(rows))
            if field_name == "amount":
                parsed = v.read_money(subset, options.decimal_separator,
                                      options.money_unit == "cents", context.currency)
                text = pc.cast(parsed.values, pa.string())
            elif field_name == "close_date":
                parsed = v.read_dates(subset, dates)
                text = pc.cast(parsed.values, pa.string())
            else:
                parsed = v.read_enum(subset, category.aliases,
                                     reasons.unknown_value(category.label))
                text = parsed.values
            for mask, reason in parsed.problems:
                prepared.problems.add_at(rows[mask], header, reason)
            mask = np.zeros(len(column), dtype=bool)
            mask[rows] = True
            column = pc.replace_with_mask(column, pa.array(mask), text.cast(column.type))
        values[name] = column
