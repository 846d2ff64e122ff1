"""Files the command line writes (CSV, JSON and HTML reports, exports): checked before any work
starts and written atomically, so a slow solve never ends on a path it cannot write and a
killed or failed write never leaves a partial or empty file where the output belongs."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from planning.errors import RevPlanError


class OutputPathError(RevPlanError):
    """An output file that cannot be written where the user asked for it."""


OUTPUT_OPTIONS = ("out", "report", "html")
"""Command-line options (argparse destinations) that name a file the command writes."""


def check_output_path(path: str | Path, option: str) -> None:
    """Refuse, in one line, an output path whose folder is missing, not a folder or not
    writable, or that is itself a folder; called before any solving so a bad path fails fast."""
    target = Path(path)
    folder = target.parent
    if target.is_dir():
        raise OutputPathError(f"{option} {target}: that is a folder; give a file name.")
    if not folder.exists():
        raise OutputPathError(f"{option} {target}: the folder {folder} does not exist; create "
                              "it or choose another path.")
    if not folder.is_dir():
        raise OutputPathError(f"{option} {target}: {folder} is not a folder.")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputPathError(f"{option} {target}: the folder {folder} is not writable; choose "
                              "another path.")


def check_output_options(options: object) -> None:
    """Check every output file option (`--out`, `--report`, `--html`) set on a parsed
    command line (an `argparse.Namespace`)."""
    for name in OUTPUT_OPTIONS:
        value = getattr(options, name, None)
        if value:
            check_output_path(value, f"--{name}")


def _new_file_mode() -> int:
    """The permission bits a newly created file gets under this process's umask."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return 0o666 & ~int(line.split()[1], 8)
    except OSError:
        pass
    return 0o644


def write_atomically(path: str | Path, chunks: Iterable[str]) -> None:
    """Write the text `chunks` to a temporary file beside `path`, then rename it over `path`:
    a reader never sees half a file, and a write that fails or is killed leaves any earlier
    file as it was (a failure also removes the temporary file)."""
    target = Path(path)
    mode = target.stat().st_mode & 0o777 if target.is_file() else _new_file_mode()
    try:
        descriptor, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.",
                                                 suffix=".tmp")
    except OSError as exc:
        raise OutputPathError(f"Cannot write {target}: {exc.strerror}; check the folder exists "
                              "and is writable.") from None
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8", newline="") as handle:
            for chunk in chunks:
                handle.write(chunk)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, target)
    except OSError as exc:
        Path(temporary).unlink(missing_ok=True)
        raise OutputPathError(f"Cannot write {target}: {exc.strerror}.") from None
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_text_atomically(path: str | Path, text: str) -> None:
    """Write `text` to `path` atomically (see `write_atomically`)."""
    write_atomically(path, (text,))
