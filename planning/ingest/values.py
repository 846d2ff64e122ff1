"""Vectorised readers for CSV cell values: text, ids, booleans, numbers, money and dates.

Every reader takes an Arrow string array (null = missing cell, already trimmed by `clean`) and
returns the typed values with the problems it found: boolean row masks, each with a reason.
A reader reports at most one reason per cell and leaves the value null where it reports one,
so a million cells cost a handful of Arrow kernels instead of a million Python calls.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from planning.ingest import reasons

DAY_MICROS = 86_400_000_000
MIN_YEAR = 1900
MAX_YEAR = 2100
MAX_AMOUNT_DIGITS = 13
"""Amounts need at most 13 integer digits (under ten trillion currency units)."""

TRUE_WORDS = ("true", "t", "yes", "y", "1")
FALSE_WORDS = ("false", "f", "no", "n", "0")

CURRENCY_SYMBOLS: dict[str, frozenset[str]] = {
    "$": frozenset({"USD", "CAD", "AUD", "NZD", "SGD", "HKD", "MXN"}),
    "US$": frozenset({"USD"}),
    "CA$": frozenset({"CAD"}),
    "C$": frozenset({"CAD"}),
    "A$": frozenset({"AUD"}),
    "€": frozenset({"EUR"}),
    "£": frozenset({"GBP"}),
    "¥": frozenset({"JPY", "CNY"}),
    "₹": frozenset({"INR"}),
}


@dataclass
class Parsed:
    """Typed values (null where missing or invalid) and the problems found on the way."""

    values: pa.Array
    problems: list[tuple[np.ndarray, str]] = field(default_factory=list)

    def invalid(self) -> np.ndarray:
        """Rows with any problem."""
        out = np.zeros(len(self.values), dtype=bool)
        for mask, _ in self.problems:
            out |= mask
        return out


def mask_of(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A boolean Arrow result as a numpy mask, nulls counting as False."""
    filled = pc.fill_null(values, False)
    return np.asarray(filled.to_numpy(zero_copy_only=False), dtype=bool)


def present(cells: pa.Array) -> np.ndarray:
    """Rows whose cell has a value."""
    return mask_of(pc.is_valid(cells))


def clean(cells: pa.Array, missing_values: Iterable[str] = ()) -> pa.Array:
    """Trim whitespace and turn empty cells (and the given stand-in values) into nulls."""
    trimmed = pc.utf8_trim_whitespace(cells)
    empty = pc.equal(trimmed, "")
    tokens = sorted({token.strip().casefold() for token in missing_values})
    if tokens:
        listed = pc.is_in(pc.utf8_lower(trimmed), value_set=pa.array(tokens, pa.string()))
        empty = pc.or_(empty, listed)
    return pc.if_else(empty, pa.scalar(None, trimmed.type), trimmed)


def _matches(cells: pa.Array, pattern: str) -> np.ndarray:
    return mask_of(pc.match_substring_regex(cells, pattern))


def _null_where(values: pa.Array, mask: np.ndarray) -> pa.Array:
    if not mask.any():
        return values
    return pc.if_else(pa.array(mask), pa.scalar(None, values.type), values)


def _claim(problems: list[tuple[np.ndarray, str]], taken: np.ndarray, mask: np.ndarray,
           reason: str) -> None:
    """Record `reason` for the rows of `mask` not already given a reason."""
    fresh = mask & ~taken
    if fresh.any():
        problems.append((fresh, reason))
        taken |= fresh


def read_text(cells: pa.Array, max_length: int) -> Parsed:
    """Text as given, rejecting values longer than `max_length` characters."""
    too_long = mask_of(pc.greater(pc.utf8_length(cells), max_length))
    problems = [(too_long, reasons.VALUE_TOO_LONG)] if too_long.any() else []
    return Parsed(_null_where(cells, too_long), problems)


