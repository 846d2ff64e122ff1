"""Workspaces: one DuckDB file each, one connection per process, a cursor per unit of work.

DuckDB allows one writing process per file. The app keeps the connection for its lifetime; the
command line opens per command. Opening retries briefly when another process holds the lock and
then fails with a clear message instead of hanging.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import duckdb

from planning.errors import WorkspaceBusyError, WorkspaceNameError, WorkspaceNotFoundError
from planning.settings import data_dir
from planning.store import audit_anchor

T = TypeVar("T")

WORKSPACE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
MAX_NAME_LENGTH = 64
OPEN_RETRY_SECONDS = 3.0
TRANSACTION_RETRIES = 8

_registry: dict[Path, Workspace] = {}
_registry_lock = threading.Lock()


def validate_workspace_name(name: str) -> str:
    """Return the name if it is a safe workspace name, else raise WorkspaceNameError saying why."""
    if not isinstance(name, str) or not name.strip():
        raise WorkspaceNameError("Workspace name is empty.")
    if len(name) > MAX_NAME_LENGTH:
        raise WorkspaceNameError(
            f"Workspace name is {len(name)} characters long; at most {MAX_NAME_LENGTH} are allowed."
        )
    if not WORKSPACE_NAME.match(name):
        raise WorkspaceNameError(
            f"Workspace name {name!r} is not allowed: use letters, digits, '-' and '_' only, "
            "starting with a letter or digit (no paths, dots or spaces)."
        )
    return name


def workspace_path(name: str, base: Path | None = None) -> Path:
    """The database file of a workspace, checked to stay inside the data folder."""
    validate_workspace_name(name)
    root = (base or data_dir()).resolve()
    path = (root / f"{name}.duckdb").resolve()
    if path.parent != root:
        raise WorkspaceNameError(f"Workspace name {name!r} resolves outside the data folder.")
    return path


def list_workspaces(base: Path | None = None) -> list[str]:
    """Names of the workspaces that exist in the data folder, sorted."""
    root = base or data_dir()
    if not root.exists():
        return []
    names = [p.stem for p in root.glob("*.duckdb") if WORKSPACE_NAME.match(p.stem)]
    return sorted(names)


def workspace_exists(name: str, base: Path | None = None) -> bool:
    """True when the workspace's database file exists."""
    return workspace_path(name, base).exists()


BusyNotice = Callable[[str], None]
"""Told once, in words, that a workspace is busy in another process and opening it retries."""


def _busy_process(message: str) -> tuple[int | None, str]:
    """The PID DuckDB names in its lock error, and how to say it: " (PID n)" or nothing."""
    holder = re.search(r"PID (\d+)", message)
    return (int(holder.group(1)), f" (PID {holder.group(1)})") if holder else (None, "")


def _connect(path: Path, read_only: bool, on_busy: BusyNotice | None = None
             ) -> duckdb.DuckDBPyConnection:
    """Connect, retrying for OPEN_RETRY_SECONDS while another process holds the file's lock;
    `on_busy` hears once that it is retrying. Raises WorkspaceBusyError naming that process."""
    deadline = time.monotonic() + OPEN_RETRY_SECONDS
    told = False
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower():
                raise
            pid, who = _busy_process(str(exc))
            if on_busy is not None and not told:
                on_busy(f"Workspace {path.stem!r} is busy in another process{who}; retrying…")
                told = True
            if time.monotonic() >= deadline:
                raise WorkspaceBusyError(
                    f"Workspace {path.stem!r} is busy in another process{who}; still busy "
                    f"after retrying for {OPEN_RETRY_SECONDS:g} s. Stop that process or try "
                    "again when it has finished.", path.stem, pid,
                ) from None
            time.sleep(0.1)


@dataclass
class WriteTransaction:
    """The write transaction open on this thread: its workspace and what to do once it has
    committed (keyed, so a later registration under the same key replaces an earlier one)."""

    workspace: Workspace
    after_commit: dict[str, Callable[[], None]] = field(default_factory=dict)
    """Run in order after COMMIT, still under the write lock; each must handle its own errors."""


_write_transactions = threading.local()


def _open_write_transactions() -> list[WriteTransaction]:
    stack = getattr(_write_transactions, "stack", None)
    if stack is None:
        stack = _write_transactions.stack = []
    return stack


def current_write_transaction() -> WriteTransaction | None:
    """The innermost `Workspace.write` transaction running on this thread, if any."""
    stack = _open_write_transactions()
    return stack[-1] if stack else None


