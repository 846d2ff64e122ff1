"""What an import run did, per file, per entity and per reject reason."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime

import pandas as pd

COUNT_NAMES = ("read", "inserted", "updated", "unchanged", "rejected", "skipped")
FALLBACKS = {
    "close_date_estimated": "open deals given an estimated close date",
    "created_estimated": "open deals given an estimated created date",
    "unknown_account": "deals put on the unknown account",
    "managers_created": "managers created from a name",
}
"""Fallbacks an import applies to keep rows, by name, with the words the summary uses."""


@dataclass
class Counts:
    """Row counts: every row read is inserted, updated, unchanged, rejected or skipped."""

    read: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    skipped: int = 0

    def add(self, other: Counts) -> None:
        """Add another set of counts to this one."""
        for name in COUNT_NAMES:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def as_dict(self) -> dict[str, int]:
        """The counts by name."""
        return {name: getattr(self, name) for name in COUNT_NAMES}


@dataclass
class FileSummary:
    """One imported file: how it was recognised and what happened to its rows."""

    file: str
    format: str
    entity: str
    counts: Counts = field(default_factory=Counts)
    rejected_by_reason: dict[str, int] = field(default_factory=dict)
    warnings_by_reason: dict[str, int] = field(default_factory=dict)
    """Kept rows with a problem, per reason (they count as inserted, updated or unchanged)."""
    fallbacks: dict[str, int] = field(default_factory=dict)
    """Kept rows (or created records) per fallback in FALLBACKS."""


@dataclass
class ImportSummary:
    """One import run: its id, when and by whom, and counts per file, entity and reason."""

    run_id: int
    started_at: datetime
    finished_at: datetime
    actor: str | None
    files: list[FileSummary]
    derived: dict[str, object] = field(default_factory=dict)
    """What the run derived (planning.ingest.derive.Derivations as a dict)."""

    @property
    def status(self) -> str:
        """applied, or applied_with_rejects when any row was rejected."""
        return "applied_with_rejects" if self.totals.rejected else "applied"

    @property
    def totals(self) -> Counts:
        """Counts over every file."""
        total = Counts()
        for item in self.files:
            total.add(item.counts)
        return total

    @property
    def entities(self) -> dict[str, Counts]:
        """Counts per entity (reps, accounts, ...), in the order files were processed."""
        out: dict[str, Counts] = {}
        for item in self.files:
            out.setdefault(item.entity, Counts()).add(item.counts)
        return out

    @property
    def rejected_by_reason(self) -> dict[str, int]:
        """Rejected rows per reason, most frequent first (a row can count under several)."""
        return _merged(item.rejected_by_reason for item in self.files)

    @property
    def warnings_by_reason(self) -> dict[str, int]:
        """Kept rows with a warning per reason, most frequent first."""
        return _merged(item.warnings_by_reason for item in self.files)

    @property
    def fallbacks(self) -> dict[str, int]:
        """Rows kept through each fallback (and records created), in FALLBACKS order."""
        merged = _merged(item.fallbacks for item in self.files)
        return {name: merged[name] for name in FALLBACKS if merged.get(name)}

    def fallbacks_frame(self) -> pd.DataFrame:
        """One row per fallback applied, in words, with its count (for tables in the app)."""
        items = [(FALLBACKS[name], count) for name, count in self.fallbacks.items()]
        return pd.DataFrame(items, columns=["fallback", "rows"])

    def warnings_frame(self) -> pd.DataFrame:
        """One row per warning reason with the number of kept rows it concerns."""
        return pd.DataFrame(list(self.warnings_by_reason.items()), columns=["warning", "rows"])

    def to_frame(self) -> pd.DataFrame:
        """One row per file with its format, entity and counts (for tables in the app)."""
        rows = [{"file": f.file, "format": f.format, "entity": f.entity, **f.counts.as_dict()}
                for f in self.files]
        return pd.DataFrame(rows, columns=["file", "format", "entity", *COUNT_NAMES])

    def reasons_frame(self) -> pd.DataFrame:
        """One row per reject reason with the number of rows it rejected."""
        items = list(self.rejected_by_reason.items())
        return pd.DataFrame(items, columns=["reason", "rows"])

    def to_text(self) -> str:
        """A readable summary of the run for the command line."""
        total = self.totals
        duration = (self.finished_at - self.started_at).total_seconds()
        lines = [
            f"Import run {self.run_id} ({self.status}) at {self.started_at:%Y-%m-%d %H:%M:%S} "
            f"UTC, {duration:.1f} s" + (f", by {self.actor}" if self.actor else ""),
            "",
        ]
        width = max([len(f.file) for f in self.files] + [4])
        header = f"{'file':<{width}}  {'entity':<19}" + "".join(
            f"{name:>10}" for name in COUNT_NAMES)
        lines.append(header)
        for item in self.files:
            lines.append(f"{item.file:<{width}}  {item.entity:<19}" + "".join(
                f"{getattr(item.counts, name):>10,}" for name in COUNT_NAMES))
        lines.append(f"{'total':<{width}}  {'':<19}" + "".join(
            f"{getattr(total, name):>10,}" for name in COUNT_NAMES))
        lines.append("")
        for item in self.files:
            lines.append(f"{item.file}: recognised as {item.format}")
        if self.rejected_by_reason:
            lines.append("")
            lines.append("Rejected rows by reason:")
            for reason, count in self.rejected_by_reason.items():
                lines.append(f"  {count:>8,}  {reason}")
            lines.append(f"Rejected rows are kept in import_rejects for run {self.run_id} "
                         "with file, line, column and reason.")
        if self.fallbacks:
            lines.append("")
            lines.append("Kept through a fallback (see docs/IMPORT.md, Derived values):")
            for name, count in self.fallbacks.items():
                lines.append(f"  {count:>8,}  {FALLBACKS[name]}")
        if self.warnings_by_reason:
            lines.append("")
            lines.append("Kept rows with a warning, by reason:")
            for reason, count in self.warnings_by_reason.items():
                lines.append(f"  {count:>8,}  {reason}")
            lines.append(f"Warnings are listed in import_rejects for run {self.run_id} with "
                         "severity warning.")
        if self.derived:
            lines.append("")
            lines.append(derived_text(self.derived))
        return "\n".join(lines)

    def to_json(self) -> str:
        """The summary as JSON, stored with the run."""
        return json.dumps({
            "run_id": self.run_id,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat(),
            "actor": self.actor,
            "files": [asdict(item) for item in self.files],
            "derived": self.derived,
        })

    @classmethod
    def from_json(cls, text: str) -> ImportSummary:
        """Rebuild a summary stored with `to_json`."""
        data = json.loads(text)
        files = [FileSummary(file=f["file"], format=f["format"], entity=f["entity"],
                             counts=Counts(**f["counts"]),
                             rejected_by_reason=dict(f["rejected_by_reason"]),
                             warnings_by_reason=dict(f.get("warnings_by_reason", {})),
                             fallbacks=dict(f.get("fallbacks", {})))
                 for f in data["files"]]
        return cls(run_id=data["run_id"], started_at=datetime.fromisoformat(data["started_at"]),
                   finished_at=datetime.fromisoformat(data["finished_at"]),
                   actor=data["actor"], files=files, derived=data.get("derived", {}))


def derived_text(derived: dict) -> str:
    """The derivation counts in words, e.g. "Derived: 120 account owners from their deals;
    5,820 accounts located (4,100 by ZIP, ...), 180 not located; 12 rep homes"."""
    located = derived.get("located_by_precision") or {}
    parts = [f"{count:,} {precision}" for precision, count in located.items()]
    return (f"Derived: {derived.get('owners_derived', 0):,} account owners from their deals; "
            f"{sum(located.values()):,} accounts located from their address"
            + (f" ({', '.join(parts)})" if parts else "")
            + f", {derived.get('not_located', 0):,} without a location; "
            f"{derived.get('rep_homes_derived', 0):,} rep homes from their accounts.")


def _merged(parts: Iterable[dict[str, int]]) -> dict[str, int]:
    """Counts added up by key, most frequent first."""
    merged: dict[str, int] = {}
    for part in parts:
        for key, count in part.items():
            merged[key] = merged.get(key, 0) + count
    return dict(sorted(merged.items(), key=lambda kv: (-kv[1], kv[0])))