def read_email(cells: pa.Array, max_length: int) -> Parsed:
    """E-mail addresses: something@domain.tld without spaces."""
    parsed = read_text(cells, max_length)
    bad = present(parsed.values) & ~_matches(parsed.values, r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    if bad.any():
        parsed.problems.append((bad, reasons.INVALID_EMAIL))
        parsed.values = _null_where(parsed.values, bad)
    return parsed


def salesforce_id18(id15: str) -> str:
    """The case-safe 18-character form of a 15-character Salesforce id."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
    suffix = ""
    for start in range(0, 15, 5):
        bits = sum(1 << i for i, ch in enumerate(id15[start:start + 5]) if "A" <= ch <= "Z")
        suffix += alphabet[bits]
    return id15 + suffix


def read_salesforce_ids(cells: pa.Array) -> Parsed:
    """Salesforce ids (15 or 18 letters and digits), 15-character ids widened to 18."""
    ok = _matches(cells, r"^[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?$")
    bad = present(cells) & ~ok
    values = _null_where(cells, bad)
    short = ok & mask_of(pc.equal(pc.utf8_length(cells), 15))
    if short.any():
        idx = np.flatnonzero(short)
        widened = [salesforce_id18(v) for v in pc.take(cells, pa.array(idx)).to_pylist()]
        full = np.asarray(values.to_pylist(), dtype=object)
        full[idx] = widened
        values = pa.array(full, type=cells.type)
    return Parsed(values, [(bad, reasons.INVALID_SALESFORCE_ID)] if bad.any() else [])


def read_hubspot_ids(cells: pa.Array) -> Parsed:
    """HubSpot record ids: digits only."""
    bad = present(cells) & ~_matches(cells, r"^[0-9]+$")
    return Parsed(_null_where(cells, bad), [(bad, reasons.INVALID_HUBSPOT_ID)] if bad.any() else [])


def read_bool(cells: pa.Array) -> Parsed:
    """true/false, yes/no, y/n, t/f or 1/0 in any letter case."""
    lower = pc.utf8_lower(cells)
    is_true = mask_of(pc.is_in(lower, value_set=pa.array(TRUE_WORDS)))
    is_false = mask_of(pc.is_in(lower, value_set=pa.array(FALSE_WORDS)))
    bad = present(cells) & ~is_true & ~is_false
    values = pa.array(is_true, type=pa.bool_(), mask=~(is_true | is_false))
    return Parsed(values, [(bad, reasons.INVALID_BOOLEAN)] if bad.any() else [])


def fold(cells: pa.Array) -> pa.Array:
    """Cells folded for lookups like `fields.fold_value`: lower case, letters and digits only.

    The folding runs once per distinct value, which is cheap for the low-cardinality columns
    (stages, categories, flags) it is used on.
    """
    encoded = pc.dictionary_encode(cells)
    folded = pc.replace_substring_regex(pc.utf8_lower(encoded.dictionary), r"[^\p{L}\p{N}]", "")
    return pc.take(folded, encoded.indices)


def read_enum(cells: pa.Array, aliases: dict[str, str], reason: str) -> Parsed:
    """Map folded spellings to canonical values; other values are rejected with `reason`."""
    folded = fold(cells)
    keys = list(aliases)
    index = pc.index_in(folded, value_set=pa.array(keys, pa.string()))
    known = mask_of(pc.is_valid(index))
    targets = pa.array([aliases[k] for k in keys], pa.string())
    values = pc.take(targets, index)
    bad = present(cells) & ~known
    return Parsed(values, [(bad, reason)] if bad.any() else [])


# Numbers ---------------------------------------------------------------------------------

_NUMBER = (
    r"^(?P<open>\()?\s*(?P<s1>[-+\x{2212}])?\s*(?P<c1>[A-Z]{3}|[A-Z]{0,2}[$€£¥₹])?\s*"
    r"(?P<s2>[-+\x{2212}])?\s*(?P<num>[0-9][0-9.,' \x{a0}\x{202f}]*)\s*"
    r"(?P<c2>[A-Z]{3}|[$€£¥₹])?\s*(?P<s3>-)?\s*(?P<close>\))?$"
)
_SCIENTIFIC = r"^[-+]?[0-9]+(?:\.[0-9]+)?[eE][-+]?[0-9]+$"
_PLAIN = r"^[0-9]+$"
_SIMPLE = r"^[0-9]+(?:\.[0-9]+)?$"
_AMBIGUOUS_POINT = r"^[1-9][0-9]{0,2}\.[0-9]{3}$"
_SPACE_GROUPED = r"^[1-9][0-9]{0,2}(?:[ '\x{a0}\x{202f}][0-9]{3})+(?:[.,][0-9]+)?$"
_POINT_DECIMAL = r"^(?:[1-9][0-9]{0,2}(?:,[0-9]{3})+(?:\.[0-9]+)?|[0-9]+\.[0-9]+)$"
_COMMA_DECIMAL = r"^(?:[1-9][0-9]{0,2}(?:\.[0-9]{3})+(?:,[0-9]+)?|[0-9]+,[0-9]+)$"


@dataclass
class Numbers:
    """Numbers split into exact digit strings, or a float for scientific notation."""

    digits: pa.Array
    """Normalised 'int.frac' or 'int' text; null where missing, scientific or invalid."""
    scientific: np.ndarray
    floats: np.ndarray
    negative: np.ndarray
    currency: pa.Array
    problems: list[tuple[np.ndarray, str]]
    taken: np.ndarray


def _group(struct: pa.Array, name: str) -> pa.Array:
    """A regex group of `extract_regex` results, "" where the value did not match."""
    return pc.fill_null(pc.struct_field(struct, name), "")


def _nonempty(values: pa.Array) -> np.ndarray:
    return mask_of(pc.not_equal(values, ""))


def read_numbers(cells: pa.Array, decimal: str | None, whole: bool, invalid_reason: str,
                 allow_currency: bool) -> Numbers:
    """Split numbers into exact parts; plain values ("1200", "1200.5") take a fast path.

    See `_read_general_numbers` for the rules on separators, signs and currencies.
    """
    n = len(cells)
    has = present(cells)
    if decimal == ",":
        simple = _matches(cells, _PLAIN)
    else:
        simple = _matches(cells, _SIMPLE) & ~_matches(cells, _AMBIGUOUS_POINT)
    rest = has & ~simple
    digits = _null_where(cells, ~simple)
    numbers = Numbers(digits, np.zeros(n, dtype=bool), np.zeros(n, dtype=float),
                      np.zeros(n, dtype=bool), pa.nulls(n, pa.string()), [],
                      np.zeros(n, dtype=bool))
    if not rest.any():
        return numbers
    point_seen = bool((simple & mask_of(pc.match_substring(cells, "."))).any())
    idx = np.flatnonzero(rest)
    sub = _read_general_numbers(pc.take(cells, pa.array(idx)), decimal, whole, invalid_reason,
                                allow_currency, point_seen)
    where = pa.array(rest)
    numbers.digits = pc.replace_with_mask(digits, where, sub.digits.cast(digits.type))
    numbers.currency = pc.replace_with_mask(numbers.currency, where, sub.currency)
    numbers.scientific[idx] = sub.scientific
    numbers.floats[idx] = sub.floats
    numbers.negative[idx] = sub.negative
    numbers.taken[idx] = sub.taken
    for mask, reason in sub.problems:
        full = np.zeros(n, dtype=bool)
        full[idx] = mask
        numbers.problems.append((full, reason))
    return numbers


def _read_general_numbers(cells: pa.Array, decimal: str | None, whole: bool,
                          invalid_reason: str, allow_currency: bool,
                          point_seen: bool) -> Numbers:
    """Split numbers like "$1,200.50", "1.200,50 €", "(300)" or "1.5e6" into exact parts.

    The decimal separator of a value with both '.' and ',' is the last one; a lone separator
    followed by other than three digits is decimal; repeated separators group thousands.
    A lone separator followed by exactly three digits ("1,200", "1.200") is ambiguous: it
    follows `decimal` when given, else the column's other values when they agree, else '.'.
    For whole-number fields an ambiguous separator groups thousands. Values that remain
    ambiguous because the column uses both conventions are rejected.
    """
    n = len(cells)
    has = present(cells)
    taken = np.zeros(n, dtype=bool)
    problems: list[tuple[np.ndarray, str]] = []

    scientific = _matches(cells, _SCIENTIFIC)
    floats = np.zeros(n, dtype=float)
    if scientific.any():
        idx = np.flatnonzero(scientific)
        floats[idx] = pc.cast(pc.take(cells, pa.array(idx)), pa.float64()).to_numpy()

    parts = pc.extract_regex(cells, _NUMBER)
    matched = mask_of(pc.is_valid(parts)) & ~scientific
    _claim(problems, taken, has & ~matched & ~scientific, invalid_reason)

    opened = _nonempty(_group(parts, "open"))
    closed = _nonempty(_group(parts, "close"))
    signs = [_group(parts, s) for s in ("s1", "s2", "s3")]
    sign_count = sum(_nonempty(s).astype(int) for s in signs)
    minus = np.zeros(n, dtype=bool)
    for s in signs:
        minus |= mask_of(pc.is_in(s, value_set=pa.array(["-", "\u2212"])))
    c1, c2 = _group(parts, "c1"), _group(parts, "c2")
    both_currencies = _nonempty(c1) & _nonempty(c2)
    _claim(problems, taken, matched & ((opened != closed) | (sign_count > 1) | both_currencies
                                       | ((opened & closed) & (sign_count > 0))),
           invalid_reason)
    currency = pc.if_else(pa.array(_nonempty(c1)), c1, c2)
    currency = pc.if_else(pc.equal(currency, ""), pa.scalar(None, pa.string()), currency)
    if not allow_currency:
        _claim(problems, taken, matched & present(currency), invalid_reason)
    negative = (minus | (opened & closed) | (scientific & _matches(cells, r"^-"))) & has
    scientific_abs = np.abs(floats)

    num = pc.utf8_trim_whitespace(_group(parts, "num"))
    plain = _matches(num, _PLAIN)
    spaced = _matches(num, _SPACE_GROUPED)
    point = _matches(num, _POINT_DECIMAL)
    comma = _matches(num, _COMMA_DECIMAL)
    live = matched & ~taken
    ambiguous = point & comma & live
    point_only = point & ~comma & live
    comma_only = comma & ~point & live
    _claim(problems, taken, live & ~(plain | spaced | point | comma), invalid_reason)

    none = np.zeros(n, dtype=bool)
    point_evidence = point_seen or bool(point_only.any())
    comma_evidence = bool(comma_only.any())
    if whole:
        by_comma = _matches(num, r"^[0-9]{1,3},[0-9]{3}$")
        ambiguous_point, ambiguous_comma = ambiguous & by_comma, ambiguous & ~by_comma
    elif decimal is None and point_evidence and comma_evidence:
        _claim(problems, taken, ambiguous, reasons.AMBIGUOUS_NUMBER)
        ambiguous_point = ambiguous_comma = none
    elif (decimal or ("," if comma_evidence else ".")) == ",":
        ambiguous_point, ambiguous_comma = none, ambiguous
    else:
        ambiguous_point, ambiguous_comma = ambiguous, none
    if decimal == ".":
        _claim(problems, taken, comma_only, invalid_reason)
    elif decimal == ",":
        _claim(problems, taken, point_only, invalid_reason)
    use_point = (point_only | ambiguous_point) & ~taken
    use_comma = (comma_only | ambiguous_comma) & ~taken

    unspaced = pc.replace_substring_regex(num, r"[ '\x{a0}\x{202f}]", "")
    as_point = pc.replace_substring(unspaced, ",", "")
    as_comma = pc.replace_substring(pc.replace_substring(unspaced, ".", ""), ",", ".")
    as_spaced = pc.replace_substring(unspaced, ",", ".")
    digits = pc.if_else(pa.array(use_comma), as_comma,
                        pc.if_else(pa.array(spaced), as_spaced, as_point))
    keep = (plain | spaced | use_point | use_comma) & matched & ~taken
    digits = _null_where(digits, ~keep)
    floats = np.where(scientific, scientific_abs, 0.0)
    return Numbers(digits, scientific & ~taken, floats, negative, currency, problems, taken)


def _split(digits: pa.Array) -> tuple[pa.Array, pa.Array]:
    """'123.45' -> ('123', '45'); '123' -> ('123', '')."""
    parts = pc.extract_regex(digits, r"^(?P<i>[0-9]+)(?:\.(?P<f>[0-9]*))?$")
    return _group(parts, "i"), _group(parts, "f")


def _int_digits(int_part: pa.Array, limit: int) -> tuple[np.ndarray, np.ndarray]:
    """Integer parts as int64 and a mask of the ones longer than `limit` digits."""
    stripped = pc.utf8_ltrim(int_part, "0")
    too_long = mask_of(pc.greater(pc.utf8_length(stripped), limit))
    safe = pc.if_else(pa.array(too_long), "0", pc.if_else(pc.equal(stripped, ""), "0", stripped))
    values = pc.cast(pc.fill_null(safe, "0"), pa.int64()).to_numpy(zero_copy_only=False)
    return np.asarray(values, dtype=np.int64), too_long


def read_money(cells: pa.Array, decimal: str | None, in_cents: bool,
               currency: str) -> Parsed:
    """Amounts to integer cents, rounding half away from zero at the third decimal."""
    nums = read_numbers(cells, decimal, whole=in_cents, invalid_reason=reasons.INVALID_AMOUNT,
                        allow_currency=True)
    problems, taken = nums.problems, nums.taken
    valid = present(nums.digits)
    int_part, frac = _split(pc.fill_null(nums.digits, "0"))
    units, too_long = _int_digits(int_part, MAX_AMOUNT_DIGITS + (2 if in_cents else 0))
    frac3 = pc.utf8_slice_codeunits(pc.utf8_rpad(frac, 3, "0"), 0, 3)
    thousandths = np.asarray(pc.cast(frac3, pa.int64()).to_numpy(), dtype=np.int64)
    if in_cents:
        cents = units
        _claim(problems, taken, valid & (thousandths > 0), reasons.NOT_WHOLE_NUMBER)
        sci_cents = np.round(nums.floats)
        _claim(problems, taken, nums.scientific & (sci_cents != nums.floats),
               reasons.NOT_WHOLE_NUMBER)
    else:
        cents = units * 100 + (thousandths + 5) // 10
        sci_cents = np.floor(nums.floats * 100 + 0.5)
    sci_range = nums.scientific & (sci_cents >= 10.0 ** (MAX_AMOUNT_DIGITS + 2))
    _claim(problems, taken, (valid & too_long) | sci_range, reasons.AMOUNT_OUT_OF_RANGE)
    cents = np.where(nums.scientific & ~sci_range, np.nan_to_num(sci_cents), cents)
    cents = np.asarray(cents, dtype=np.int64)
    cents = np.where(nums.negative, -cents, cents)

    stated = present(nums.currency)
    if stated.any():
        allowed = {code for code, codes in CURRENCY_SYMBOLS.items() if currency in codes}
        allowed.add(currency)
        foreign = stated & ~mask_of(pc.is_in(nums.currency, value_set=pa.array(sorted(allowed))))
        _claim(problems, taken, foreign & (valid | nums.scientific), reasons.CURRENCY_MISMATCH)
    _claim(problems, taken, (valid | nums.scientific) & nums.negative & (cents != 0),
           reasons.NEGATIVE_AMOUNT)
    ok = (valid | nums.scientific) & ~taken
    return Parsed(pa.array(cents, type=pa.int64(), mask=~ok), problems)


def read_int(cells: pa.Array, decimal: str | None, minimum: float | None,
             maximum: float | None) -> Parsed:
    """Whole numbers, thousands separators allowed, within [minimum, maximum]."""
    nums = read_numbers(cells, decimal, whole=True, invalid_reason=reasons.INVALID_NUMBER,
                        allow_currency=False)
    problems, taken = nums.problems, nums.taken
    valid = present(nums.digits)
    int_part, frac = _split(pc.fill_null(nums.digits, "0"))
    values, too_long = _int_digits(int_part, 15)
    fractional = _matches(frac, r"[1-9]")
    _claim(problems, taken, valid & fractional, reasons.NOT_WHOLE_NUMBER)
    sci_whole = nums.scientific & (np.floor(nums.floats) == nums.floats) & (nums.floats < 1e15)
    _claim(problems, taken, nums.scientific & ~sci_whole, reasons.NOT_WHOLE_NUMBER)
    values = np.where(sci_whole, nums.floats, values).astype(np.int64)
    values = np.where(nums.negative, -values, values)
    ok = (valid | sci_whole) & ~taken
    out_of_range = ok & too_long
    if minimum is not None:
        out_of_range |= ok & (values < minimum)
    if maximum is not None:
        out_of_range |= ok & (values > maximum)
    _claim(problems, taken, out_of_range, reasons.NUMBER_OUT_OF_RANGE)
    ok &= ~taken
    return Parsed(pa.array(values, type=pa.int64(), mask=~ok), problems)


def read_float(cells: pa.Array, decimal: str | None, minimum: float | None,
               maximum: float | None) -> Parsed:
    """Decimal numbers within [minimum, maximum]."""
    nums = read_numbers(cells, decimal, whole=False, invalid_reason=reasons.INVALID_NUMBER,
                        allow_currency=False)
    problems, taken = nums.problems, nums.taken
    valid = present(nums.digits)
    values = np.asarray(pc.cast(pc.fill_null(nums.digits, "0"), pa.float64()).to_numpy(),
                        dtype=float)
    values = np.where(nums.scientific, nums.floats, values)
    values = np.where(nums.negative, -values, values)
    ok = (valid | nums.scientific) & ~taken
    out_of_range = ok & ~np.isfinite(values)
    if minimum is not None:
        out_of_range |= ok & (values < minimum)
    if maximum is not None:
        out_of_range |= ok & (values > maximum)
    _claim(problems, taken, out_of_range, reasons.NUMBER_OUT_OF_RANGE)
    ok &= ~taken
    return Parsed(pa.array(values, type=pa.float64(), mask=~ok), problems)


# Dates -----------------------------------------------------------------------------------

TWO_DIGIT_YEAR_PIVOT = 70
"""Two-digit years below 70 are 20yy, the others 19yy: `16` is 2016, `85` is 1985."""
EXCEL_SERIAL_MIN = 20_000
EXCEL_SERIAL_MAX = 80_000
"""Excel day numbers read as dates (1954-10-03 to 2119-01-10) when a whole column is in range."""
EXCEL_SERIAL_1970 = 25_569
"""Excel's day number of 1970-01-01 (1900 date system: serials count days from 1899-12-30)."""

_ZONE = r"\s*(?P<tz>Z|UTC|GMT|[-+][0-9]{2}(?::?[0-9]{2})?)?"
_TIME = (r"(?:(?:[T ]+|,\s*)(?P<H>[0-9]{1,2}):(?P<M>[0-9]{2})(?::(?P<S>[0-9]{2})"
         r"(?:[.,](?P<F>[0-9]{1,9}))?)?\s*(?P<ampm>[AaPp]\.?[Mm]\.?)?" + _ZONE + ")?")
_WEEKDAY = r"(?:[A-Za-z]{3,9},?\s+)?"
_YEAR = r"(?P<Y>[0-9]{4}|[0-9]{2})"
_NUMERIC = "numeric"
DATE_PATTERNS: tuple[tuple[str, str], ...] = (
    ("ymd", r"^(?P<Y>[0-9]{4})[-/](?P<Mo>[0-9]{1,2})[-/](?P<D>[0-9]{1,2})" + _TIME + "$"),
    (_NUMERIC, r"^(?P<A>[0-9]{1,2})(?P<sep>[/-])(?P<B>[0-9]{1,2})[/-]" + _YEAR + _TIME + "$"),
    ("dotted", r"^(?P<D>[0-9]{1,2})\.(?P<Mo>[0-9]{1,2})\." + _YEAR + _TIME + "$"),
    ("day_month_name", "^" + _WEEKDAY + r"(?P<D>[0-9]{1,2})(?:st|nd|rd|th)?[ -]?"
     r"(?P<Mon>[A-Za-z]{3,9})\.?[ ,-]*" + _YEAR + _TIME + "$"),
    ("month_name_day", "^" + _WEEKDAY + r"(?P<Mon>[A-Za-z]{3,9})\.? (?P<D>[0-9]{1,2})"
     r"(?:st|nd|rd|th)?,? (?P<Y>[0-9]{4})" + _TIME + "$"),
)
_NUMERIC_START = r"^[0-9]{1,2}[/-]"
DISTINCT_SAMPLE = 10_000
"""Values sampled to decide whether a column repeats enough to read each distinct value once."""
_SERIAL = r"^[0-9]{5}(?:\.[0-9]+)?$"
_MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august",
           "september", "october", "november", "december")
