"""Column-mapping files (TOML) that let any CRM's CSV export be imported.

A mapping names the entity a file holds, which of the file's headers feeds each RevPlan field
(`[columns]`), how source values translate (`[values.FIELD]`), and a few reading options.
One mapping sits at the top level of the file, or several as `[[mapping]]` entries sharing the
top-level options. docs/IMPORT.md is the user-facing description of this format.
"""

from __future__ import annotations

import fnmatch
import tomllib
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from planning.ingest.errors import MappingError
from planning.ingest.fields import ENTITY_BY_NAME, EntitySpec, fold_value
from planning.ingest.formats import FileBinding, ReadOptions, header_key, header_keys

OPTION_KEYS = ("delimiter", "day_first", "date_formats", "decimal_separator", "money_unit",
               "timezone", "missing_values", "open_deal_close_date")
ENTRY_KEYS = ("entity", "files", "columns", "values", *OPTION_KEYS)
DEFAULT_VALUE = "*"
DELIMITER_CHOICES = (",", ";", "\t", "|")


@dataclass(frozen=True)
class MappingEntry:
    """One mapping: an entity, the files it applies to, its columns, values and options."""

    number: int
    entity: EntitySpec
    files: tuple[str, ...]
    columns: dict[str, str]
    values: dict[str, dict[str, str]]
    defaults: dict[str, str]
    options: ReadOptions

    def claims(self, file_name: str) -> bool:
        """True when the entry's `files` patterns name this file."""
        return any(fnmatch.fnmatch(file_name.casefold(), p.casefold()) for p in self.files)

    def missing_headers(self, header: list[str]) -> list[str]:
        """Headers the entry maps that the file lacks."""
        keys = {header_key(h) for h in header}
        wanted = dict.fromkeys(self.columns.values())
        return [h for h in wanted if header_key(h) not in keys]


@dataclass(frozen=True)
class MappingFile:
    """A parsed, validated mapping file."""

    name: str
    entries: tuple[MappingEntry, ...] = field(default_factory=tuple)

    @property
    def source(self) -> str:
        """The `source` value rows imported through this mapping carry."""
        return f"mapped:{self.name}"

    def entry_for(self, file_name: str, header: list[str]) -> MappingEntry | None:
        """The entry that applies to a file, None if none does.

        An entry whose `files` patterns name the file applies to it; otherwise an entry without
        patterns applies when the header has every column it maps (the one mapping most
        columns wins).
        """
        named = [e for e in self.entries if e.files and e.claims(file_name)]
        if named:
            return named[0]
        fitting = [e for e in self.entries if not e.files and not e.missing_headers(header)]
        if not fitting:
            return None
        return max(fitting, key=lambda e: len(e.columns))

    def closest_entry(self, header: list[str]) -> MappingEntry | None:
        """The entry missing the fewest columns, for explaining why no entry applies."""
        open_entries = [e for e in self.entries if not e.files]
        if not open_entries:
            return None
        return min(open_entries, key=lambda e: len(e.missing_headers(header)))

    def binding(self, entry: MappingEntry, header: list[str]) -> FileBinding:
        """The binding of a file to an entry (header names as written in the file)."""
        keys = header_keys(header)
        columns = {name: keys[header_key(h)] for name, h in entry.columns.items()}
        status_map = None
        values = dict(entry.values)
        if "status" in values and "status" not in columns:
            status_map = values.pop("status")
        return FileBinding(
            entity=entry.entity, label=f"mapping {self.name} ({entry.entity.name})",
            source=self.source, columns=columns, values=values, defaults=entry.defaults,
            status_from_stage=status_map, options=entry.options,
        )


def _fail(name: str, where: str, problem: str) -> MappingError:
    return MappingError(f"{name}: {where}{problem}")


