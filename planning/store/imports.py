"""Repository for CRM imports: bulk upserts of the CRM mirror, import runs and rejected rows.

Rows arrive as Arrow tables and are loaded set-wise through DuckDB (`register` + one statement
per step), never row by row. Table and column names come only from the constants below; every
value is a bound parameter or a registered table.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from datetime import datetime

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa


@dataclass(frozen=True)
class TableDef:
    """A CRM-mirror table an import may write: its key column and its writable columns."""

    key: str
    columns: frozenset[str]


TABLES: dict[str, TableDef] = {
    "reps": TableDef("rep_id", frozenset({
        "rep_id", "name", "email", "title", "role", "manager_id", "team", "region", "segment",
        "hire_date", "ramp_months", "capacity", "home_zip", "home_lat", "home_lon",
        "is_active", "role_derived"})),
    "accounts": TableDef("account_id", frozenset({
        "account_id", "name", "industry", "segment", "employees", "annual_revenue_cents", "zip",
        "city", "state", "county", "country", "lat", "lon", "owner_id", "created_at"})),
    "opportunities": TableDef("opportunity_id", frozenset({
        "opportunity_id", "account_id", "owner_id", "name", "type", "product_id", "stage",
        "status", "amount_cents", "close_date", "created_at", "closed_at", "forecast_category",
        "next_step", "next_step_date", "last_activity_date", "close_date_estimated",
        "created_estimated"})),
    "opportunity_history": TableDef("history_id", frozenset({
        "history_id", "opportunity_id", "changed_at", "field", "old_value", "new_value",
        "changed_by"})),
    "activities": TableDef("activity_id", frozenset({
        "activity_id", "opportunity_id", "account_id", "owner_id", "kind", "occurred_at"})),
}

REJECT_COLUMNS = ("run_id", "file", "line", "column_name", "value", "reason", "raw_json",
                  "severity")
REJECTED, WARNING = "rejected", "warning"
"""Reject-row severities: the row was left out, or kept with the problem noted."""
OWNER_COLUMNS = (("reps", "manager_id"), ("accounts", "owner_id"), ("opportunities", "owner_id"),
                 ("activities", "owner_id"))
"""Every CRM-mirror column that holds a rep id."""
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")
_view_numbers = itertools.count(1)


@dataclass(frozen=True)
class WriteCounts:
    """What an upsert did to the rows it was given."""

    inserted: int
    updated: int
    unchanged: int


def _table(name: str) -> TableDef:
    if name not in TABLES:
        raise ValueError(f"{name!r} is not a table imports may write")
    return TABLES[name]


def _columns(table: str, names: list[str]) -> list[str]:
    allowed = _table(table).columns
    for name in names:
        if name not in allowed or not _IDENTIFIER.match(name):
            raise ValueError(f"{name!r} is not a writable column of {table}")
    return names


def _view(cur: duckdb.DuckDBPyConnection, data: pa.Table) -> str:
    name = f"revplan_import_rows_{next(_view_numbers)}"
    cur.register(name, data)
    return name


def workspace_currency(cur: duckdb.DuckDBPyConnection) -> str:
    """The workspace's ISO currency code (USD when unset)."""
    rows = cur.execute("SELECT value FROM workspace_settings WHERE key = 'currency'").fetchall()
    return (rows[0][0] if rows else "USD").upper()


