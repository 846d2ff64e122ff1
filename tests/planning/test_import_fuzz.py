"""Malformed but plausible CRM exports never end in an unexpected failure.

Each variant starts from a realistic export (tests/realistic_exports.py) and breaks it the way
real files break: columns dropped, repeated, renamed or swapped, blank cells, garbage dates and
amounts, huge ids, unicode, ragged rows, a header alone, mixed delimiters, a byte-order mark,
other line endings and encodings. Every variant is imported (with the mapping) into an empty
workspace and trained on with the CSV trainer. The outcome must be success or a RevPlanError
whose message is one line; a failed import must leave the workspace as it was.
"""

from __future__ import annotations

import csv
import io
import random
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from planning.errors import RevPlanError
from planning.ingest import import_files
from planning.pipeline.csv_training import train_from_csv
from planning.store import Workspace, open_workspace
from tests.realistic_exports import write_crm_export

TABLES = ("reps", "accounts", "opportunities", "opportunity_history", "activities",
          "import_runs", "import_rejects", "audit_events")
TEAMS, ACCOUNTS, PIPELINE, MAPPING = ("sales_teams.csv", "accounts.csv", "sales_pipeline.csv",
                                      "mapping.toml")


@dataclass
class Export:
    """The bytes of one export's files, changed in place by a variant."""

    files: dict[str, bytes]
    seed: int
    delimiter: str = ","

    def rows(self, name: str) -> tuple[list[str], list[list[str]]]:
        """Header and data rows of a CSV file."""
        table = list(csv.reader(io.StringIO(self.files[name].decode("utf-8")),
                                delimiter=self.delimiter))
        return table[0], table[1:]

    def put(self, name: str, header: list[str], rows: list[list[str]]) -> None:
        """Write a CSV file back from a header and rows."""
        buffer = io.StringIO()
        csv.writer(buffer, delimiter=self.delimiter, lineterminator="\n").writerows(
            [header, *rows])
        self.files[name] = buffer.getvalue().encode("utf-8")

    def column(self, name: str, column: str, change: Callable[[int, str], str]) -> None:
        """Replace every cell of one column by change(row number, old value)."""
        header, rows = self.rows(name)
        at = header.index(column)
        for number, row in enumerate(rows):
            row[at] = change(number, row[at])
        self.put(name, header, rows)

    def drop(self, name: str, column: str) -> None:
        header, rows = self.rows(name)
        at = header.index(column)
        self.put(name, header[:at] + header[at + 1:], [r[:at] + r[at + 1:] for r in rows])

    def duplicate(self, name: str, column: str) -> None:
        header, rows = self.rows(name)
        at = header.index(column)
        self.put(name, [*header, column], [[*r, r[at]] for r in rows])

    def rename(self, name: str, column: str, new: str) -> None:
        header, rows = self.rows(name)
        header[header.index(column)] = new
        self.put(name, header, rows)

    def swap_values(self, name: str, first: str, second: str) -> None:
        header, rows = self.rows(name)
        a, b = header.index(first), header.index(second)
        for row in rows:
            row[a], row[b] = row[b], row[a]
        self.put(name, header, rows)

    def text(self, name: str, change: Callable[[str], str]) -> None:
        self.files[name] = change(self.files[name].decode("utf-8")).encode("utf-8")


def _every(step: int, value: str) -> Callable[[int, str], str]:
    """Replace every `step`-th cell by `value`."""
    return lambda number, old: value if number % step == 0 else old


def _closed_only(value: str) -> Callable[[int, str], str]:
    """Replace the cells that hold a value (closed deals' amounts and dates) by `value`."""
    return lambda number, old: value if old else old


def _ragged(export: Export, extra: bool) -> None:
    lines = export.files[PIPELINE].decode("utf-8").splitlines()
    for at in range(3, len(lines), 17):
        cut = lines[at].rsplit(export.delimiter, 2)[0]
        lines[at] = lines[at] + export.delimiter + "surplus" if extra else cut
    export.files[PIPELINE] = ("\n".join(lines) + "\n").encode("utf-8")


def _header_only(export: Export, *names: str) -> None:
    for name in names:
        export.files[name] = export.files[name].split(b"\n", 1)[0] + b"\n"


def _mixed_delimiters(export: Export) -> None:
    lines = export.files[PIPELINE].decode("utf-8").splitlines()
    for at in range(2, len(lines), 3):
        lines[at] = lines[at].replace(",", ";")
    export.files[PIPELINE] = ("\n".join(lines) + "\n").encode("utf-8")