def _known_zone(zone: object) -> bool:
    if not isinstance(zone, str) or not zone:
        return False
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _open_deal_close_date(name: str, where: str, given: object) -> date:
    """The mapping's close date for open deals without one: a TOML date or ISO date text."""
    if isinstance(given, date) and not hasattr(given, "hour"):
        return given
    if isinstance(given, str):
        try:
            return date.fromisoformat(given.strip())
        except ValueError:
            pass
    raise _fail(name, where, "open_deal_close_date must be a date written YYYY-MM-DD, such as "
                             "\"2018-03-31\"")


def _options(name: str, where: str, table: dict[str, Any], inherited: ReadOptions
             ) -> ReadOptions:
    values: dict[str, Any] = {}
    if "delimiter" in table:
        delimiter = table["delimiter"]
        if delimiter not in DELIMITER_CHOICES:
            raise _fail(name, where, "delimiter must be one of \",\", \";\", \"\\t\" or \"|\"")
        values["delimiter"] = delimiter
    if "day_first" in table:
        if not isinstance(table["day_first"], bool):
            raise _fail(name, where, "day_first must be true or false")
        values["day_first"] = table["day_first"]
    if "date_formats" in table:
        formats = table["date_formats"]
        if isinstance(formats, str):
            formats = [formats]
        if (not isinstance(formats, list) or not formats
                or not all(isinstance(f, str) and "%" in f for f in formats)):
            raise _fail(name, where, "date_formats must be a list of strftime formats such as "
                                     "[\"%d.%m.%Y\", \"%d.%m.%Y %H:%M\"]")
        values["date_formats"] = tuple(formats)
    if "decimal_separator" in table:
        if table["decimal_separator"] not in (".", ","):
            raise _fail(name, where, "decimal_separator must be \".\" or \",\"")
        values["decimal_separator"] = table["decimal_separator"]
    if "money_unit" in table:
        if table["money_unit"] not in ("units", "cents"):
            raise _fail(name, where, "money_unit must be \"units\" or \"cents\"")
        values["money_unit"] = table["money_unit"]
    if "timezone" in table:
        zone = table["timezone"]
        if not _known_zone(zone):
            raise _fail(name, where, f"timezone {table['timezone']!r} is not a known IANA time "
                                     "zone name such as \"Europe/Berlin\"")
        values["timezone"] = zone
    if "missing_values" in table:
        missing = table["missing_values"]
        if not isinstance(missing, list) or not all(isinstance(m, str) for m in missing):
            raise _fail(name, where, "missing_values must be a list of strings")
        values["missing_values"] = tuple(missing)
    if "open_deal_close_date" in table:
        values["open_deal_close_date"] = _open_deal_close_date(name, where,
                                                               table["open_deal_close_date"])
    merged = {key: getattr(inherited, key) for key in OPTION_KEYS}
    merged.update(values)
    return ReadOptions(**merged)


