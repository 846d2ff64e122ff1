"""CRM import: recognise export files, validate and map them, quarantine bad rows, upsert.

`import_files` is the one entry point the command line, the app and the tests share; see
docs/IMPORT.md for the formats it recognises and the column-mapping file for other CRMs.
"""

from planning.ingest.errors import ImportFileError, MappingError
from planning.ingest.fields import ENTITIES, ENTITY_BY_NAME, EntitySpec, FieldSpec
from planning.ingest.run import (
    IMPORT_TASK,
    import_files,
    import_in_background,
    import_uploads,
    recent_runs,
    run_rejects,
    run_summary,
)
from planning.ingest.summary import Counts, FileSummary, ImportSummary

__all__ = [
    "ENTITIES",
    "ENTITY_BY_NAME",
    "IMPORT_TASK",
    "Counts",
    "EntitySpec",
    "FieldSpec",
    "FileSummary",
    "ImportFileError",
    "ImportSummary",
    "MappingError",
    "import_files",
    "import_in_background",
    "import_uploads",
    "recent_runs",
    "run_rejects",
    "run_summary",
]
