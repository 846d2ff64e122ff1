"""Inside the import transaction: resolve references, write valid rows, quarantine the rest.

Owners are resolved against the workspace's reps by id, then e-mail, then name (letter case
and extra spaces ignored); accounts by id, then name; opportunities must exist in the
workspace. Files load in dependency order within one transaction, so rows imported earlier in
the same run count. A manager named only by a name becomes a person (see `_resolve_managers`);
a deal without an account goes to the unknown-account bucket. Problems on rows that are kept
are recorded as warnings.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from planning.ingest import reasons
from planning.ingest import values as v
from planning.ingest.fields import REPS
from planning.ingest.normalize import UNKNOWN_ACCOUNT_ID, Prepared, Problems
from planning.ingest.summary import Counts, FileSummary
from planning.store import imports as repo

_EMAIL = re.compile(r"[^\s<>()\[\],;@]+@[^\s<>()\[\],;@]+")
_AMBIGUOUS = "\0ambiguous"
_PERSON_NAME = re.compile(r"^[^\W\d_]+(?:[ .,'\-]+[^\W\d_]+)*\.?$")
"""Letters in words (spaces, dots, commas, apostrophes, hyphens between): a person's name,
not a CRM id or an e-mail address."""
CREATED_BY_IMPORT = "import:created"
"""Source of the rows the import creates itself: managers known only by name, the
unknown-account bucket."""
MANAGER_ID_PREFIX = "manager:"
UNKNOWN_ACCOUNT_NAME = "Unknown account"


def _name_key(text: str) -> str:
    text = re.sub(r"[<(\[].*?[>)\]]", " ", text)
    return " ".join(text.split()).casefold()


@dataclass
class Directory:
    """Records by id, e-mail and name, for turning references into ids (reps, accounts)."""

    ids: set[str]
    emails: dict[str, str]
    names: dict[str, str]

    @classmethod
    def from_frame(cls, reps: pd.DataFrame, key: str = "rep_id") -> Directory:
        """Build from rows with an id column (`key`), name and, when present, email."""
        ids: set[str] = set()
        emails: dict[str, str] = {}
        names: dict[str, str] = {}
        frame = reps if "email" in reps.columns else reps.assign(email=None)
        for rep_id, name, email in frame[[key, "name", "email"]].itertuples(index=False):
            if not isinstance(rep_id, str):
                continue
            ids.add(rep_id)
            if isinstance(email, str) and email:
                key = email.casefold()
                emails[key] = rep_id if emails.get(key, rep_id) == rep_id else _AMBIGUOUS
            if isinstance(name, str) and name.strip():
                key = _name_key(name)
                names[key] = rep_id if names.get(key, rep_id) == rep_id else _AMBIGUOUS
        return cls(ids, emails, names)

    def resolve(self, value: str) -> str | None:
        """The rep id a reference names, _AMBIGUOUS, or None when nobody matches."""
        if value in self.ids:
            return value
        for email in _EMAIL.findall(value):
            found = self.emails.get(email.casefold())
            if found is not None:
                return found
        return self.names.get(_name_key(value))

    def resolve_column(self, cells: pa.Array) -> tuple[pa.Array, np.ndarray, np.ndarray]:
        """Rep ids for a column of references, with masks of unknown and ambiguous ones."""
        distinct = pc.unique(pc.drop_null(cells)).to_pylist()
        answers = [self.resolve(value) for value in distinct]
        index = pc.index_in(cells, value_set=pa.array(distinct, pa.string()))
        resolved = pc.take(pa.array(answers, pa.string()), index)
        has = v.present(cells)
        ambiguous = has & v.mask_of(pc.equal(resolved, _AMBIGUOUS))
        unknown = has & ~v.present(resolved)
        resolved = pc.if_else(pa.array(ambiguous), pa.scalar(None, pa.string()), resolved)
        return resolved, unknown, ambiguous


def _resolve_owners(cur: duckdb.DuckDBPyConnection, prepared: Prepared) -> None:
    directory = Directory.from_frame(repo.rep_directory(cur))
    for spec in prepared.binding.entity.fields:
        if spec.kind != "owner" or spec.name not in prepared.values:
            continue
        if prepared.binding.entity is REPS:
            continue
        resolved, unknown, ambiguous = directory.resolve_column(prepared.values[spec.name])
        header = prepared.header(spec.name)
        prepared.problems.add(unknown, header, reasons.unknown_reference("reps", spec.name))
        prepared.problems.add(ambiguous, header, reasons.AMBIGUOUS_OWNER)
        prepared.values[spec.name] = resolved


def looks_like_name(value: str) -> bool:
    """True when a reference reads as a person's name rather than an id or e-mail."""
    return bool(_PERSON_NAME.match(" ".join(value.split())))


