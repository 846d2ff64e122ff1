"""Reading CSV exports: encoding and junk checks, the header, and every row's physical line.

Files must be UTF-8 (a byte-order mark is fine). Windows-1252/Latin-1 and UTF-16 files are
refused with a message saying how to re-save them, rather than guessed at: a wrong guess
silently corrupts names, and CRM exports offer UTF-8.

Rows are parsed by Arrow's CSV reader. Their physical line numbers (header = 1) come from the
positions of the newlines outside quotes, so quoted values spanning lines and blank lines do not
shift the numbers reported for rejected rows.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from planning.ingest.errors import ImportFileError

DELIMITERS = (",", ";", "\t", "|")
SNIFF_BYTES = 65_536
BLOCK_BYTES = 1 << 20
"""Arrow's parsing block; widened to hold the file's longest record (a record may not
straddle two blocks)."""

_SIGNATURES = (
    (b"PK\x03\x04", "is a ZIP archive or an Excel workbook (.xlsx), not a CSV file; "
                    "save or export it as \"CSV UTF-8\""),
    (b"\xd0\xcf\x11\xe0", "is an old Excel workbook (.xls), not a CSV file; "
                          "save or export it as \"CSV UTF-8\""),
    (b"%PDF", "is a PDF document, not a CSV file"),
    (b"\x1f\x8b", "is gzip-compressed; decompress it first"),
)


@dataclass
class RaggedRow:
    """A record whose number of fields differs from the header's."""

    line: int
    fields: list[str]


@dataclass
class RawFile:
    """A CSV file read as text cells, with the physical line of every row."""

    name: str
    path: Path
    size: int
    delimiter: str
    header: list[str]
    table: pa.Table
    lines: np.ndarray
    ragged: list[RaggedRow]

    @property
    def records(self) -> int:
        """Data records read: rows with the right number of fields plus the ragged ones."""
        return self.table.num_rows + len(self.ragged)

    def column(self, header: str) -> pa.Array:
        """The cells of the column with this header, as written in the file."""
        return self.table.column(self.header.index(header)).combine_chunks()


def fail(name: str, problem: str) -> ImportFileError:
    """The error for a file that cannot be imported at all."""
    return ImportFileError(f"{name}: {problem}")