def _shuffle_cells(export: Export) -> None:
    header, rows = export.rows(PIPELINE)
    rng = random.Random(export.seed)
    for row in rows[::7]:
        rng.shuffle(row)
    export.put(PIPELINE, header, rows)


def _blank_random(export: Export) -> None:
    header, rows = export.rows(PIPELINE)
    rng = random.Random(export.seed)
    for row in rows:
        for at in range(len(row)):
            if rng.random() < 0.2:
                row[at] = ""
    export.put(PIPELINE, header, rows)


def _duplicate_ids(export: Export) -> None:
    header, rows = export.rows(PIPELINE)
    twins = [list(row) for row in rows[:40]]
    for twin in twins:
        twin[header.index("deal_stage")] = "Lost"
        twin[header.index("close_value")] = "0"
    export.put(PIPELINE, header, rows + twins)


Variant = Callable[[Export], None]

VARIANTS: dict[str, Variant] = {
    # Columns missing, repeated, renamed, swapped.
    **{f"drop-pipeline-{c}": (lambda e, c=c: e.drop(PIPELINE, c))
       for c in ("opportunity_id", "sales_agent", "product", "account", "deal_stage",
                 "engage_date", "close_date", "close_value")},
    **{f"drop-accounts-{c}": (lambda e, c=c: e.drop(ACCOUNTS, c))
       for c in ("account", "sector", "employees", "city")},
    **{f"drop-teams-{c}": (lambda e, c=c: e.drop(TEAMS, c)) for c in ("sales_agent", "manager")},
    "duplicate-close_value": lambda e: e.duplicate(PIPELINE, "close_value"),
    "duplicate-account": lambda e: e.duplicate(PIPELINE, "account"),
    "duplicate-teams-manager": lambda e: e.duplicate(TEAMS, "manager"),
    "rename-close_value": lambda e: e.rename(PIPELINE, "close_value", "Close Value"),
    "rename-upper-case-id": lambda e: e.rename(PIPELINE, "opportunity_id", "OPPORTUNITY_ID"),
    "rename-header-spaces": lambda e: e.rename(PIPELINE, "deal_stage", " deal_stage "),
    "rename-empty-header": lambda e: e.rename(PIPELINE, "product", ""),
    "swap-date-and-value": lambda e: e.swap_values(PIPELINE, "close_date", "close_value"),
    "swap-agent-and-account": lambda e: e.swap_values(PIPELINE, "sales_agent", "account"),
    "swap-header-names": lambda e: (e.rename(PIPELINE, "engage_date", "tmp"),
                                    e.rename(PIPELINE, "close_date", "engage_date"),
                                    e.rename(PIPELINE, "tmp", "close_date")),
    "shuffled-cells": _shuffle_cells,
    # Blank cells.
    "blank-all-close_value": lambda e: e.column(PIPELINE, "close_value", lambda n, v: ""),
    "blank-all-accounts": lambda e: e.column(PIPELINE, "account", lambda n, v: ""),
    "blank-all-agents": lambda e: e.column(PIPELINE, "sales_agent", lambda n, v: ""),
    "blank-all-stages": lambda e: e.column(PIPELINE, "deal_stage", lambda n, v: ""),
    "blank-random-cells": _blank_random,
    "blank-managers": lambda e: e.column(TEAMS, "manager", lambda n, v: ""),
    "blank-account-names": lambda e: e.column(ACCOUNTS, "account", _every(5, "")),
    # Dates.
    "date-garbage": lambda e: e.column(PIPELINE, "close_date", _every(9, "not a date")),
    "date-feb-30": lambda e: e.column(PIPELINE, "close_date", _every(11, "2017-02-30")),
    "date-zero": lambda e: e.column(PIPELINE, "engage_date", _every(4, "0000-00-00")),
    "date-month-31": lambda e: e.column(PIPELINE, "close_date", _every(6, "31/31/2017")),
    "date-all-garbage": lambda e: e.column(PIPELINE, "close_date", _closed_only("soon")),
    "date-far-future": lambda e: e.column(PIPELINE, "engage_date", _every(5, "2099-01-01")),
    "date-year-one": lambda e: e.column(PIPELINE, "engage_date", _every(5, "0001-01-01")),
    "date-huge-number": lambda e: e.column(PIPELINE, "close_date", _every(3, "99999999999")),
    "date-excel-serials": lambda e: e.column(PIPELINE, "close_date", _closed_only("42736")),
    "date-mixed-formats": lambda e: e.column(
        PIPELINE, "close_date", lambda n, v: v.replace("-", "/") if n % 2 and v else v),
    "date-with-times": lambda e: e.column(PIPELINE, "engage_date",
                                          lambda n, v: f"{v} 25:61:00" if v else v),
    # Amounts.
    **{f"amount-{label}": (lambda e, value=value: e.column(PIPELINE, "close_value",
                                                            _every(3, value)))
       for label, value in (("double-decimal", "$1,2.3"), ("formula", "=SUM(A1)"),
                            ("overflow", "1e400"), ("negative", "-500"),
                            ("huge", "99999999999999999999"), ("nan", "NaN"), ("inf", "inf"),
                            ("spaces", "12 500"), ("euro", "€1000"), ("percent", "50%"),
                            ("parentheses", "(500)"), ("text", "lots"))},
    "amount-all-formulas": lambda e: e.column(PIPELINE, "close_value", _closed_only("=1+1")),
    "employees-garbage": lambda e: e.column(ACCOUNTS, "employees", _every(2, "many")),
    "employees-negative": lambda e: e.column(ACCOUNTS, "employees", _every(2, "-5")),
    # Identifiers and text.
    "id-huge": lambda e: e.column(PIPELINE, "opportunity_id", lambda n, v: v * 2000),
    "id-account-huge": lambda e: (e.column(PIPELINE, "account", lambda n, v: v * 300),
                                  e.column(ACCOUNTS, "account", lambda n, v: v * 300)),
    "id-duplicates": _duplicate_ids,
    "id-scientific": lambda e: e.column(PIPELINE, "opportunity_id", lambda n, v: f"{n}E5"),
    "unicode-names": lambda e: e.column(TEAMS, "sales_agent", lambda n, v: f"{v} 🦄 ڡ\u200b"),
    "unicode-accounts": lambda e: (e.column(PIPELINE, "account", lambda n, v: f"{v}\u0301"),
                                   e.column(ACCOUNTS, "account", lambda n, v: f"{v}\u0301")),
    "nul-bytes": lambda e: e.column(PIPELINE, "product", _every(4, "GTX\x00Pro")),
    "control-characters": lambda e: e.column(PIPELINE, "product", _every(4, "GTX\x1b[31mPro")),
    "quoted-newlines": lambda e: e.column(PIPELINE, "product", _every(4, "GTX\nPro")),
    "stage-unknown": lambda e: e.column(PIPELINE, "deal_stage", _every(3, "Won?")),
    "stage-all-open": lambda e: e.column(PIPELINE, "deal_stage", lambda n, v: "Engaging"),
    # Shape of the file.
    "ragged-extra-field": lambda e: _ragged(e, extra=True),
    "ragged-missing-fields": lambda e: _ragged(e, extra=False),
    "unclosed-quote": lambda e: e.text(PIPELINE, lambda t: t.replace("\n", '\n"', 1)),
    "header-only-pipeline": lambda e: _header_only(e, PIPELINE),
    "header-only-all": lambda e: _header_only(e, TEAMS, ACCOUNTS, PIPELINE),
    "empty-file": lambda e: e.files.update({PIPELINE: b""}),
    "header-without-newline": lambda e: e.files.update(
        {PIPELINE: e.files[PIPELINE].split(b"\n", 1)[0]}),
    "blank-lines": lambda e: e.text(PIPELINE, lambda t: t.replace("\n", "\n\n")),
    "trailing-delimiter": lambda e: e.text(PIPELINE, lambda t: t.replace("\n", ",\n")),
    "mixed-delimiters": _mixed_delimiters,
    "semicolons-without-mapping-option": lambda e: e.text(PIPELINE, lambda t: t.replace(",", ";")),
    "tabs": lambda e: e.text(PIPELINE, lambda t: t.replace(",", "\t")),
    "bom": lambda e: e.files.update({PIPELINE: b"\xef\xbb\xbf" + e.files[PIPELINE]}),
    "bom-everywhere": lambda e: e.files.update(
        {name: b"\xef\xbb\xbf" + data for name, data in e.files.items() if name != MAPPING}),
    "crlf": lambda e: e.text(PIPELINE, lambda t: t.replace("\n", "\r\n")),
    "cr-only": lambda e: e.text(PIPELINE, lambda t: t.replace("\n", "\r")),
    "utf16": lambda e: e.files.update(
        {PIPELINE: e.files[PIPELINE].decode("utf-8").encode("utf-16")}),
    "latin1": lambda e: (e.column(TEAMS, "sales_agent", lambda n, v: f"{v} Müller"),
                         e.files.update({TEAMS: e.files[TEAMS].decode().encode("latin-1")})),
    "binary-garbage": lambda e: e.files.update(
        {PIPELINE: bytes(random.Random(e.seed).randrange(256) for _ in range(4000))}),
    "very-long-line": lambda e: e.column(PIPELINE, "product", _every(50, "x" * 200_000)),
    "mapping-missing-column": lambda e: e.text(
        MAPPING, lambda t: t.replace('product_id = "product"', 'product_id = "sku"')),
    "mapping-bom": lambda e: e.files.update({MAPPING: b"\xef\xbb\xbf" + e.files[MAPPING]}),
    "mapping-not-toml": lambda e: e.text(MAPPING, lambda t: t.replace("[[mapping]]", "[[map")),
}