@dataclass
class OrgChart:
    """What resolving a reps file's managers adds: people created from manager names, and
    stand-ins (created earlier) that the file's own rows replace, old id -> new id."""

    created: pa.Table
    adopted: dict[str, str]


def _unanimous(values: list[object]) -> object:
    """The one value every non-missing entry shares, None when they differ or none is given."""
    given = {value for value in values if isinstance(value, str) and value}
    return given.pop() if len(given) == 1 else None


def _resolve_managers(cur: duckdb.DuckDBPyConnection, prepared: Prepared) -> OrgChart:
    """Turn manager references into rep ids without ever rejecting a rep for its manager.

    A reference resolves against the workspace's reps and the file's valid rows (id, e-mail,
    name). An unresolved name creates a person (role manager, id "manager:<name>", team and
    region of their reports when unanimous); a stand-in created so earlier is replaced by a
    file row with the same name. Any other unresolved, ambiguous or self reference is a
    warning: the rep is kept without a manager.
    """
    values = prepared.values
    stored = repo.rep_directory(cur)
    n = prepared.size
    rep_ids = values["rep_id"]
    column = {name: values[name].to_pylist() if name in values else [None] * n
              for name in ("name", "email", "team", "region")}
    file_reps = pd.DataFrame({"rep_id": rep_ids.to_pylist(), "name": column["name"],
                              "email": column["email"]})
    usable = ~prepared.problems.rows(n) & v.present(rep_ids)
    stand_ins = stored[stored["source"] == CREATED_BY_IMPORT]
    stand_in_by_name = {_name_key(name): rep_id
                        for rep_id, name in zip(stand_ins["rep_id"], stand_ins["name"],
                                                strict=True)}
    stored_ids = set(stored["rep_id"])
    adopted: dict[str, str] = {}
    for rep_id, name in file_reps[usable][["rep_id", "name"]].itertuples(index=False):
        old = stand_in_by_name.get(_name_key(name)) if isinstance(name, str) else None
        if old is not None and rep_id not in stored_ids and old not in adopted:
            adopted[old] = rep_id
    keep = ~stored["rep_id"].isin(file_reps["rep_id"][usable]) & ~stored["rep_id"].isin(
        list(adopted))
    stored = stored.assign(manager_id=stored["manager_id"].replace(adopted))
    managers = values.get("manager_id")
    created: dict[str, str] = {}
    resolved_list: list[str | None] = [None] * n
    if managers is not None:
        directory = Directory.from_frame(pd.concat([stored[keep], file_reps[usable]]))
        resolved, unknown, ambiguous = directory.resolve_column(managers)
        resolved_list = resolved.to_pylist()
        cells = managers.to_pylist()
        rejected_names = {_name_key(name) for name, ok in zip(column["name"], usable,
                                                               strict=True)
                          if not ok and isinstance(name, str)}
        invented: dict[str, str] = {}
        for row in np.flatnonzero(unknown):
            cell = cells[row]
            key = _name_key(cell)
            if looks_like_name(cell) and key not in rejected_names:
                person = invented.setdefault(key, MANAGER_ID_PREFIX + " ".join(cell.split()))
                created.setdefault(person, " ".join(cell.split()))
                resolved_list[row] = person
                unknown[row] = False
        own = np.array([r is not None and r == i for r, i
                        in zip(resolved_list, rep_ids.to_pylist(), strict=True)], dtype=bool)
        header = prepared.header("manager_id")
        prepared.warnings.add(unknown, header, reasons.UNKNOWN_MANAGER_DROPPED)
        prepared.warnings.add(ambiguous, header, reasons.AMBIGUOUS_MANAGER_DROPPED)
        prepared.warnings.add(own, header, reasons.OWN_MANAGER_DROPPED)
        resolved_list = [None if own[i] else r for i, r in enumerate(resolved_list)]
        values["manager_id"] = pa.array(resolved_list, pa.string())

    valid = ~prepared.problems.rows(n)
    reports: dict[str, list[int]] = {}
    for row, manager in enumerate(resolved_list):
        if valid[row] and manager in created:
            reports.setdefault(manager, []).append(row)
    people = {
        "rep_id": list(created), "name": list(created.values()),
        "team": [_unanimous([column["team"][r] for r in reports.get(p, [])]) for p in created],
        "region": [_unanimous([column["region"][r] for r in reports.get(p, [])])
                   for p in created],
    }

    relations = {rep_id: manager for rep_id, manager in zip(stored["rep_id"][keep],
                                                             stored["manager_id"][keep],
                                                             strict=True)}
    relations.update(dict.fromkeys(created))
    for rep_id, manager, ok in zip(rep_ids.to_pylist(), resolved_list, valid, strict=True):
        if ok:
            relations[rep_id] = manager
    bosses = {m for m in relations.values() if isinstance(m, str)}
    executives = {relations.get(m) for m in bosses}

    def role(rep_id: object) -> str:
        return "executive" if rep_id in executives else "manager" if rep_id in bosses else "rep"

    if "role" in prepared.derived:
        values["role"] = pa.array([role(r) for r in rep_ids.to_pylist()], pa.string())
    prepared.flags["role_derived"] = pa.array(np.full(n, "role" in prepared.derived))
    created_table = pa.table({
        "rep_id": pa.array(people["rep_id"], pa.string()),
        "name": pa.array(people["name"], pa.string()),
        "role": pa.array([role(p) for p in created], pa.string()),
        "team": pa.array(people["team"], pa.string()),
        "region": pa.array(people["region"], pa.string()),
        "role_derived": pa.array([True] * len(created), pa.bool_()),
    })
    return OrgChart(created_table, adopted)


