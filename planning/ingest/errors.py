"""Errors an import raises before writing anything, each naming the file and the problem."""

from __future__ import annotations

from planning.errors import RevPlanError


class ImportFileError(RevPlanError):
    """One or more files cannot be read as a CRM export; nothing was imported."""


class MappingError(RevPlanError):
    """The column-mapping file is unreadable or does not describe a valid mapping."""
