"""The audit anchor log: an append-only text file outside the database holding the chain head.

The database carries its own head (`audit_head_seq/hash`), but whoever can rewrite the file can
rewrite that too, so deleting the newest events would go unnoticed. Each audited write therefore
also appends to `<workspace>.audit-anchor` beside the workspace file (or in
`REVPLAN_AUDIT_ANCHOR_DIR`), one line per line kind:

- `begin <seq>` before the transaction commits: a write whose first event is `seq` is under way;
- `<seq> <hash> <UTC time>` after it committed, one line per event it recorded.

Lines are only ever appended (opened in append mode, flushed and fsynced). A last line without
its newline (the process stopped mid-write) is ignored.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from planning.clock import now_utc
from planning.errors import RevPlanError
from planning.settings import audit_anchor_dir

ANCHOR_SUFFIX = ".audit-anchor"
ENTRY_LINE = re.compile(r"^(\d+) ([0-9a-f]{64})(?: (\S+))?$")
BEGIN_LINE = re.compile(r"^begin (\d+)$")


class AuditAnchorError(RevPlanError):
    """The anchor log cannot be written or read."""


def anchor_path(workspace_path: Path) -> Path:
    """Where a workspace's anchor log lives: beside its file, or in the configured folder."""
    folder = audit_anchor_dir()
    if folder is None:
        return workspace_path.with_suffix(ANCHOR_SUFFIX)
    return folder / f"{workspace_path.stem}{ANCHOR_SUFFIX}"


def _append(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="ascii") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:
        raise AuditAnchorError(
            f"Cannot append to the audit anchor log {path}: {exc.strerror or exc}. "
            "Check the folder exists and is writable (REVPLAN_AUDIT_ANCHOR_DIR)."
        ) from None


def announce(path: Path, first_seq: int) -> None:
    """Record, before commit, that a write starting at event `first_seq` is under way."""
    _append(path, f"begin {first_seq}\n")


def append_entries(path: Path, entries: list[tuple[int, str]]) -> None:
    """Record, after commit, the sequence number and hash of each event the write recorded."""
    stamp = now_utc().strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    _append(path, "".join(f"{seq} {digest} {stamp}\n" for seq, digest in entries))


@dataclass(frozen=True)
class AnchorLog:
    """What an anchor log holds."""

    path: Path
    exists: bool
    entries: dict[int, str]
    """Anchored event hash by sequence number."""
    last_begin: int | None
    """The first event of the newest write announced after the last anchored entry, if any
    (a write that did not commit, or committed but stopped before anchoring)."""

    @property
    def last_seq(self) -> int:
        """The newest anchored event, 0 when none is."""
        return max(self.entries, default=0)


def read_anchor(path: Path) -> AnchorLog:
    """Parse an anchor log; a missing file is an empty log that `exists` says is missing."""
    try:
        text = path.read_text(encoding="ascii")
    except FileNotFoundError:
        return AnchorLog(path, False, {}, None)
    except (OSError, UnicodeDecodeError) as exc:
        raise AuditAnchorError(f"Cannot read the audit anchor log {path}: {exc}.") from None
    lines = text.split("\n")
    complete = lines[:-1]
    entries: dict[int, str] = {}
    last_begin: int | None = None
    for number, line in enumerate(complete, start=1):
        if entry := ENTRY_LINE.match(line):
            seq, digest = int(entry.group(1)), entry.group(2)
            if entries.get(seq, digest) != digest:
                raise AuditAnchorError(
                    f"{path}, line {number}: event #{seq} is anchored twice with different "
                    "hashes; the anchor log was edited.")
            entries[seq] = digest
            last_begin = None
        elif begin := BEGIN_LINE.match(line):
            last_begin = int(begin.group(1))
        elif line:
            raise AuditAnchorError(
                f"{path}, line {number}: {line[:40]!r} is not an anchor line "
                "('begin SEQ' or 'SEQ HASH TIME'); the anchor log was edited.")
    return AnchorLog(path, True, entries, last_begin)


def retire(path: Path) -> Path | None:
    """Move an anchor log aside (a workspace file of that name is being created anew) so its
    history is kept but not checked against the new chain; return where it went."""
    if not path.exists():
        return None
    stamp = now_utc().strftime("%Y%m%dT%H%M%S%fZ")
    target = path.with_name(f"{path.name}.retired-{stamp}")
    path.rename(target)
    return target
