"""Errors that carry a message meant for a person, not a stack trace."""

from __future__ import annotations


class RevPlanError(Exception):
    """Base for every error whose message is safe and useful to show to a user as it is."""


class WorkspaceNameError(RevPlanError):
    """A workspace name that could escape the data folder or is otherwise unusable."""


class WorkspaceNotFoundError(RevPlanError):
    """The named workspace has no database file yet."""


class WorkspaceBusyError(RevPlanError):
    """Another process holds the workspace file open for writing: the workspace is busy, which
    says nothing about anyone's access to it."""

    def __init__(self, message: str, workspace: str, pid: int | None = None) -> None:
        super().__init__(message)
        self.workspace = workspace
        self.pid = pid


class MigrationError(RevPlanError):
    """The database's recorded migrations disagree with the migrations shipped in the code."""