_MONTH_SPELLINGS: dict[str, int] = {}
for _number, _name in enumerate(_MONTHS, start=1):
    _MONTH_SPELLINGS[_name] = _number
    _MONTH_SPELLINGS[_name[:3]] = _number
_MONTH_SPELLINGS["sept"] = 9


@dataclass(frozen=True)
class DateOptions:
    """How a file writes dates: explicit formats, the numeric day/month order, the naive time
    zone, and the file's numeric format (named when a value does not fit it)."""

    formats: tuple[str, ...] = ()
    day_first: bool = False
    timezone: str | None = None
    expected: str | None = None


@dataclass(frozen=True)
class DateOrder:
    """The day/month order of a file's numeric dates (`20-10-16`, `10/20/2016`)."""

    day_first: bool
    expected: str | None
    """The file's numeric format in strftime form ("%d-%m-%y"); None without numeric dates."""
    ambiguous_column: int | None = None
    """Index of the first column holding a value both orders read, as different dates, when
    no value settles the order."""
    example: str | None = None
    """That value."""


def numeric_date_format(day_first: bool, separator: str, short_year: bool) -> str:
    """The strftime format of a numeric date: `numeric_date_format(True, "-", True)` is
    "%d-%m-%y"."""
    first, second = ("%d", "%m") if day_first else ("%m", "%d")
    return f"{first}{separator}{second}{separator}{'%y' if short_year else '%Y'}"


