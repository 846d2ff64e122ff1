"""Where workspaces live and other process-wide settings read from the environment."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_WORKSPACE = "demo"


def data_dir() -> Path:
    """The folder holding one DuckDB file per workspace (`REVPLAN_DATA_DIR` overrides it)."""
    configured = os.environ.get("REVPLAN_DATA_DIR")
    base = Path(configured).expanduser() if configured else PROJECT_ROOT / "data" / "workspaces"
    return base.resolve()


def default_workspace() -> str:
    """The workspace the app opens when none is chosen (`REVPLAN_WORKSPACE` overrides it)."""
    return os.environ.get("REVPLAN_WORKSPACE", DEFAULT_WORKSPACE)


def audit_anchor_dir() -> Path | None:
    """The folder for audit anchor logs (`REVPLAN_AUDIT_ANCHOR_DIR`), or None for beside each
    workspace file; point it at storage the database's users cannot rewrite."""
    configured = os.environ.get("REVPLAN_AUDIT_ANCHOR_DIR")
    return Path(configured).expanduser().resolve() if configured else None
