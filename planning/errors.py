"""Errors that carry a message meant for a person, not a stack trace."""

from __future__ import annotations


class RevPlanError(Exception):
    """Base for every error whose message is safe and useful to show to a user as it is."""


class WorkspaceNameError(RevPlanError):
    """A workspace name that could escape the data folder or is otherwise unusable."""


class WorkspaceNotFoundError(RevPlanError):
    """The named workspace has no database file yet."""


class WorkspaceBusyError(RevPlanError):
    """Another process holds the workspace file open for writing."""


class MigrationError(RevPlanError):
    """The database's recorded migrations disagree with the migrations shipped in the code."""