BASES: dict[str, dict] = {
    "iso": {"locations": "city_state"},
    "us": {"locations": "city_state", "date_style": "us"},
    "dmy2": {"locations": "city_state", "date_style": "dmy2"},
    "eu": {"locations": "city_state", "date_style": "eu", "delimiter": ";"},
    "country": {"locations": "country"},
}


def _base_export(folder: Path, base: str, seed: int) -> Export:
    written = write_crm_export(folder, deals=300, seed=seed, **BASES[base])
    paths = [*written.files, written.mapping]
    return Export({path.name: path.read_bytes() for path in paths}, seed,
                  BASES[base].get("delimiter", ","))


def _counts(workspace: Workspace) -> dict[str, int]:
    return workspace.read(lambda cur: {
        table: cur.execute(f"SELECT count(*) FROM {table}").fetchone()[0] for table in TABLES})


def _assert_user_error(error: BaseException, variant: str, doing: str) -> None:
    message = str(error)
    assert isinstance(error, RevPlanError), (
        f"{variant}: {doing} raised {type(error).__name__}: {message}")
    assert "\n" not in message, f"{variant}: {doing} error spans lines: {message!r}"
    assert "unexpected failure" not in message, f"{variant}: {doing}: {message}"
    assert message.strip(), f"{variant}: {doing} raised {type(error).__name__} without a message"


