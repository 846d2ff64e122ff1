"""The workspace store: DuckDB files, migrations, and the repositories that own all SQL."""

from planning.store.workspace import (
    Workspace,
    close_all_workspaces,
    list_workspaces,
    open_workspace,
    validate_workspace_name,
    workspace_exists,
    workspace_path,
)

__all__ = [
    "Workspace",
    "close_all_workspaces",
    "list_workspaces",
    "open_workspace",
    "validate_workspace_name",
    "workspace_exists",
    "workspace_path",
]