def _years(parts: pa.Array) -> np.ndarray:
    """Years of regex parts, two-digit years mapped to 1970-2069."""
    year = _ints(parts, "Y")
    short = mask_of(pc.equal(pc.utf8_length(_texts(parts, "Y")), 2))
    century = np.where(year < TWO_DIGIT_YEAR_PIVOT, 2000, 1900)
    return np.where(short, century + year, year)


def detect_date_order(columns: Sequence[pa.Array], day_first: bool | None = None) -> DateOrder:
    """Decide the day/month order of a file's numeric dates from all its date columns at once.

    A value only one order can read (`20-10-16` is day first) is evidence for that order; the
    order with more evidence wins, month first on a tie (the US default of Salesforce and
    HubSpot). Without any evidence the file is ambiguous when some value reads as two different
    dates (`10-11-12`); the caller refuses it. `day_first`, when set, decides without evidence.
    Repeated values are read once (see `_distinct`), which keeps a million rows cheap.
    """
    pattern = DATE_PATTERNS[1][1]
    day_only = month_only = 0
    shape: tuple[str, bool] | None = None
    ambiguous: tuple[int, str] | None = None
    for index, cells in enumerate(columns):
        numeric = _matches(cells, _NUMERIC_START)
        if not numeric.any():
            continue
        values = _distinct(pc.filter(cells, pa.array(numeric)))[0]
        parts = pc.extract_regex(values, pattern)
        found = mask_of(pc.is_valid(parts))
        if not found.any():
            continue
        parts = pc.filter(parts, pa.array(found))
        if shape is None:
            first = parts[0].as_py()
            shape = (first["sep"], len(first["Y"]) == 2)
        if day_first is not None:
            continue
        a, b, year = _ints(parts, "A"), _ints(parts, "B"), _years(parts)
        as_day_first = _epoch_days(year, b, a)[1]
        as_month_first = _epoch_days(year, a, b)[1]
        day_only += int((as_day_first & ~as_month_first).sum())
        month_only += int((as_month_first & ~as_day_first).sum())
        differ = np.flatnonzero(as_day_first & as_month_first & (a != b))
        if ambiguous is None and len(differ):
            ambiguous = (index, pc.filter(values, pa.array(found))[int(differ[0])].as_py())
    if day_first is None:
        day_first = day_only > month_only
        if day_only or month_only:
            ambiguous = None
    expected = numeric_date_format(day_first, *shape) if shape else None
    if ambiguous is None:
        return DateOrder(day_first, expected)
    return DateOrder(day_first, expected, ambiguous[0], ambiguous[1])