def _entry(name: str, number: int, where: str, table: dict[str, Any],
           shared: ReadOptions) -> MappingEntry:
    unknown = sorted(set(table) - set(ENTRY_KEYS))
    if unknown:
        raise _fail(name, where, f"unknown key(s) {', '.join(unknown)}; allowed keys are "
                                 f"{', '.join(ENTRY_KEYS)}")
    entity_name = table.get("entity")
    if entity_name not in ENTITY_BY_NAME:
        choices = ", ".join(ENTITY_BY_NAME)
        shown = "missing" if entity_name is None else f"{entity_name!r} is not known"
        raise _fail(name, where, f"entity is {shown}; use one of {choices}")
    entity = ENTITY_BY_NAME[entity_name]
    where = f"{where}({entity.name}) "

    files = table.get("files", [])
    if isinstance(files, str):
        files = [files]
    if not isinstance(files, list) or not all(isinstance(f, str) and f for f in files):
        raise _fail(name, where, "files must be a list of file-name patterns like "
                                 "[\"deals*.csv\"]")

    columns = table.get("columns")
    if not isinstance(columns, dict) or not columns:
        raise _fail(name, where, "[columns] is missing or empty; it maps RevPlan field names "
                                 "to the file's column headers")
    known = set(entity.field_names)
    unknown_fields = sorted(set(columns) - known)
    if unknown_fields:
        raise _fail(name, where, f"unknown field(s) {', '.join(unknown_fields)} in [columns]; "
                                 f"fields of {entity.name} are {', '.join(entity.field_names)}")
    for field_name, header in columns.items():
        if not isinstance(header, str) or not header.strip():
            raise _fail(name, where, f"[columns] {field_name} must be a column header (text)")
    missing = [f for f in entity.required if f not in columns]
    if missing:
        raise _fail(name, where, f"required field(s) {', '.join(missing)} of {entity.name} "
                                 "are not mapped in [columns]")

    values_table = table.get("values", {})
    if not isinstance(values_table, dict):
        raise _fail(name, where, "[values] must hold one table per field, like "
                                 "[values.stage]")
    values: dict[str, dict[str, str]] = {}
    defaults: dict[str, str] = {}
    for field_name, translations in values_table.items():
        if field_name not in known:
            raise _fail(name, where, f"[values.{field_name}]: {field_name} is not a field of "
                                     f"{entity.name}")
        derived_status = field_name == "status" and "stage" in columns
        if field_name not in columns and not derived_status:
            raise _fail(name, where, f"[values.{field_name}] is given but {field_name} has no "
                                     "column in [columns]")
        if not isinstance(translations, dict):
            raise _fail(name, where, f"[values.{field_name}] must be a table of "
                                     "\"source value\" = \"RevPlan value\"")
        folded: dict[str, str] = {}
        for source, target in translations.items():
            if isinstance(target, bool):
                target = "true" if target else "false"
            if not isinstance(target, str | int | float):
                raise _fail(name, where, f"[values.{field_name}] {source!r} must map to text")
            if source == DEFAULT_VALUE:
                defaults[field_name] = str(target)
                continue
            key = fold_value(source)
            if key in folded and folded[key] != str(target):
                raise _fail(name, where, f"[values.{field_name}] maps {source!r} twice (case, "
                                         "spaces and punctuation are ignored when matching)")
            folded[key] = str(target)
        values[field_name] = folded
    status_values = values.get("status", {})
    if defaults.get("status") is not None:
        status_values = {**status_values, DEFAULT_VALUE: defaults["status"]}
    bad_status = sorted({v for v in status_values.values() if v not in ("open", "won", "lost")})
    if bad_status:
        raise _fail(name, where, f"[values.status] targets must be open, won or lost, not "
                                 f"{', '.join(bad_status)}")
    if "open_deal_close_date" in table and entity.name != "opportunities":
        raise _fail(name, where, "open_deal_close_date applies to opportunities only")
    options = _options(name, where, table, shared)
    return MappingEntry(number, entity, tuple(files), dict(columns), values, defaults, options)


def load_mapping(path: Path, name: str | None = None) -> MappingFile:
    """Read and validate a mapping file; raise MappingError saying what is wrong and where."""
    name = name or path.name
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise MappingError(f"{name}: mapping file not found") from None
    except (UnicodeDecodeError, IsADirectoryError):
        raise MappingError(f"{name}: the mapping file is not UTF-8 text") from None
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise MappingError(f"{name}: not valid TOML ({exc})") from None

    if "mapping" in document:
        entries_raw = document["mapping"]
        if not isinstance(entries_raw, list) or not all(isinstance(e, dict) for e in entries_raw):
            raise MappingError(f"{name}: mapping must be written as [[mapping]] tables")
        stray = sorted(set(document) - {"mapping", *OPTION_KEYS})
        if stray:
            raise MappingError(f"{name}: with [[mapping]] entries the top level may only hold "
                               f"shared options ({', '.join(OPTION_KEYS)}), not "
                               f"{', '.join(stray)}")
        shared = _options(name, "", document, ReadOptions())
        entries = tuple(_entry(name, i, f"[[mapping]] #{i} ", e, shared)
                        for i, e in enumerate(entries_raw, start=1))
    else:
        entries = (_entry(name, 1, "", document, ReadOptions()),)
    if not entries:
        raise MappingError(f"{name}: the mapping file holds no mapping")
    return MappingFile(name=name, entries=entries)