def _resolve_accounts(cur: duckdb.DuckDBPyConnection, prepared: Prepared, field_name: str,
                      missing: np.ndarray) -> np.ndarray:
    """Resolve account references not found by id by the account's name; still unknown."""
    cells = prepared.values[field_name]
    directory = Directory.from_frame(repo.account_directory(cur), key="account_id")
    rows = pa.array(np.flatnonzero(missing))
    resolved, unknown, ambiguous = directory.resolve_column(pc.take(cells, rows))
    at = np.zeros(len(cells), dtype=bool)
    at[np.flatnonzero(missing)[~(unknown | ambiguous)]] = True
    found = pc.filter(resolved, pa.array(~(unknown | ambiguous)))
    prepared.values[field_name] = pc.replace_with_mask(cells, pa.array(at),
                                                       found.cast(cells.type))
    still = np.zeros(len(cells), dtype=bool)
    still[np.flatnonzero(missing)[unknown]] = True
    several = np.zeros(len(cells), dtype=bool)
    several[np.flatnonzero(missing)[ambiguous]] = True
    prepared.problems.add(several, prepared.header(field_name), reasons.AMBIGUOUS_ACCOUNT)
    return still


def _check_references(cur: duckdb.DuckDBPyConnection, prepared: Prepared) -> None:
    for spec in prepared.binding.entity.fields:
        if spec.kind != "ref" or spec.name not in prepared.values:
            continue
        missing = repo.unknown_keys(cur, spec.references or "", prepared.values[spec.name])
        if spec.references == "accounts":
            bucket = prepared.fallbacks.get("unknown_account")
            if bucket is not None:
                missing &= ~bucket
            if missing.any():
                missing = _resolve_accounts(cur, prepared, spec.name, missing)
        prepared.problems.add(missing, prepared.header(spec.name),
                              reasons.unknown_reference(spec.references or "", spec.name))


def _valid_rows(prepared: Prepared, valid: np.ndarray) -> pa.Table:
    entity = prepared.binding.entity
    keep = pa.array(valid)
    columns = {}
    for name in prepared.written_fields:
        spec = entity.field(name)
        columns[spec.db_column] = pc.filter(prepared.values[name], keep)
    for name, flag in prepared.flags.items():
        columns[name] = pc.filter(flag, keep)
    return pa.table(columns)


_JSON_ESCAPES = (("\\", "\\\\"), ('"', '\\"'), ("\n", "\\n"), ("\r", "\\r"), ("\t", "\\t"))


