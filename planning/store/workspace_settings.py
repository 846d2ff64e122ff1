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


CREATION_KEY = "creation"
"""workspace_settings key saying whether the workspace's creation finished ('complete')."""
CREATION_COMPLETE = "complete"


def mark_creation_complete(cur: duckdb.DuckDBPyConnection) -> None:
    """Record, inside the creation's last transaction, that the workspace is complete."""
    set_settings(cur, {CREATION_KEY: CREATION_COMPLETE})


def creation_complete(cur: duckdb.DuckDBPyConnection) -> bool:
    """True when the workspace's creation finished. A workspace made before the marker existed
    counts as complete once it holds any audit event (every way of filling one records one);
    a file with neither was left by a build that stopped before its data was committed."""
    marker = settings(cur, [CREATION_KEY]).get(CREATION_KEY)
    if marker is not None:
        return marker == CREATION_COMPLETE
    return cur.execute("SELECT EXISTS (SELECT 1 FROM audit_events)").fetchone()[0]