@dataclass
class Workspace:
    """An open workspace: its name, file and the process's one connection to it."""

    name: str
    path: Path
    connection: duckdb.DuckDBPyConnection
    read_only: bool = False
    write_lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    """Serialises this process's write transactions, so audited changes append to one chain
    tail and writers never spin on conflicts with each other."""

    @contextmanager
    def cursor(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A cursor of its own for one unit of work on the current thread."""
        cur = self.connection.cursor()
        try:
            yield cur
        finally:
            cur.close()

    def read(self, work: Callable[[duckdb.DuckDBPyConnection], T]) -> T:
        """Run read-only work on a fresh cursor and return its result."""
        with self.cursor() as cur:
            return work(cur)

    def read_snapshot(self, work: Callable[[duckdb.DuckDBPyConnection], T]) -> T:
        """Run read-only work inside one transaction, so every query sees the same commit."""
        with self.cursor() as cur:
            cur.execute("BEGIN TRANSACTION")
            try:
                return work(cur)
            finally:
                cur.execute("ROLLBACK")

    def write(
        self, work: Callable[[duckdb.DuckDBPyConnection], T], retries: int = TRANSACTION_RETRIES
    ) -> T:
        """Run work in one explicit transaction, retrying a bounded number of times on conflict.

        Writes of this process run one at a time (see `write_lock`); a conflict can still come
        from a read-modify-write racing a reader's snapshot, hence the retry. The work may run
        more than once, so it must not have side effects outside the database; what must
        follow a commit is registered in `current_write_transaction().after_commit`.
        """
        for attempt in range(retries + 1):
            with self.write_lock, self.cursor() as cur:
                transaction = WriteTransaction(self)
                stack = _open_write_transactions()
                stack.append(transaction)
                cur.execute("BEGIN TRANSACTION")
                try:
                    result = work(cur)
                    cur.execute("COMMIT")
                except duckdb.TransactionException:
                    cur.execute("ROLLBACK")
                    if attempt == retries:
                        raise
                    committed = False
                except BaseException:
                    cur.execute("ROLLBACK")
                    raise
                else:
                    committed = True
                finally:
                    stack.pop()
                if committed:
                    for action in transaction.after_commit.values():
                        action()
                    return result
            time.sleep(min(0.01 * 2**attempt, 0.5))
        raise AssertionError("unreachable")

    def checkpoint(self) -> None:
        """Write everything in DuckDB's write-ahead log into the file (after a bulk load, so
        the file's size is what it holds and the next open has no log to replay)."""
        with self.write_lock, self.cursor() as cur:
            cur.execute("CHECKPOINT")

    def close(self) -> None:
        """Close the connection and forget the workspace in this process."""
        with _registry_lock:
            _registry.pop(self.path, None)
        self.connection.close()


def open_workspace(
    name: str, *, create: bool = False, read_only: bool = False, base: Path | None = None,
    on_busy: BusyNotice | None = None,
) -> Workspace:
    """Open (or with `create`, create) a workspace, applying pending migrations.

    Each process keeps one connection per workspace; later calls return the same Workspace.
    While another process holds the file, opening retries briefly (`on_busy` is told so) and
    then raises WorkspaceBusyError.
    """
    from planning.store.migrations import apply_migrations

    path = workspace_path(name, base)
    with _registry_lock:
        existing = _registry.get(path)
        if existing is not None and (existing.read_only <= read_only):
            return existing
        if not path.exists():
            if not create:
                raise WorkspaceNotFoundError(
                    f"Workspace {name!r} does not exist. Create it with "
                    f"`revplan workspace create {name} --admin EMAIL` (empty, for your CRM "
                    f"data) or `revplan demo --workspace {name}` (the demo company)."
                )
            if read_only:
                raise WorkspaceNotFoundError(f"Workspace {name!r} does not exist.")
            path.parent.mkdir(parents=True, exist_ok=True)
            audit_anchor.retire(audit_anchor.anchor_path(path))
        if existing is not None:
            existing.connection.close()
        connection = _connect(path, read_only, on_busy)
        workspace = Workspace(name=name, path=path, connection=connection, read_only=read_only)
        if not read_only:
            apply_migrations(workspace)
        _registry[path] = workspace
        return workspace


def close_all_workspaces() -> None:
    """Close every workspace this process has open (tests and the CLI call it at the end)."""
    with _registry_lock:
        workspaces = list(_registry.values())
        _registry.clear()
    for workspace in workspaces:
        workspace.connection.close()


def close_workspace_file(path: Path) -> None:
    """Close this process's connection to a workspace file, if it has one (before deleting it)."""
    with _registry_lock:
        workspace = _registry.pop(path.resolve(), None)
    if workspace is not None:
        workspace.connection.close()