def rep_directory(cur: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every rep's id, name, e-mail, manager and source, for resolving owners."""
    return cur.execute(
        "SELECT rep_id, name, email, manager_id, source FROM reps ORDER BY rep_id"
    ).fetch_df()


def account_directory(cur: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every account's id and name, for resolving account references given by name."""
    return cur.execute("SELECT account_id, name FROM accounts ORDER BY account_id").fetch_df()


def median_won_cycle_days(cur: duckdb.DuckDBPyConnection) -> int | None:
    """Median whole days from created to close of won deals with both dates, None if none.

    Deals whose dates the import estimated do not count.
    """
    row = cur.execute(
        "SELECT median(close_date - created_at::DATE) FROM opportunities "
        "WHERE status = 'won' AND close_date IS NOT NULL AND created_at IS NOT NULL "
        "AND NOT close_date_estimated AND NOT created_estimated"
    ).fetchall()[0]
    return None if row[0] is None else int(round(float(row[0])))


def replace_rep_id(cur: duckdb.DuckDBPyConnection, old: str, new: str) -> None:
    """Point every reference to rep `old` at rep `new` and delete `old`.

    Used when a file brings the person a stand-in was created for (see CREATED_BY_IMPORT).
    """
    for table, column in OWNER_COLUMNS:
        cur.execute(f'UPDATE "{table}" SET "{column}" = ? WHERE "{column}" = ?',
                    [new, old]).fetchall()
    cur.execute("DELETE FROM reps WHERE rep_id = ?", [old]).fetchall()


def recompute_derived_roles(cur: duckdb.DuckDBPyConnection) -> int:
    """Re-derive the role of every rep whose role was derived, across the workspace.

    Someone whose reports have reports is an executive, someone with reports a manager,
    everybody else a rep. Returns the number of reps whose role changed.
    """
    rows = cur.execute(
        "UPDATE reps AS t SET role = d.role FROM ("
        "SELECT r.rep_id, CASE "
        "WHEN EXISTS (SELECT 1 FROM reps AS a JOIN reps AS b ON b.manager_id = a.rep_id "
        "WHERE a.manager_id = r.rep_id) THEN 'executive' "
        "WHEN EXISTS (SELECT 1 FROM reps AS a WHERE a.manager_id = r.rep_id) THEN 'manager' "
        "ELSE 'rep' END AS role FROM reps AS r WHERE r.role_derived) AS d "
        "WHERE t.rep_id = d.rep_id AND t.role IS DISTINCT FROM d.role RETURNING t.rep_id"
    ).fetchall()
    return len(rows)


def unknown_keys(cur: duckdb.DuckDBPyConnection, table: str, ids: pa.Array) -> np.ndarray:
    """Mask of the positions whose non-null id is not a key of `table`."""
    key = _table(table).key
    view = _view(cur, pa.table({"pos": pa.array(np.arange(len(ids), dtype=np.int64)),
                                "id": ids.cast(pa.string())}))
    try:
        found = cur.execute(
            f'SELECT i.pos FROM {view} AS i WHERE i.id IS NOT NULL AND NOT EXISTS '
            f'(SELECT 1 FROM "{table}" AS t WHERE t."{key}" = i.id)'
        ).fetchnumpy()["pos"]
    finally:
        cur.unregister(view)
    mask = np.zeros(len(ids), dtype=bool)
    mask[np.asarray(found, dtype=np.int64)] = True
    return mask


def upsert(cur: duckdb.DuckDBPyConnection, table: str, rows: pa.Table, source: str,
           loaded_at: datetime, insert_only: bool = False) -> WriteCounts:
    """Insert new keys and update changed rows; rows whose values all match stay untouched.

    `rows` holds the key column and the columns the file provides; other columns keep their
    stored values on update and their defaults on insert. With `insert_only`, existing keys
    are left as they are (history rows).
    """
    definition = _table(table)
    key = definition.key
    columns = _columns(table, [c for c in rows.column_names if c != key])
    if key not in rows.column_names:
        raise ValueError(f"rows for {table} lack the key column {key}")
    if rows.num_rows == 0:
        return WriteCounts(0, 0, 0)
    view = _view(cur, rows)
    try:
        changed = " OR ".join(f't."{c}" IS DISTINCT FROM i."{c}"' for c in columns) or "FALSE"
        if insert_only:
            changed = "FALSE"
        inserted, updated = cur.execute(
            f'SELECT count(*) FILTER (WHERE t."{key}" IS NULL), '
            f'count(*) FILTER (WHERE t."{key}" IS NOT NULL AND ({changed})) '
            f'FROM {view} AS i LEFT JOIN "{table}" AS t ON t."{key}" = i."{key}"'
        ).fetchall()[0]
        if updated:
            assignments = ", ".join(f'"{c}" = i."{c}"' for c in columns)
            cur.execute(
                f'UPDATE "{table}" AS t SET {assignments}, source = ?, loaded_at = ? '
                f'FROM {view} AS i WHERE t."{key}" = i."{key}" AND ({changed})',
                [source, loaded_at],
            ).fetchall()
        if inserted:
            names = ", ".join(f'"{c}"' for c in [key, *columns])
            selected = ", ".join(f'i."{c}"' for c in [key, *columns])
            cur.execute(
                f'INSERT INTO "{table}" ({names}, source, loaded_at) '
                f'SELECT {selected}, ?, ? FROM {view} AS i WHERE NOT EXISTS '
                f'(SELECT 1 FROM "{table}" AS t WHERE t."{key}" = i."{key}")',
                [source, loaded_at],
            ).fetchall()
    finally:
        cur.unregister(view)
    return WriteCounts(int(inserted), int(updated), rows.num_rows - int(inserted) - int(updated))


def insert_run(cur: duckdb.DuckDBPyConnection, started_at: datetime, actor: str | None,
               files: list[str]) -> int:
    """Open an import run row and return its id."""
    row = cur.execute(
        "INSERT INTO import_runs (started_at, actor, files, status) VALUES (?, ?, ?, 'running') "
        "RETURNING run_id",
        [started_at, actor, files],
    ).fetchall()[0]
    return int(row[0])


def finish_run(cur: duckdb.DuckDBPyConnection, run_id: int, finished_at: datetime, status: str,
               totals: dict[str, int], summary_json: str) -> None:
    """Record a run's outcome: status, row counts and the JSON summary."""
    cur.execute(
        "UPDATE import_runs SET finished_at = ?, status = ?, rows_read = ?, rows_inserted = ?, "
        "rows_updated = ?, rows_unchanged = ?, rows_rejected = ?, rows_skipped = ?, "
        "summary_json = ? WHERE run_id = ?",
        [finished_at, status, totals["read"], totals["inserted"], totals["updated"],
         totals["unchanged"], totals["rejected"], totals.get("skipped", 0), summary_json,
         run_id],
    ).fetchall()


def insert_rejects(cur: duckdb.DuckDBPyConnection, rejects: pa.Table) -> None:
    """Quarantine rejected rows (columns as in REJECT_COLUMNS)."""
    if rejects.num_rows == 0:
        return
    if tuple(rejects.column_names) != REJECT_COLUMNS:
        raise ValueError("reject rows must have the columns " + ", ".join(REJECT_COLUMNS))
    view = _view(cur, rejects)
    try:
        cur.execute(
            f"INSERT INTO import_rejects ({', '.join(REJECT_COLUMNS)}) "
            f"SELECT {', '.join(REJECT_COLUMNS)} FROM {view}"
        ).fetchall()
    finally:
        cur.unregister(view)


def recent_runs(cur: duckdb.DuckDBPyConnection, limit: int) -> pd.DataFrame:
    """The latest import runs, newest first."""
    return cur.execute(
        "SELECT run_id, started_at, finished_at, actor, array_to_string(files, ', ') AS files, "
        "status, rows_read, rows_inserted, rows_updated, rows_unchanged, rows_rejected "
        "FROM import_runs ORDER BY run_id DESC LIMIT ?",
        [limit],
    ).fetch_df()


def run_rejects(cur: duckdb.DuckDBPyConnection, run_id: int) -> pd.DataFrame:
    """A run's rejected rows and warnings (severity rejected or warning), in file and line
    order."""
    return cur.execute(
        "SELECT file, line, column_name, value, reason, severity, raw_json FROM import_rejects "
        "WHERE run_id = ? ORDER BY file, line, column_name NULLS FIRST, reason",
        [run_id],
    ).fetch_df()


def run_summary_json(cur: duckdb.DuckDBPyConnection, run_id: int) -> str | None:
    """The JSON summary stored with a run, None when there is no such run."""
    rows = cur.execute("SELECT summary_json FROM import_runs WHERE run_id = ?", [run_id]
                       ).fetchall()
    return rows[0][0] if rows else None
