"""SQL of the workspace_settings key/value table for settings chosen when a workspace is made."""

from __future__ import annotations

import duckdb


def set_settings(cur: duckdb.DuckDBPyConnection, values: dict[str, str]) -> None:
    """Create or replace the given settings (key -> text value)."""
    cur.executemany(
        "INSERT OR REPLACE INTO workspace_settings VALUES (?, ?)",
        [[key, value] for key, value in values.items()],
    )


def settings(cur: duckdb.DuckDBPyConnection, keys: list[str]) -> dict[str, str]:
    """The values of the given settings that are set."""
    placeholders = ", ".join("?" for _ in keys)
    return dict(cur.execute(
        f"SELECT key, value FROM workspace_settings WHERE key IN ({placeholders})", keys
    ).fetchall())
