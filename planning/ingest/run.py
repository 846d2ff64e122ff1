"""An import run: check every file, then load them all in one transaction.

Nothing is written unless every file can be read and recognised: a malformed file raises
ImportFileError before the transaction starts. Valid rows, the run record and the rejected rows
are written together, so a run is either fully applied or not at all. A file whose every row
is rejected fails the run the same way (rolled back, ImportFileError); some rows rejected is a
partial success.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import pyarrow as pa

from planning import audit
from planning.access.policy import AccessDeniedError, Action, require
from planning.access.users import User
from planning.background import BackgroundTask, start_task
from planning.clock import now_utc
from planning.errors import RevPlanError
from planning.ingest.csvfile import RawFile, fail, read_csv_file
from planning.ingest.derive import derive_after_load
from planning.ingest.errors import ImportFileError
from planning.ingest.fields import ENTITIES
from planning.ingest.formats import (
    FORMATS,
    FileBinding,
    binding_for,
    detect_format,
    header_key,
    looks_like_data,
)
from planning.ingest.load import load_file, whole_file_failure
from planning.ingest.mapping import MappingFile, load_mapping
from planning.ingest.normalize import Context, Prepared, prepare
from planning.ingest.summary import FileSummary, ImportSummary
from planning.progress import ProgressCallback, no_progress
from planning.store import Workspace
from planning.store import imports as repo
from planning.telemetry import timed

logger = logging.getLogger(__name__)

KNOWN_FORMATS = ", ".join(spec.label.removesuffix(" export") for spec in FORMATS)
CHECK_SHARE = 0.5
"""Share of the progress bar for reading and checking files; loading takes the rest."""


def _require_columns(raw: RawFile, binding: FileBinding) -> None:
    """Refuse files that lack a required column or repeat a column the import reads."""
    entity = binding.entity
    missing = [name for name in entity.required if name not in binding.columns]
    if missing:
        raise fail(raw.name, f"recognised as {binding.label} but the column(s) for "
                             f"{', '.join(missing)} are missing, and {entity.name} need them")
    refuse_repeated_columns(raw, binding)


def refuse_repeated_columns(raw: RawFile, binding: FileBinding) -> None:
    """Refuse a file whose header repeats a column the binding reads (which one is meant?)."""
    seen: dict[str, int] = {}
    for header in raw.header:
        seen[header_key(header)] = seen.get(header_key(header), 0) + 1
    repeated = sorted({h for h in binding.columns.values() if seen.get(header_key(h), 0) > 1})
    if repeated:
        raise fail(raw.name, f"the column(s) {', '.join(repeated)} appear more than once in the "
                             "header")


def _read_and_bind(path: Path, name: str, mapping: MappingFile | None
                   ) -> tuple[RawFile, FileBinding]:
    raw = read_csv_file(path, name)
    if mapping is not None:
        entry = mapping.entry_for(name, raw.header)
        if entry is not None:
            forced = entry.options.delimiter
            if forced and forced != raw.delimiter:
                raw = read_csv_file(path, name, delimiter=forced)
            missing = entry.missing_headers(raw.header)
            if missing:
                raise fail(name, f"the column(s) {', '.join(missing)} named in mapping "
                                 f"{mapping.name} are not in the header")
            binding = mapping.binding(entry, raw.header)
            _require_columns(raw, binding)
            return raw, binding
    found = detect_format(raw.header)
    if found is not None:
        spec, columns = found
        binding = binding_for(spec, columns)
        _require_columns(raw, binding)
        return raw, binding
    preview = ", ".join(raw.header[:6]) + (", ..." if len(raw.header) > 6 else "")
    if looks_like_data(raw.header):
        raise fail(name, f"the file has no header row: its first line holds values ({preview}) "
                         "rather than column names")
    if mapping is not None:
        closest = mapping.closest_entry(raw.header)
        hint = (f"; mapping {mapping.name} does not apply to it"
                + (f" (the header lacks {', '.join(closest.missing_headers(raw.header))})"
                   if closest is not None else " (no [files] pattern names it)"))
    else:
        hint = "; for other CRMs pass a column-mapping file (see docs/IMPORT.md)"
    raise fail(name, f"the header ({preview}) matches no known export format "
                     f"({KNOWN_FORMATS}){hint}")


def _actor_of(workspace: Workspace, actor: str | User | None) -> tuple[str | None, str | None]:
    """Name and role recorded for the run; a signed-in user must be allowed to import here."""
    if isinstance(actor, User):
        require(actor, Action.OPEN_WORKSPACE, workspace.name)
        require(actor, Action.RUN_IMPORT)
        role = actor.primary_role
        return actor.email, None if role is None else role.value
    return actor, None if actor is None else "operator"


def _refuse_failed_files(summaries: list[FileSummary], rejects: list[pa.Table]) -> None:
    """Raise ImportFileError (rolling the run back) when every row of some file was rejected:
    a whole file failing means the run is not what the user meant to apply."""
    failures = [line for summary, table in zip(summaries, rejects, strict=True)
                if (line := whole_file_failure(summary, table)) is not None]
    if failures:
        raise ImportFileError("; ".join(failures) + ". Nothing was imported.")


def _import(workspace: Workspace, files: Sequence[tuple[Path, str]],
            mapping_path: Path | None, mapping_name: str | None, user: str | User | None,
            progress: ProgressCallback) -> ImportSummary:
    actor, actor_role = _actor_of(workspace, user)
    if not files:
        raise ImportFileError("No files to import.")
    started_at = now_utc()
    progress(0.0, "Checking files")
    mapping = load_mapping(mapping_path, mapping_name) if mapping_path is not None else None
    names = [name for _, name in files]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ImportFileError(f"Several files are named {', '.join(repeated)}; rename them so "
                              "rejected rows can be traced to one file. Nothing was imported.")
    context = Context(currency=workspace.read(repo.workspace_currency), now=started_at,
                      won_cycle_days=workspace.read(repo.median_won_cycle_days))

    sizes = [path.stat().st_size if path.is_file() else 0 for path, _ in files]
    total = max(sum(sizes), 1)
    done = 0
    errors: list[str] = []
    prepared: list[tuple[int, Prepared]] = []
    for index, ((path, name), size) in enumerate(zip(files, sizes, strict=True)):
        progress(CHECK_SHARE * done / total, f"Reading {name}")

        def report(share: float, start: int = done, size: int = size, name: str = name) -> None:
            progress(CHECK_SHARE * (start + size * (0.2 + 0.8 * share)) / total,
                     f"Checking {name}")

        try:
            raw, binding = _read_and_bind(path, name, mapping)
            prepared.append((index, prepare(raw, binding, context, report)))
        except ImportFileError as exc:
            errors.append(str(exc))
        done += size
    if errors:
        if len(errors) == 1:
            raise ImportFileError(f"{errors[0]}. Nothing was imported.")
        raise ImportFileError(f"{len(errors)} files cannot be imported: {'; '.join(errors)}. "
                              "Nothing was imported.")

    order = [item for _, item in sorted(
        prepared, key=lambda pair: (ENTITIES.index(pair[1].binding.entity), pair[0]))]
    weights = [max(item.size, 1) for item in order]

    def work(cur) -> ImportSummary:
        run_id = repo.insert_run(cur, started_at, actor, names)
        summaries = []
        rejects = []
        loaded = 0
        for item, weight in zip(order, weights, strict=True):
            progress(CHECK_SHARE + (1 - CHECK_SHARE) * 0.95 * loaded / sum(weights),
                     f"Loading {item.raw.name}")
            summary, rejected = load_file(cur, item, run_id, started_at)
            summaries.append(summary)
            rejects.append(rejected)
            loaded += weight
        _refuse_failed_files(summaries, rejects)
        derived = derive_after_load(cur, order)
        progress(CHECK_SHARE + (1 - CHECK_SHARE) * 0.95, "Saving rejected rows")
        repo.insert_rejects(cur, pa.concat_tables(rejects))
        result = ImportSummary(run_id=run_id, started_at=started_at, finished_at=now_utc(),
                               actor=actor, files=summaries, derived=derived.as_dict())
        repo.finish_run(cur, run_id, result.finished_at, result.status,
                        result.totals.as_dict(), result.to_json())
        audit.record(
            cur, actor=actor or "unknown", actor_role=actor_role, action="import.run",
            entity="import_run", entity_id=str(run_id),
            after={"files": names, "status": result.status, **result.totals.as_dict(),
                   "derived": result.derived},
        )
        return result

    result = workspace.write(work)
    progress(1.0, "Import finished")
    return result


def import_files(workspace: Workspace, paths: list[Path], mapping_path: Path | None = None,
                 actor: str | User | None = None,
                 progress: ProgressCallback = no_progress) -> ImportSummary:
    """Import CRM export files into a workspace in one transaction and return the run summary.

    Each file's kind is detected from its header (Salesforce User, Account, Opportunity and
    OpportunityFieldHistory exports, HubSpot deals and companies) or given by the mapping
    file. Files load in dependency order (reps, accounts, opportunities, history,
    activities); rows upsert by CRM id and rejected rows are quarantined in import_rejects.
    Raises ImportFileError or MappingError, having written nothing, if a file is unusable.
    `actor` is a signed-in user (who must hold an importing role) or the operator's name.
    """
    files = [(Path(path), Path(path).name) for path in paths]
    mapping = Path(mapping_path) if mapping_path is not None else None
    return _import(workspace, files, mapping, mapping.name if mapping else None, actor,
                   progress)


def _safe_name(name: str, fallback: str) -> str:
    base = Path(name.replace("\\", "/")).name.strip()
    return base if base and base not in (".", "..") else fallback


def import_uploads(workspace: Workspace, uploads: Sequence[tuple[str, bytes]],
                   mapping: tuple[str, bytes] | None = None, actor: str | User | None = None,
                   progress: ProgressCallback = no_progress) -> ImportSummary:
    """Import files received as (name, bytes), e.g. browser uploads, under their own names.

    The bytes are written to a private temporary folder for the run and removed afterwards.
    Unexpected failures are logged with their stack trace before they propagate, since the
    app shows them to the user only in words.
    """
    with tempfile.TemporaryDirectory(prefix="revplan-import-") as folder:
        root = Path(folder)
        files = []
        for index, (name, data) in enumerate(uploads):
            shown = _safe_name(name, f"upload-{index + 1}.csv")
            target = root / str(index) / shown
            target.parent.mkdir()
            target.write_bytes(data)
            files.append((target, shown))
        mapping_path = mapping_name = None
        if mapping is not None:
            mapping_name = _safe_name(mapping[0], "mapping.toml")
            mapping_path = root / "mapping" / mapping_name
            mapping_path.parent.mkdir()
            mapping_path.write_bytes(mapping[1])
        try:
            return _import(workspace, files, mapping_path, mapping_name, actor, progress)
        except RevPlanError:
            raise
        except Exception:
            logger.exception("Import of %s failed", ", ".join(name for _, name in files))
            raise


IMPORT_TASK = "import"
"""The kind of an import's background task (`planning.background`)."""