def _json_text(column: pa.Array) -> pa.Array:
    """Each value as a JSON string literal, escaped column-wise."""
    text = column.cast(pa.string())
    for plain, escaped in _JSON_ESCAPES:
        text = pc.replace_substring(text, plain, escaped)
    if v.mask_of(pc.match_substring_regex(text, r"[\x00-\x1f]")).any():
        for code in range(32):
            text = pc.replace_substring(text, chr(code), f"\\u{code:04x}")
    return pc.binary_join_element_wise('"', text, '"', "")


def _json_rows(table: pa.Table, names: list[str]) -> pa.Array:
    """Each row as a JSON object of header -> cell text, built column-wise (no per-row calls)."""
    pieces: list[pa.Array | str] = []
    for index, (name, column) in enumerate(zip(names, table.columns, strict=True)):
        pieces.append(("{" if index == 0 else ", ") + json.dumps(name, ensure_ascii=False) + ": ")
        pieces.append(_json_text(column.combine_chunks()))
    pieces.append("}")
    return pc.binary_join_element_wise(*pieces, "")


def _rejects(prepared: Prepared, run_id: int, problems: Problems | None = None,
             severity: str = repo.REJECTED) -> tuple[pa.Table, dict[str, int], int]:
    """Reject rows (one per row, column and reason), rows per reason and rejected row count.

    With `problems` (and severity warning) the same for the warnings on kept rows; rows with
    a wrong number of fields count only as rejected.
    """
    raw = prepared.raw
    problems = prepared.problems if problems is None else problems
    skipped = prepared.skipped
    first_index: dict[str, int] = {}
    for index, header in enumerate(raw.header):
        first_index.setdefault(header, index)
    reason_names = sorted(set(problems.reasons) | {reasons.WRONG_FIELD_COUNT})
    reason_code = {reason: code for code, reason in enumerate(reason_names)}

    parts = []
    for rows, header, reason in zip(problems.positions, problems.headers, problems.reasons,
                                    strict=True):
        rows = rows[~skipped[rows]]
        column = -1 if header is None else first_index[header]
        parts.append(np.stack([rows, np.full(len(rows), column),
                               np.full(len(rows), reason_code[reason])], axis=1))
    found = np.unique(np.concatenate(parts), axis=0) if parts else np.zeros((0, 3), np.int64)
    pos, column, code = found[:, 0], found[:, 1], found[:, 2]

    value = pa.nulls(len(found), pa.string())
    for index in np.unique(column[column >= 0]):
        at = column == index
        cells = pc.take(raw.table.column(int(index)), pa.array(pos[at])).combine_chunks()
        value = pc.replace_with_mask(value, pa.array(at), cells)
    rejected = np.unique(pos)
    names = [h or f"(column {i + 1})" for i, h in enumerate(raw.header)]
    raw_json = pc.take(_json_rows(raw.table.take(pa.array(rejected)), names),
                       pa.array(np.searchsorted(rejected, pos)))
    per_reason = {reason_names[c]: len(np.unique(pos[code == c])) for c in np.unique(code)}

    lines = raw.lines[pos]
    ragged = raw.ragged if severity == repo.REJECTED else []
    if ragged:
        per_reason[reasons.WRONG_FIELD_COUNT] = len(ragged)
        lines = np.concatenate([lines, [r.line for r in ragged]])
        column = np.concatenate([column, np.full(len(ragged), -1)])
        code = np.concatenate([code, np.full(len(ragged), reason_code[reasons.WRONG_FIELD_COUNT])])
        value = pa.concat_arrays([value, pa.nulls(len(ragged), pa.string())])
        raw_json = pa.concat_arrays([raw_json, pa.array(
            [json.dumps({"fields": r.fields}, ensure_ascii=False) for r in ragged], pa.string())])
    order = pa.array(np.lexsort((code, column, lines)))
    header_names = pa.array([None, *raw.header], pa.string())
    table = pa.table({
        "run_id": pa.array(np.full(len(lines), run_id, dtype=np.int64)),
        "file": pa.array(np.full(len(lines), raw.name, dtype=object), pa.string()),
        "line": pa.array(np.asarray(lines, dtype=np.int64)),
        "column_name": pc.take(header_names, pa.array(column + 1)),
        "value": value,
        "reason": pc.take(pa.array(reason_names, pa.string()), pa.array(code)),
        "raw_json": raw_json,
        "severity": pa.array(np.full(len(lines), severity, dtype=object), pa.string()),
    }).take(order)
    return table, dict(sorted(per_reason.items())), len(rejected) + len(ragged)