def _check_bytes(name: str, raw: bytes) -> bytes:
    if not raw:
        raise fail(name, "the file is empty (0 bytes)")
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise fail(name, "the file is UTF-16 encoded; save it as \"CSV UTF-8\" and import it "
                         "again")
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    for signature, problem in _SIGNATURES:
        if raw.startswith(signature):
            raise fail(name, f"the file {problem}")
    head = raw[:SNIFF_BYTES]
    if b"\x00" in raw:
        odd_nuls = head[1::2].count(0)
        if len(head) >= 4 and odd_nuls >= len(head) // 2 * 0.9:
            raise fail(name, "the file looks UTF-16 encoded; save it as \"CSV UTF-8\" and "
                             "import it again")
        raise fail(name, "the file contains binary data (NUL bytes); it is not a CSV text "
                         "file")
    controls = sum(head.count(bytes([b])) for b in range(32) if b not in (9, 10, 13))
    if controls > max(8, len(head) // 100):
        raise fail(name, "the file contains binary data (control characters); it is not a "
                         "CSV text file")
    _check_utf8(name, head, partial=len(raw) > len(head))
    return raw


def _check_utf8(name: str, data: bytes, partial: bool = False) -> None:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        if partial and exc.start >= len(data) - 3 and exc.reason == "unexpected end of data":
            return
        line = data.count(b"\n", 0, exc.start) + 1
        byte = data[exc.start]
        raise fail(name, f"the file is not UTF-8 text (byte 0x{byte:02X} on line {line}); it "
                         "looks like Windows-1252/Latin-1. Save it as \"CSV UTF-8\" and import "
                         "it again") from None


def _record_starts(raw: bytes, arr: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                          np.ndarray]:
    """Start byte, end byte, physical line and inner newline count of every non-blank record.

    A newline ends a record when an even number of quote characters precedes it.
    """
    newlines = np.flatnonzero(arr == 10)
    if raw.count(b'"'):
        quotes = np.flatnonzero(arr == 34)
        outside = (np.searchsorted(quotes, newlines) & 1) == 0
        term_index = np.flatnonzero(outside)
    else:
        term_index = np.arange(len(newlines))
    terminators = newlines[term_index]
    starts = np.concatenate(([0], terminators + 1))
    ends = np.concatenate((terminators, [len(raw)]))
    lines = np.concatenate(([1], term_index + 2))
    inner = np.diff(np.concatenate(([-1], term_index, [len(newlines)]))) - 1
    length = ends - starts
    first = arr[np.minimum(starts, len(raw) - 1)]
    blank = (length == 0) | ((length == 1) & (first == 13))
    keep = ~blank
    return starts[keep], ends[keep], lines[keep], inner[keep]


def _inner_newlines(table: pa.Table) -> np.ndarray:
    counts = np.zeros(table.num_rows, dtype=np.int64)
    for column in table.columns:
        counts += np.asarray(pc.count_substring(column, "\n").to_numpy(zero_copy_only=False),
                             dtype=np.int64)
    return counts


def sniff_delimiter(header_text: str) -> str:
    """The header's delimiter: comma, semicolon, tab or pipe, whichever occurs most outside
    quotes (comma on a tie or when none occurs)."""
    counts = {d: 0 for d in DELIMITERS}
    inside = False
    for ch in header_text:
        if ch == '"':
            inside = not inside
        elif not inside and ch in counts:
            counts[ch] += 1
    best = max(DELIMITERS, key=lambda d: (counts[d], d == ","))
    return best if counts[best] else ","


def unclosed_quote(text: str, delimiter: str) -> tuple[int, int] | None:
    """(line offset, field index) where a quoted value opens that is never closed, reading
    `text` by CSV rules (a quote opens a value only at the start of a field, doubled quotes
    inside stay); None when every quote closes."""
    line = field = 0
    opened: tuple[int, int] | None = None
    at_start, inside, position = True, False, 0
    while position < len(text):
        character = text[position]
        if inside:
            if character == '"':
                if text.startswith('"', position + 1):
                    position += 1
                else:
                    inside, opened = False, None
            elif character == "\n":
                line += 1
        elif character == '"' and at_start:
            inside, opened = True, (line, field)
        elif character == delimiter:
            field += 1
            at_start = True
            position += 1
            continue
        elif character == "\n":
            line, field = line + 1, 0
            at_start = True
            position += 1
            continue
        at_start = at_start and character == " "
        position += 1
    return opened if inside else None


def _refuse_unclosed_quote(name: str, raw: bytes, delimiter: str, header: list[str]) -> None:
    """A quote that never closes would swallow every later line into one value: refuse the
    file naming the line and column where it opens (checked only when the file holds an odd
    number of quote characters, which such a quote implies)."""
    if raw.count(b'"') % 2 == 0:
        return
    found = unclosed_quote(raw.decode("utf-8", errors="replace"), delimiter)
    if found is None:
        return
    line, field = found
    column = f"column '{header[field]}'" if field < len(header) else f"field {field + 1}"
    raise fail(name, f"line {line + 1}, {column}: a quoted value is never closed, so every "
                     "line after it would be read into it; close the quote (or double it, "
                     "\"\", to keep it as a character) and import again")


def _refuse_control_bytes(name: str, raw: bytes, arr: np.ndarray, starts: np.ndarray,
                          lines: np.ndarray, header: list[str], delimiter: str) -> None:
    """Control characters other than tab and line breaks refuse the file (docs/IMPORT.md):
    the error names the line the row starts on and the column of the first one."""
    control = (arr < 32) & (arr != 9) & (arr != 10) & (arr != 13)
    if not control.any():
        return
    position = int(np.flatnonzero(control)[0])
    at = max(int(np.searchsorted(starts, position, side="right")) - 1, 0)
    line = int(lines[at])
    record = raw[int(starts[at]):position].decode("utf-8", errors="replace")
    field, inside = 0, False
    for character in record:
        if character == '"':
            inside = not inside
        elif character == delimiter and not inside:
            field += 1
    where = ("the header row" if line == 1 else
             f"column '{header[field]}'" if field < len(header) else f"field {field + 1}")
    raise fail(name, f"line {line}, {where}: control character 0x{raw[position]:02X} in the "
                     "text; remove it and import again (only tab and line breaks are allowed)")


def _parse_record(text: str, delimiter: str) -> list[str]:
    return next(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter), [])