def numeric_date_reading(example: str, day_first: bool) -> tuple[str, str]:
    """The strftime format of a numeric date value and the date it means in one order:
    ("%d-%m-%y", "10 Nov 2012") for "10-11-12" read day first."""
    parts = pc.extract_regex(pa.array([example], pa.string()), DATE_PATTERNS[1][1])
    fields = parts[0].as_py()
    fmt = numeric_date_format(day_first, fields["sep"], len(fields["Y"]) == 2)
    day = read_dates(pa.array([example], pa.string()), DateOptions(day_first=day_first))
    value = day.values[0].as_py()
    return fmt, (f"{value.day} {value:%b %Y}" if value is not None else "no date")


def _ints(parts: pa.Array, name: str, default: int = -1) -> np.ndarray:
    if name not in [parts.type.field(i).name for i in range(parts.type.num_fields)]:
        return np.full(len(parts), default, dtype=np.int64)
    values = _group(parts, name)
    values = pc.if_else(pc.equal(values, ""), pa.scalar(None, pa.string()), values)
    out = pc.fill_null(pc.cast(values, pa.int64()), default)
    return np.asarray(out.to_numpy(), dtype=np.int64)


def _texts(parts: pa.Array, name: str) -> pa.Array:
    if name not in [parts.type.field(i).name for i in range(parts.type.num_fields)]:
        return pa.array([""] * len(parts), pa.string())
    return _group(parts, name)