def import_in_background(workspace: Workspace, user: User, uploads: Sequence[tuple[str, bytes]],
                         mapping: tuple[str, bytes] | None = None) -> BackgroundTask:
    """Start `import_uploads` in a background thread of the app, timed in telemetry; the
    person's import already running is returned instead of a second one. A page follows it
    with `planning.background.current_task(workspace, user.email, IMPORT_TASK)`."""
    def work(progress: ProgressCallback) -> ImportSummary:
        with timed(workspace, "import", "import_uploads", user.email) as event:
            try:
                result = import_uploads(workspace, uploads, mapping=mapping, actor=user,
                                        progress=progress)
            except AccessDeniedError:
                event.outcome = "refused"
                raise
            event.detail = {"rows": result.totals.read, "rejected": result.totals.rejected,
                            "files": len(result.files)}
            return result

    return start_task(workspace, user.email, IMPORT_TASK, work)


def recent_runs(workspace: Workspace, limit: int = 20) -> pd.DataFrame:
    """The latest import runs of a workspace, newest first."""
    return workspace.read(lambda cur: repo.recent_runs(cur, limit))


def run_rejects(workspace: Workspace, run_id: int) -> pd.DataFrame:
    """The rows a run rejected: file, line, column, value, reason and the raw row as JSON."""
    return workspace.read(lambda cur: repo.run_rejects(cur, run_id))


def run_summary(workspace: Workspace, run_id: int) -> ImportSummary | None:
    """The stored summary of a run, None when the workspace has no such run."""
    text = workspace.read(lambda cur: repo.run_summary_json(cur, run_id))
    return ImportSummary.from_json(text) if text else None