def _kept_only(problems: Problems, valid: np.ndarray) -> Problems:
    """The problems that concern kept rows."""
    kept = Problems()
    for rows, header, reason in zip(problems.positions, problems.headers, problems.reasons,
                                    strict=True):
        kept.add_at(rows[valid[rows]], header, reason)
    return kept


def load_file(cur: duckdb.DuckDBPyConnection, prepared: Prepared, run_id: int,
              loaded_at: datetime) -> tuple[FileSummary, pa.Table]:
    """Check references, upsert the file's valid rows and return its summary and rejects.

    The rejects table also holds the warnings on kept rows (severity "warning"). Works on a
    copy of `prepared`, so a retried transaction starts from the same state.
    """
    prepared = prepared.copy()
    entity = prepared.binding.entity
    chart = _resolve_managers(cur, prepared) if entity is REPS else None
    _resolve_owners(cur, prepared)
    _check_references(cur, prepared)
    n = prepared.size
    valid = ~prepared.problems.rows(n) & ~prepared.skipped
    rows = _valid_rows(prepared, valid)
    written = repo.upsert(cur, entity.table, rows, prepared.binding.source, loaded_at,
                          insert_only=entity.insert_only)
    fallbacks = {name: int((mask & valid).sum()) for name, mask in prepared.fallbacks.items()}
    if fallbacks.get("unknown_account"):
        repo.upsert(cur, "accounts", pa.table({
            "account_id": pa.array([UNKNOWN_ACCOUNT_ID], pa.string()),
            "name": pa.array([UNKNOWN_ACCOUNT_NAME], pa.string())}),
            CREATED_BY_IMPORT, loaded_at)
    if chart is not None:
        fallbacks["managers_created"] = repo.upsert(
            cur, "reps", chart.created, CREATED_BY_IMPORT, loaded_at).inserted
        for old, new in chart.adopted.items():
            repo.replace_rep_id(cur, old, new)
        repo.recompute_derived_roles(cur)
    rejects, per_reason, rejected = _rejects(prepared, run_id)
    warnings, per_warning, _ = _rejects(prepared, run_id, _kept_only(prepared.warnings, valid),
                                        repo.WARNING)
    counts = Counts(read=prepared.raw.records, inserted=written.inserted,
                    updated=written.updated, unchanged=written.unchanged, rejected=rejected,
                    skipped=int(prepared.skipped.sum()))
    summary = FileSummary(file=prepared.raw.name, format=prepared.binding.label,
                          entity=entity.name, counts=counts, rejected_by_reason=per_reason,
                          warnings_by_reason=per_warning,
                          fallbacks={k: c for k, c in fallbacks.items() if c})
    return summary, pa.concat_tables([rejects, warnings])


def whole_file_failure(summary: FileSummary, rejects: pa.Table, shown: int = 3) -> str | None:
    """When every data row of a file was rejected, a line naming the file and the most common
    reasons with their columns ("deals.csv: all 35 rows rejected (35 unknown owner at column
    owner)"); None when the file had no rows or some were kept or skipped."""
    counts = summary.counts
    if counts.read == 0 or counts.rejected < counts.read:
        return None
    mine = rejects.filter(pc.and_(pc.equal(rejects["file"], summary.file),
                                  pc.equal(rejects["severity"], repo.REJECTED)))
    frame = mine.select(["line", "column_name", "reason"]).to_pandas()
    per = (frame.drop_duplicates().groupby(["reason", "column_name"], dropna=False)["line"]
           .nunique().sort_values(ascending=False, kind="stable"))
    parts = []
    for (reason, column), rows in list(per.items())[:shown]:
        where = f" at column {column}" if isinstance(column, str) else ""
        parts.append(f"{rows:,} {reason}{where}")
    if len(per) > shown:
        parts.append(f"{len(per) - shown} more reason(s)")
    return f"{summary.file}: all {counts.read:,} rows rejected ({', '.join(parts)})"