def _epoch_days(year: np.ndarray, month: np.ndarray, day: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray]:
    months = (year - 1970) * 12 + (month - 1)
    start = months.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)
    end = (months + 1).astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)
    days = start + day - 1
    valid = (month >= 1) & (month <= 12) & (day >= 1) & (days < end)
    return days, valid


def _zone_minutes(zone: pa.Array) -> np.ndarray:
    """Minutes east of UTC for "+hh", "+hhmm" or "+hh:mm" (Z, UTC, GMT and none are 0)."""
    out = np.zeros(len(zone), dtype=np.int64)
    signed = np.flatnonzero(_matches(zone, r"^[-+]"))
    if not len(signed):
        return out
    digits = pc.replace_substring(pc.take(zone, pa.array(signed)), ":", "")
    hours = pc.cast(pc.utf8_slice_codeunits(digits, 1, 3), pa.int64()).to_numpy()
    minutes_text = pc.utf8_slice_codeunits(digits, 3, 5)
    minutes_text = pc.if_else(pc.equal(minutes_text, ""), "0", minutes_text)
    minutes = pc.cast(minutes_text, pa.int64()).to_numpy()
    sign = np.where(mask_of(pc.starts_with(pc.take(zone, pa.array(signed)), "-")), -1, 1)
    out[signed] = sign * (hours * 60 + minutes)
    return out


@dataclass
class _DateParts:
    """Date cells split into parts; `bad` marks present cells no rule has read (yet), `misfit`
    those among them that are not written in any recognised form or in the file's order."""

    days: np.ndarray
    micros: np.ndarray
    offset: np.ndarray
    zoned: np.ndarray
    ok: np.ndarray
    bad: np.ndarray
    misfit: np.ndarray


_ISO = (r"^[0-9]{4}-[0-9]{2}-[0-9]{2}(?:[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,9})?)?"
        r"(?:Z|[-+][0-9]{2}(?::?[0-9]{2})?)?)?$")
_ISO_ZONED = r"[T ][0-9:.]+(?:Z|[-+][0-9]{2}(?::?[0-9]{2})?)$"


