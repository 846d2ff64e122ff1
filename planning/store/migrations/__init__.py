"""Numbered SQL migrations (`NNNN_name.sql` beside this file), applied in order on open.

Each migration runs in its own transaction and is recorded in `schema_migrations` with a
checksum; a database whose recorded checksum differs from the shipped file is refused, since
its schema is no longer the one the code expects.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from planning.errors import MigrationError

if TYPE_CHECKING:
    from planning.store.workspace import Workspace

MIGRATIONS_DIR = Path(__file__).resolve().parent
MIGRATION_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True)
class Migration:
    """One shipped migration file."""

    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        """SHA-256 of the migration's SQL text."""
        return hashlib.sha256(self.sql.encode("utf-8")).hexdigest()


def shipped_migrations() -> list[Migration]:
    """The migrations in this folder, in version order."""
    migrations = []
    for path in sorted(MIGRATIONS_DIR.glob("*.sql")):
        match = MIGRATION_FILE.match(path.name)
        if not match:
            raise MigrationError(f"Migration file {path.name} is not named NNNN_name.sql.")
        migrations.append(
            Migration(int(match.group(1)), match.group(2), path.read_text(encoding="utf-8"))
        )
    versions = [m.version for m in migrations]
    if len(set(versions)) != len(versions):
        raise MigrationError("Two migration files share a version number.")
    return migrations


def apply_migrations(workspace: Workspace) -> list[int]:
    """Apply every shipped migration the workspace lacks; return the versions applied now."""
    with workspace.cursor() as cur:
        cur.execute(
            """CREATE TABLE IF NOT EXISTS schema_migrations (
                   version INTEGER PRIMARY KEY,
                   name VARCHAR NOT NULL,
                   checksum VARCHAR NOT NULL,
                   applied_at TIMESTAMP NOT NULL DEFAULT (now()::TIMESTAMP)
               )"""
        )
        recorded = dict(cur.execute("SELECT version, checksum FROM schema_migrations").fetchall())
    applied = []
    for migration in shipped_migrations():
        if migration.version in recorded:
            if recorded[migration.version] != migration.checksum:
                raise MigrationError(
                    f"Workspace {workspace.name!r} recorded migration {migration.version:04d} "
                    f"({migration.name}) with a different checksum than the shipped file."
                )
            continue

        def run(cur, migration: Migration = migration) -> None:
            cur.execute(migration.sql)
            cur.execute(
                "INSERT INTO schema_migrations (version, name, checksum) VALUES (?, ?, ?)",
                [migration.version, migration.name, migration.checksum],
            )

        workspace.write(run)
        applied.append(migration.version)
    return applied


def applied_versions(workspace: Workspace) -> list[int]:
    """Versions recorded in the workspace's `schema_migrations`, ascending."""
    rows = workspace.read(
        lambda cur: cur.execute("SELECT version FROM schema_migrations ORDER BY version").fetchall()
    )
    return [r[0] for r in rows]
