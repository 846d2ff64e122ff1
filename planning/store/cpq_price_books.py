"""SQL of the catalog and price book versions quotes are priced with: immutable snapshots kept
as canonical JSON with their hash, read back by version."""

from __future__ import annotations

import datetime as dt

import duckdb


def catalog_snapshot(cur: duckdb.DuckDBPyConnection, catalog_version: str
                     ) -> tuple[str, str] | None:
    """(content JSON, content hash) of a stored catalog version, or None."""
    return cur.execute("SELECT content_json, content_hash FROM cpq_catalog_snapshots "
                       "WHERE catalog_version = ?", [catalog_version]).fetchone()


def insert_catalog_snapshot(cur: duckdb.DuckDBPyConnection, *, catalog_version: str,
                            content_json: str, content_hash: str, saved_by: str,
                            saved_at: dt.datetime) -> None:
    """Keep a catalog version, in the caller's transaction."""
    cur.execute("INSERT INTO cpq_catalog_snapshots VALUES (?, ?, ?, ?, ?)",
                [catalog_version, content_json, content_hash, saved_by, saved_at])


def price_book(cur: duckdb.DuckDBPyConnection, price_book_id: str, version: int
               ) -> tuple[str, str] | None:
    """(content JSON, content hash) of a stored price book version, or None."""
    return cur.execute("SELECT content_json, content_hash FROM cpq_price_books "
                       "WHERE price_book_id = ? AND version = ?",
                       [price_book_id, version]).fetchone()


def newest_price_book_version(cur: duckdb.DuckDBPyConnection, price_book_id: str) -> int | None:
    """The highest stored version of a price book, or None when none is stored."""
    row = cur.execute("SELECT max(version) FROM cpq_price_books WHERE price_book_id = ?",
                      [price_book_id]).fetchone()
    return None if row is None or row[0] is None else int(row[0])


def insert_price_book(cur: duckdb.DuckDBPyConnection, *, price_book_id: str, version: int,
                      name: str, segment: str, region: str, currency: str,
                      valid_from: dt.date | None, valid_to: dt.date | None, content_json: str,
                      content_hash: str, saved_by: str, saved_at: dt.datetime) -> None:
    """Keep a price book version, in the caller's transaction."""
    cur.execute("INSERT INTO cpq_price_books VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [price_book_id, version, name, segment, region, currency, valid_from, valid_to,
                 content_json, content_hash, saved_by, saved_at])


def price_book_list(cur: duckdb.DuckDBPyConnection) -> list[tuple]:
    """(id, version, name, segment, region, currency, valid_from, valid_to, saved_by,
    saved_at) of every stored price book version, by id and version."""
    return cur.execute(
        """SELECT price_book_id, version, name, segment, region, currency, valid_from,
                  valid_to, saved_by, saved_at
           FROM cpq_price_books ORDER BY price_book_id, version""").fetchall()


def price_book_contents(cur: duckdb.DuckDBPyConnection) -> list[str]:
    """The content JSON of every stored price book version."""
    return [row[0] for row in cur.execute(
        "SELECT content_json FROM cpq_price_books ORDER BY price_book_id, version").fetchall()]