def _iso_fast_path(cells: pa.Array, as_date: bool, parts: _DateParts) -> None:
    """Parse ISO 8601 values (the usual CRM export form) with pandas' compiled parser."""
    pending = parts.bad
    iso = pending & _matches(cells, _ISO)
    if not iso.any():
        return
    idx = np.flatnonzero(iso)
    subset = pc.take(cells, pa.array(idx))
    if as_date:
        text = pd.Series(pc.utf8_slice_codeunits(subset, 0, 10).to_pandas())
        stamps = pd.to_datetime(text, format="%Y-%m-%d", errors="coerce")
        zoned = np.zeros(len(idx), dtype=bool)
    else:
        stamps = pd.to_datetime(pd.Series(subset.to_pandas()), format="ISO8601", utc=True,
                                errors="coerce").dt.tz_localize(None)
        zoned = _matches(subset, _ISO_ZONED)
    good = stamps.notna().to_numpy()
    micros = stamps[good].to_numpy().astype("datetime64[us]").astype(np.int64)
    hit = idx[good]
    days = np.floor_divide(micros, DAY_MICROS)
    parts.days[hit] = days
    parts.micros[hit] = micros - days * DAY_MICROS
    parts.zoned[hit] = zoned[good]
    parts.ok[hit] = True
    pending[hit] = False


def _excel_serials(cells: pa.Array, has: np.ndarray) -> np.ndarray | None:
    """Microseconds since 1970 when every value of the column is an Excel day number between
    EXCEL_SERIAL_MIN and EXCEL_SERIAL_MAX (a fraction is the time of day); else None."""
    if not has.any() or not _matches(cells[int(np.argmax(has)):][:1], _SERIAL).all():
        return None
    if not _matches(cells, _SERIAL)[has].all():
        return None
    serials = np.asarray(pc.cast(pc.fill_null(cells, "0"), pa.float64()).to_numpy(),
                         dtype=float)[has]
    if ((serials < EXCEL_SERIAL_MIN) | (serials > EXCEL_SERIAL_MAX)).any():
        return None
    stamps = np.zeros(len(cells), dtype=np.int64)
    seconds = np.round((serials - EXCEL_SERIAL_1970) * 86_400).astype(np.int64)
    stamps[has] = seconds * 1_000_000
    return stamps


def _strptime_parts(cells: pa.Array, formats: tuple[str, ...], parts: _DateParts) -> None:
    """Read values with explicit strftime formats, tried in order (`%y` years as 1970-2069)."""
    pending = parts.bad
    for fmt in formats:
        idx = np.flatnonzero(pending)
        if not len(idx):
            break
        parsed = pc.strptime(pc.take(cells, pa.array(idx)), format=fmt, unit="us",
                             error_is_null=True)
        got = mask_of(pc.is_valid(parsed))
        hit = idx[got]
        found = pc.filter(parsed, pa.array(got))
        stamps = np.array(pc.cast(found, pa.int64()).to_numpy(), dtype=np.int64)
        if "%y" in fmt:
            sixty_nine = mask_of(pc.equal(pc.year(found), 1969))
            stamps[sixty_nine] = _add_years(stamps[sixty_nine], 100)
        days = np.floor_divide(stamps, DAY_MICROS)
        parts.days[hit] = days
        parts.micros[hit] = stamps - days * DAY_MICROS
        parts.zoned[hit] = parsed.type.tz is not None
        parts.ok[hit] = True
        pending[hit] = False


def _add_years(stamps: np.ndarray, years: int) -> np.ndarray:
    """Timestamps (microseconds) moved by whole years, keeping month, day and time."""
    moments = pd.to_datetime(stamps.astype("datetime64[us]")) + pd.DateOffset(years=years)
    return np.asarray(moments.to_numpy().astype("datetime64[us]").astype(np.int64))


def _date_parts(cells: pa.Array, options: DateOptions, as_date: bool) -> _DateParts:
    """Split date cells into days, time of day and offset; `bad` marks what no rule read."""
    n = len(cells)
    has = present(cells)
    parts = _DateParts(np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64),
                       np.zeros(n, dtype=np.int64), np.zeros(n, dtype=bool),
                       np.zeros(n, dtype=bool), has.copy(), np.zeros(n, dtype=bool))
    if options.formats:
        _strptime_parts(cells, options.formats, parts)
        parts.misfit = parts.bad.copy()
        return parts

    serials = _excel_serials(cells, has)
    if serials is not None:
        parts.days = np.floor_divide(serials, DAY_MICROS)
        parts.micros = serials - parts.days * DAY_MICROS
        parts.ok = has.copy()
        parts.bad = np.zeros(n, dtype=bool)
        return parts

    _iso_fast_path(cells, as_date, parts)
    rest = np.flatnonzero(parts.bad)
    if len(rest):
        distinct, positions = _distinct(pc.take(cells, pa.array(rest)))
        read = _read_written_dates(distinct, options.day_first)
        for name in ("days", "micros", "offset", "zoned", "ok", "misfit"):
            read_values = getattr(read, name)
            getattr(parts, name)[rest] = (read_values if len(read_values) == len(rest)
                                          else read_values[positions])
    parts.bad = has & ~parts.ok
    return parts