def read_csv_file(path: Path, name: str | None = None, delimiter: str | None = None) -> RawFile:
    """Read and check one CSV file; raise ImportFileError naming the file if it is unusable."""
    name = name or path.name
    if not path.exists():
        raise fail(name, "file not found")
    if path.is_dir():
        raise fail(name, "is a folder, not a file")
    raw = _check_bytes(name, path.read_bytes())
    if b"\r" in raw and raw.count(b"\r") != raw.count(b"\r\n"):
        raw = raw.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    arr = np.frombuffer(raw, dtype=np.uint8)
    starts, ends, lines, inner = _record_starts(raw, arr)
    if not len(starts) or not raw[starts[0]:ends[0]].strip():
        raise fail(name, "the file has no header row")
    header_bytes = raw[starts[0]:ends[0]].rstrip(b"\r")
    _check_utf8(name, header_bytes)
    header_text = header_bytes.decode("utf-8")
    delimiter = delimiter or sniff_delimiter(header_text)
    header = [cell.strip() for cell in _parse_record(header_text, delimiter)]
    if len(starts) == 1:
        raise fail(name, "the file has a header row but no data rows")
    _refuse_control_bytes(name, raw, arr, starts, lines, header, delimiter)
    _refuse_unclosed_quote(name, raw, delimiter, header)
    longest = int((ends - starts).max())
    csv.field_size_limit(max(csv.field_size_limit(), longest + 1))

    names = [f"c{i}" for i in range(len(header))]
    data = pa.py_buffer(raw)[int(ends[0]) + 1:] if ends[0] < len(raw) else pa.py_buffer(b"")
    ragged_numbers: list[int] = []
    ragged_text: list[str] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        if row.number is not None:
            ragged_numbers.append(row.number)
        ragged_text.append(row.text)
        return "skip"

    def parse(use_threads: bool) -> pa.Table:
        return pacsv.read_csv(
            pa.BufferReader(data),
            read_options=pacsv.ReadOptions(column_names=names, use_threads=use_threads,
                                           block_size=max(BLOCK_BYTES, 2 * longest + 2)),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True,
                                             invalid_row_handler=on_invalid),
            convert_options=pacsv.ConvertOptions(column_types={c: pa.string() for c in names},
                                                 strings_can_be_null=False),
        )

    try:
        table = parse(use_threads=True)
        if ragged_text:
            ragged_numbers.clear()
            ragged_text.clear()
            table = parse(use_threads=False)
    except pa.ArrowInvalid as exc:
        if "utf8" in str(exc).lower():
            _check_utf8(name, raw)
        raise fail(name, f"the file cannot be parsed as CSV ({exc})") from None

    record_lines = lines[1:]
    if len(record_lines) != table.num_rows + len(ragged_text) or (
            len(ragged_numbers) != len(ragged_text)):
        return _read_with_csv_module(name, path, raw, delimiter, header)
    ragged_index = np.asarray(ragged_numbers, dtype=np.int64) - 1
    row_lines = np.delete(record_lines, ragged_index)
    if inner[1:].any() and not np.array_equal(np.delete(inner[1:], ragged_index),
                                              _inner_newlines(table)):
        return _read_with_csv_module(name, path, raw, delimiter, header)
    ragged = [RaggedRow(int(record_lines[i]), _parse_record(text, delimiter))
              for i, text in zip(ragged_index, ragged_text, strict=True)]
    table, row_lines = _drop_empty_rows(table, row_lines)
    if table.num_rows == 0 and not ragged:
        raise fail(name, "the file has a header row but no data rows")
    return RawFile(name, path, len(raw), delimiter, header, table, row_lines, ragged)


def _drop_empty_rows(table: pa.Table, lines: np.ndarray) -> tuple[pa.Table, np.ndarray]:
    """Rows whose every cell is empty (",,,," lines spreadsheets leave) are not records."""
    if table.num_columns == 0 or table.num_rows == 0:
        return table, lines
    empty = np.ones(table.num_rows, dtype=bool)
    for column in table.columns:
        empty &= np.asarray(
            pc.equal(pc.utf8_length(pc.utf8_trim_whitespace(column)), 0).to_numpy(
                zero_copy_only=False), dtype=bool)
        if not empty.any():
            return table, lines
    keep = ~empty
    return table.filter(pa.array(keep)), lines[keep]


def _read_with_csv_module(name: str, path: Path, raw: bytes, delimiter: str,
                          header: list[str]) -> RawFile:
    """Exact but slower reading, used when quoting is irregular (stray quote characters)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        _check_utf8(name, raw)
        raise
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    columns: list[list[str]] = [[] for _ in header]
    lines: list[int] = []
    ragged: list[RaggedRow] = []
    previous = 0
    first = True
    try:
        for row in reader:
            line = previous + 1
            previous = reader.line_num
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            if first:
                first = False
                continue
            if len(row) != len(header):
                ragged.append(RaggedRow(line, row))
                continue
            for cells, value in zip(columns, row, strict=True):
                cells.append(value)
            lines.append(line)
    except csv.Error as exc:
        raise fail(name, f"the file cannot be parsed as CSV (line {reader.line_num}: {exc})"
                   ) from None
    table = pa.table({f"c{i}": pa.array(cells, pa.string()) for i, cells in enumerate(columns)})
    table, row_lines = _drop_empty_rows(table, np.asarray(lines, dtype=np.int64))
    if table.num_rows == 0 and not ragged:
        raise fail(name, "the file has a header row but no data rows")
    return RawFile(name, path, len(raw), delimiter, header, table, row_lines, ragged)