CASES = [pytest.param(name, "iso", id=name) for name in VARIANTS] + [
    pytest.param(name, base, id=f"{base}-{name}")
    for base in ("us", "dmy2", "eu", "country")
    for name in ("blank-random-cells", "amount-double-decimal")
] + [pytest.param(None, base, id=f"{base}-unchanged") for base in BASES]


@pytest.fixture(scope="module")
def empty_workspace_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace holding an earlier clean import, copied for each variant (migrating and
    loading once is quicker); a refused import must leave its rows as they are."""
    folder = tmp_path_factory.mktemp("fuzz-template")
    earlier = write_crm_export(folder / "earlier", deals=300, seed=999, locations="city_state")
    workspace = open_workspace("fuzz", create=True, base=folder)
    import_files(workspace, earlier.files, earlier.mapping, actor="fuzz")
    assert _counts(workspace)["opportunities"] == 300
    workspace.close()
    return folder / "fuzz.duckdb"


def test_there_are_enough_variants() -> None:
    assert len(CASES) >= 60


@pytest.mark.parametrize(("variant", "base"), CASES)
def test_malformed_export_is_imported_or_refused_in_one_line(
    data_dir: Path, tmp_path: Path, empty_workspace_file: Path, variant: str | None, base: str
) -> None:
    seed = sum(map(ord, f"{variant}{base}"))
    export = _base_export(tmp_path / "base", base, seed)
    if variant is not None:
        VARIANTS[variant](export)
    folder = tmp_path / "variant"
    folder.mkdir()
    for name, data in export.files.items():
        (folder / name).write_bytes(data)
    csv_files = [folder / name for name in (TEAMS, ACCOUNTS, PIPELINE)]
    label = f"{base}/{variant}"

    shutil.copy(empty_workspace_file, data_dir / "fuzz.duckdb")
    workspace = open_workspace("fuzz")
    before = _counts(workspace)
    try:
        import_files(workspace, csv_files, folder / MAPPING, actor="fuzz")
    except Exception as error:  # noqa: BLE001 - the assertion names what was raised
        _assert_user_error(error, label, "import")
        assert _counts(workspace) == before, f"{label}: a refused import changed the workspace"

    try:
        train_from_csv(folder / PIPELINE, folder / MAPPING)
    except Exception as error:  # noqa: BLE001 - the assertion names what was raised
        _assert_user_error(error, label, "pipeline train --csv")