def _distinct(values: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """The distinct values and each value's position among them, when values repeat enough
    for reading each once to pay off (dates mostly do); else the values themselves."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    n = len(values)
    if n > DISTINCT_SAMPLE and pc.count_distinct(values[:DISTINCT_SAMPLE]).as_py() > (
            DISTINCT_SAMPLE // 2):
        return values, np.arange(n)
    encoded = pc.dictionary_encode(values)
    return encoded.dictionary, np.asarray(encoded.indices.to_numpy(), dtype=np.int64)


def _read_written_dates(cells: pa.Array, day_first: bool) -> _DateParts:
    """Read present values written in the recognised forms (numeric ones in the given order)."""
    n = len(cells)
    parts = _DateParts(np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64),
                       np.zeros(n, dtype=np.int64), np.zeros(n, dtype=bool),
                       np.zeros(n, dtype=bool), np.ones(n, dtype=bool), np.zeros(n, dtype=bool))
    pending = parts.bad
    wrong_order = np.zeros(n, dtype=bool)
    for family, pattern in DATE_PATTERNS:
        idx = np.flatnonzero(pending)
        if not len(idx):
            break
        found = pc.extract_regex(pc.take(cells, pa.array(idx)), pattern)
        got = mask_of(pc.is_valid(found))
        if not got.any():
            continue
        hit = idx[got]
        found = pc.filter(found, pa.array(got))
        year = _years(found)
        if family == _NUMERIC:
            first, second = _ints(found, "A"), _ints(found, "B")
            month, day = (second, first) if day_first else (first, second)
        elif family in ("day_month_name", "month_name_day"):
            names = pc.utf8_lower(_texts(found, "Mon"))
            spelled = list(_MONTH_SPELLINGS)
            index = pc.index_in(names, value_set=pa.array(spelled))
            lookup = np.array([_MONTH_SPELLINGS[s] for s in spelled] + [0])
            month = lookup[np.asarray(pc.fill_null(index, len(spelled)).to_numpy())]
            day = _ints(found, "D")
        else:
            month, day = _ints(found, "Mo"), _ints(found, "D")
        d, valid = _epoch_days(year, month, day)
        if family == _NUMERIC and not valid.all():
            misread = np.flatnonzero(~valid)
            wrong_order[hit[misread]] = _epoch_days(year[misread], day[misread],
                                                    month[misread])[1]
        hour, minute, second_ = _ints(found, "H", 0), _ints(found, "M", 0), _ints(found, "S", 0)
        fraction = _texts(found, "F")
        frac_us = np.asarray(pc.cast(pc.utf8_slice_codeunits(pc.utf8_rpad(
            pc.if_else(pc.equal(fraction, ""), "0", fraction), 6, "0"), 0, 6),
            pa.int64()).to_numpy(), dtype=np.int64)
        ampm = pc.utf8_lower(pc.replace_substring(_texts(found, "ampm"), ".", ""))
        is_pm = mask_of(pc.equal(ampm, "pm"))
        is_am = mask_of(pc.equal(ampm, "am"))
        twelve = is_am | is_pm
        valid &= ~twelve | ((hour >= 1) & (hour <= 12))
        hour = np.where(is_pm & (hour < 12), hour + 12, np.where(is_am & (hour == 12), 0, hour))
        valid &= (hour <= 23) & (minute <= 59) & (second_ <= 59)
        zone = _texts(found, "tz")
        has_zone = _nonempty(zone)
        parts.days[hit] = d
        parts.micros[hit] = ((hour * 60 + minute) * 60 + second_) * 1_000_000 + frac_us
        parts.offset[hit] = np.where(has_zone, _zone_minutes(zone), 0)
        parts.zoned[hit] = has_zone
        parts.ok[hit] = valid
        pending[hit] = False
    parts.misfit = pending | (wrong_order & ~parts.ok)
    parts.bad = ~parts.ok
    return parts


def _date_problems(parts: _DateParts, days: np.ndarray, expected: str | None
                   ) -> list[tuple[np.ndarray, str]]:
    low = (np.datetime64(f"{MIN_YEAR}-01-01") - np.datetime64("1970-01-01")).astype(int)
    high = (np.datetime64(f"{MAX_YEAR + 1}-01-01") - np.datetime64("1970-01-01")).astype(int)
    out_of_range = parts.ok & ((days < low) | (days >= high))
    parts.ok &= ~out_of_range
    problems = []
    misfit = parts.misfit & parts.bad if expected else np.zeros(len(days), dtype=bool)
    if misfit.any():
        problems.append((misfit, reasons.invalid_date_expected(str(expected))))
    if (parts.bad & ~misfit).any():
        problems.append((parts.bad & ~misfit, reasons.INVALID_DATE))
    if out_of_range.any():
        problems.append((out_of_range, reasons.DATE_OUT_OF_RANGE))
    return problems


def read_dates(cells: pa.Array, options: DateOptions) -> Parsed:
    """Calendar dates as written (a time or offset after the date is ignored)."""
    parts = _date_parts(cells, options, as_date=True)
    problems = _date_problems(parts, parts.days, options.expected)
    values = pa.array(parts.days.astype(np.int32), type=pa.date32(), mask=~parts.ok)
    return Parsed(values, problems)


def read_timestamps(cells: pa.Array, options: DateOptions) -> Parsed:
    """Instants in UTC: offsets are applied, naive values are in `options.timezone` (or UTC)."""
    parts = _date_parts(cells, options, as_date=False)
    stamps = parts.days * DAY_MICROS + parts.micros - parts.offset * 60_000_000
    naive = parts.ok & ~parts.zoned
    if options.timezone and options.timezone.upper() != "UTC" and naive.any():
        idx = np.flatnonzero(naive)
        local = pd.Series(stamps[idx].astype("datetime64[us]"))
        utc = local.dt.tz_localize(options.timezone, ambiguous="NaT", nonexistent="NaT")
        converted = utc.dt.tz_convert("UTC").dt.tz_localize(None)
        unknown = converted.isna().to_numpy()
        parts.bad[idx[unknown]] = True
        parts.ok[idx[unknown]] = False
        stamps[idx[~unknown]] = converted[~unknown].to_numpy().astype("datetime64[us]").astype(
            np.int64)
    day_of = np.floor_divide(stamps, DAY_MICROS)
    problems = _date_problems(parts, day_of, options.expected)
    values = pa.array(stamps, type=pa.timestamp("us"), mask=~parts.ok)
    return Parsed(values, problems)
