"""SQL of plan versions: headers, items, tags and status, and telling versions apart (the
versions of a kind by content hash and by year)."""

from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd

VersionRow = tuple[str, str, object, str]
"""name, author, created_at, version_id."""


def version_with_hash(cur: duckdb.DuckDBPyConnection, kind: str, digest: str
                      ) -> VersionRow | None:
    """The oldest `kind` version whose content hash is `digest`, or None."""
    return cur.execute(
        """SELECT name, author, created_at, version_id FROM plan_versions
           WHERE kind = ? AND content_hash = ? ORDER BY created_at LIMIT 1""",
        [kind, digest]).fetchone()


def versions_of_year(cur: duckdb.DuckDBPyConnection, kind: str, fiscal_year: int | None
                     ) -> list[VersionRow]:
    """Every `kind` version of a fiscal year (None: those without one), oldest first."""
    return cur.execute(
        """SELECT name, author, created_at, version_id FROM plan_versions
           WHERE kind = ? AND fiscal_year IS NOT DISTINCT FROM ? ORDER BY created_at""",
        [kind, fiscal_year]).fetchall()


def compare_places(cur: duckdb.DuckDBPyConnection, with_accounts: bool
                   ) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Reps (rep_id, name, team, region, capacity, segment) and, when asked, accounts
    (subject, account, lat, lon), as a comparison names and maps them."""
    reps = cur.execute("SELECT rep_id, name, team, region, capacity, segment FROM reps").df()
    places = (cur.execute("SELECT account_id AS subject, name AS account, lat, lon "
                          "FROM accounts").df() if with_accounts else None)
    return reps, places


def version_kind(cur: duckdb.DuckDBPyConnection, version_id: str) -> str | None:
    """The kind of a version, or None when there is no such version (a parent check)."""
    row = cur.execute("SELECT kind FROM plan_versions WHERE version_id = ?",
                      [version_id]).fetchone()
    return None if row is None else row[0]


def parent_of(cur: duckdb.DuckDBPyConnection, version_id: str) -> str | None:
    """The parent id of a version; None when it has none or does not exist (ends a lineage)."""
    row = cur.execute("SELECT parent_id FROM plan_versions WHERE version_id = ?",
                      [version_id]).fetchone()
    return row[0] if row else None


def insert_version(
    cur: duckdb.DuckDBPyConnection, *, version_id: str, kind: str, name: str,
    parent_id: str | None, fiscal_year: int | None, parameters: str, solver: str,
    metrics: str, content_hash: str, author: str, created_at: dt.datetime,
    items: pd.DataFrame,
) -> None:
    """Write a draft version, its header (parameters, solver and metrics as JSON text) and its
    items (subject, assignee, previous, amount_cents, detail), in the caller's transaction."""
    cur.execute(
        """INSERT INTO plan_versions (version_id, kind, name, parent_id, fiscal_year,
               parameters, solver, metrics, content_hash, author, created_at, status)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'draft')""",
        [version_id, kind, name, parent_id, fiscal_year, parameters, solver, metrics,
         content_hash, author, created_at])
    cur.register("version_rows", items)
    try:
        cur.execute("""INSERT INTO plan_version_items
                       SELECT ?, subject, assignee, previous, amount_cents, detail
                       FROM version_rows""", [version_id])
    finally:
        cur.unregister("version_rows")


def version_header(cur: duckdb.DuckDBPyConnection, version_id: str) -> dict | None:
    """A version's plan_versions row as a dict (JSON columns still text), or None."""
    result = cur.execute("SELECT * FROM plan_versions WHERE version_id = ?", [version_id])
    row = result.fetchone()
    if row is None:
        return None
    return dict(zip([d[0] for d in result.description], row, strict=True))


def version_tags(cur: duckdb.DuckDBPyConnection, version_id: str) -> tuple[str, ...]:
    """A version's tags, alphabetically."""
    return tuple(t for (t,) in cur.execute(
        "SELECT tag FROM plan_version_tags WHERE version_id = ? ORDER BY tag",
        [version_id]).fetchall())


def version_items(cur: duckdb.DuckDBPyConnection, version_id: str) -> pd.DataFrame:
    """A version's items (subject, assignee, previous, amount_cents, detail), by subject."""
    return cur.execute(
        """SELECT subject, assignee, previous, amount_cents, detail FROM plan_version_items
           WHERE version_id = ? ORDER BY subject""", [version_id]).df()


def version_list(cur: duckdb.DuckDBPyConnection, kind: str | None) -> pd.DataFrame:
    """Versions (of one kind, or all with None) newest first: id, kind, name, parent, fiscal
    year, status, author, created, hash and their tags as a list."""
    return cur.execute(
        """SELECT v.version_id, v.kind, v.name, v.parent_id, v.fiscal_year, v.status,
                  v.author, v.created_at, v.content_hash,
                  coalesce(list(t.tag ORDER BY t.tag) FILTER (WHERE t.tag IS NOT NULL), [])
                      AS tags
           FROM plan_versions v LEFT JOIN plan_version_tags t USING (version_id)
           WHERE ?::VARCHAR IS NULL OR v.kind = ?
           GROUP BY ALL ORDER BY v.created_at DESC, v.version_id""",
        [kind, kind]).df()


def update_status(cur: duckdb.DuckDBPyConnection, version_id: str, status: str) -> None:
    """Set a version's status (the caller checks the status and audits the move)."""
    cur.execute("UPDATE plan_versions SET status = ? WHERE version_id = ?",
                [status, version_id])


def add_tag(cur: duckdb.DuckDBPyConnection, version_id: str, tag: str, tagged_by: str,
            tagged_at: dt.datetime) -> None:
    """Attach a tag to a version; a tag it already has is left as it was."""
    cur.execute("INSERT OR IGNORE INTO plan_version_tags VALUES (?, ?, ?, ?)",
                [version_id, tag, tagged_by, tagged_at])


def other_published(cur: duckdb.DuckDBPyConnection, kind: str, fiscal_year: int | None,
                    exclude: str) -> tuple[str, ...]:
    """Every published version of a kind and fiscal year other than `exclude` (those a
    publish supersedes)."""
    return tuple(v for (v,) in cur.execute(
        """SELECT version_id FROM plan_versions WHERE kind = ? AND status = 'published'
           AND version_id <> ? AND fiscal_year IS NOT DISTINCT FROM ?""",
        [kind, exclude, fiscal_year]).fetchall())
