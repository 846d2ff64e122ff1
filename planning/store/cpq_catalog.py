"""SQL of catalog imports: which catalog version was imported when, by whom and from where;
the newest import is the workspace's current catalog."""

from __future__ import annotations

import datetime as dt

import duckdb

IMPORT_COLUMNS = ("import_no", "catalog_version", "content_hash", "source", "products",
                  "options", "bundles", "rules", "imported_by", "imported_at")


def catalog_imports(cur: duckdb.DuckDBPyConnection) -> list[dict]:
    """Every import, newest first."""
    rows = cur.execute(f"SELECT {', '.join(IMPORT_COLUMNS)} FROM cpq_catalog_imports "
                       "ORDER BY import_no DESC").fetchall()
    return [dict(zip(IMPORT_COLUMNS, row, strict=True)) for row in rows]


def latest_import(cur: duckdb.DuckDBPyConnection) -> dict | None:
    """The newest import (the current catalog), or None before the first."""
    found = cur.execute(f"SELECT {', '.join(IMPORT_COLUMNS)} FROM cpq_catalog_imports "
                        "ORDER BY import_no DESC LIMIT 1").fetchone()
    return None if found is None else dict(zip(IMPORT_COLUMNS, found, strict=True))


def insert_import(cur: duckdb.DuckDBPyConnection, *, catalog_version: str, content_hash: str,
                  source: str, products: int, options: int, bundles: int, rules: int,
                  imported_by: str, imported_at: dt.datetime) -> int:
    """Record an import as the next number, in the caller's transaction; returns the number."""
    row = cur.execute("SELECT coalesce(max(import_no), 0) + 1 FROM cpq_catalog_imports"
                      ).fetchone()
    number = int(row[0]) if row else 1
    cur.execute("INSERT INTO cpq_catalog_imports VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [number, catalog_version, content_hash, source, products, options, bundles,
                 rules, imported_by, imported_at])
    return number
