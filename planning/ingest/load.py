"""Inside the import transaction: resolve references, write valid rows, quarantine the rest.

Owners are resolved against the workspace's reps by id, then e-mail, then name (letter case
and extra spaces ignored); accounts and opportunities must exist in the workspace. Files load
in dependency order within one transaction, so rows imported earlier in the same run count.
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
from planning.ingest.normalize import Prepared
from planning.ingest.summary import Counts, FileSummary
from planning.store import imports as repo

_EMAIL = re.compile(r"[^\s<>()\[\],;@]+@[^\s<>()\[\],;@]+")
_AMBIGUOUS = "\0ambiguous"


def _name_key(text: str) -> str:
    text = re.sub(r"[<(\[].*?[>)\]]", " ", text)
    return " ".join(text.split()).casefold()


@dataclass
class Directory:
    """Reps by id, e-mail and name, for turning owner references into rep ids."""

    ids: set[str]
    emails: dict[str, str]
    names: dict[str, str]

    @classmethod
    def from_frame(cls, reps: pd.DataFrame) -> Directory:
        """Build from rows with rep_id, name and email."""
        ids: set[str] = set()
        emails: dict[str, str] = {}
        names: dict[str, str] = {}
        for rep_id, name, email in reps[["rep_id", "name", "email"]].itertuples(index=False):
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


def _resolve_managers(cur: duckdb.DuckDBPyConnection, prepared: Prepared) -> None:
    """Managers may be reps of the same file: drop invalid reps until every manager resolves."""
    values = prepared.values
    stored = repo.rep_directory(cur)
    n = prepared.size
    rep_ids = values["rep_id"]
    file_reps = pd.DataFrame({
        "rep_id": rep_ids.to_pylist(),
        "name": values["name"].to_pylist() if "name" in values else [None] * n,
        "email": values["email"].to_pylist() if "email" in values else [None] * n,
    })
    usable = ~prepared.problems.rows(n) & v.present(rep_ids)
    managers = values.get("manager_id")
    resolved = managers
    unknown = ambiguous = np.zeros(n, dtype=bool)
    while managers is not None:
        overridden = stored[~stored["rep_id"].isin(file_reps["rep_id"][usable])]
        directory = Directory.from_frame(pd.concat([overridden, file_reps[usable]]))
        resolved, unknown, ambiguous = directory.resolve_column(managers)
        dropped = usable & (unknown | ambiguous)
        if not dropped.any():
            break
        usable &= ~dropped
    header = prepared.header("manager_id")
    if managers is not None:
        prepared.problems.add(unknown, header, reasons.UNKNOWN_MANAGER)
        prepared.problems.add(ambiguous, header, reasons.AMBIGUOUS_OWNER)
        own = v.mask_of(pc.equal(resolved, rep_ids))
        prepared.problems.add(own, header, reasons.OWN_MANAGER)
        values["manager_id"] = resolved
    if "role" in prepared.derived:
        valid = ~prepared.problems.rows(n)
        relations = dict(zip(stored["rep_id"], stored["manager_id"], strict=True))
        file_managers = resolved.to_pylist() if resolved is not None else [None] * n
        for rep_id, manager, ok in zip(rep_ids.to_pylist(), file_managers, valid, strict=True):
            if ok:
                relations[rep_id] = manager
        bosses = {m for m in relations.values() if isinstance(m, str)}
        executives = {relations.get(m) for m in bosses}
        roles = ["executive" if r in executives else "manager" if r in bosses else "rep"
                 for r in rep_ids.to_pylist()]
        values["role"] = pa.array(roles, pa.string())


def _check_references(cur: duckdb.DuckDBPyConnection, prepared: Prepared) -> None:
    for spec in prepared.binding.entity.fields:
        if spec.kind != "ref" or spec.name not in prepared.values:
            continue
        missing = repo.unknown_keys(cur, spec.references or "", prepared.values[spec.name])
        prepared.problems.add(missing, prepared.header(spec.name),
                              reasons.unknown_reference(spec.references or "", spec.name))


def _valid_rows(prepared: Prepared, valid: np.ndarray) -> pa.Table:
    entity = prepared.binding.entity
    keep = pa.array(valid)
    columns = {}
    for name in prepared.written_fields:
        spec = entity.field(name)
        columns[spec.db_column] = pc.filter(prepared.values[name], keep)
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


def _rejects(prepared: Prepared, run_id: int) -> tuple[pa.Table, dict[str, int], int]:
    """Reject rows (one per row, column and reason), rows per reason and rejected row count."""
    raw = prepared.raw
    problems = prepared.problems
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
    ragged = raw.ragged
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
    }).take(order)
    return table, dict(sorted(per_reason.items())), len(rejected) + len(ragged)


def load_file(cur: duckdb.DuckDBPyConnection, prepared: Prepared, run_id: int,
              loaded_at: datetime) -> tuple[FileSummary, pa.Table]:
    """Check references, upsert the file's valid rows and return its summary and rejects.

    Works on a copy of `prepared`, so a retried transaction starts from the same state.
    """
    prepared = prepared.copy()
    entity = prepared.binding.entity
    if entity is REPS:
        _resolve_managers(cur, prepared)
    _resolve_owners(cur, prepared)
    _check_references(cur, prepared)
    n = prepared.size
    valid = ~prepared.problems.rows(n) & ~prepared.skipped
    rows = _valid_rows(prepared, valid)
    written = repo.upsert(cur, entity.table, rows, prepared.binding.source, loaded_at,
                          insert_only=entity.insert_only)
    rejects, per_reason, rejected = _rejects(prepared, run_id)
    counts = Counts(read=prepared.raw.records, inserted=written.inserted,
                    updated=written.updated, unchanged=written.unchanged, rejected=rejected,
                    skipped=int(prepared.skipped.sum()))
    summary = FileSummary(file=prepared.raw.name, format=prepared.binding.label,
                          entity=entity.name, counts=counts, rejected_by_reason=per_reason)
    return summary, rejects
