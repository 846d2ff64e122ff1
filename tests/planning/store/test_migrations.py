"""Numbered migrations: applied once, recorded, and checked against the shipped files."""

from __future__ import annotations

from pathlib import Path

import pytest

from planning.errors import MigrationError
from planning.store import close_all_workspaces, open_workspace
from planning.store.migrations import applied_versions, apply_migrations, shipped_migrations
from planning.store.tables import CRM_TABLES


def test_fresh_workspace_gets_every_migration(data_dir: Path) -> None:
    workspace = open_workspace("fresh", create=True)
    assert applied_versions(workspace) == [m.version for m in shipped_migrations()]
    tables = workspace.read(
        lambda cur: {r[0] for r in cur.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    )
    assert set(CRM_TABLES) | {"import_runs", "import_rejects", "schema_migrations"} <= tables


def test_migrated_workspace_is_left_alone_and_keeps_its_data(data_dir: Path) -> None:
    workspace = open_workspace("again", create=True)
    workspace.write(lambda cur: cur.execute("INSERT INTO workspace_settings VALUES ('k', 'v')"))
    close_all_workspaces()

    reopened = open_workspace("again")
    assert apply_migrations(reopened) == []
    assert applied_versions(reopened) == [m.version for m in shipped_migrations()]
    value = reopened.read(
        lambda cur: cur.execute("SELECT value FROM workspace_settings WHERE key = 'k'")
        .fetchone()[0]
    )
    assert value == "v"


def test_workspace_with_an_edited_migration_is_refused(data_dir: Path) -> None:
    workspace = open_workspace("edited", create=True)
    workspace.write(
        lambda cur: cur.execute("UPDATE schema_migrations SET checksum = 'x' WHERE version = 1")
    )
    close_all_workspaces()
    with pytest.raises(MigrationError, match="different checksum"):
        open_workspace("edited")


def test_migration_files_are_numbered_without_gaps() -> None:
    versions = [m.version for m in shipped_migrations()]
    assert versions == list(range(1, len(versions) + 1))
