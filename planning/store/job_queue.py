"""The job queue of one workspace: a SQLite file beside its DuckDB file.

DuckDB lets one process hold a workspace, so a worker process never opens it: the app writes a
job's input to the job's folder, the worker's child process computes, and the app reads the
result. SQLite (WAL mode) is safe for the several processes that share this queue.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

FINISHED = ("done", "failed", "cancelled", "time_limit")
"""Statuses after which a job no longer changes."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    job_id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    owner TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'queued',
    progress REAL NOT NULL DEFAULT 0,
    progress_text TEXT NOT NULL DEFAULT '',
    parameters TEXT NOT NULL DEFAULT '{}',
    input_path TEXT NOT NULL,
    result_path TEXT,
    error TEXT,
    created_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL,
    pid INTEGER,
    time_limit_s REAL,
    cancel_requested INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS jobs_by_owner ON jobs (owner, kind, job_id);
CREATE TABLE IF NOT EXISTS worker_heartbeat (
    worker TEXT PRIMARY KEY,
    seen_at REAL NOT NULL
);
"""


@dataclass(frozen=True)
class Job:
    """One row of the jobs table."""

    job_id: int
    kind: str
    owner: str
    status: str
    progress: float
    progress_text: str
    parameters: dict
    input_path: str
    result_path: str | None
    error: str | None
    created_at: float
    started_at: float | None
    finished_at: float | None
    pid: int | None
    time_limit_s: float | None
    cancel_requested: bool

    @property
    def finished(self) -> bool:
        return self.status in FINISHED


def queue_path(workspace_path: Path) -> Path:
    """The queue file of the workspace stored at `workspace_path`."""
    return workspace_path.with_suffix(".jobs.sqlite")


class JobQueue:
    """The jobs table of one queue file; each call opens its own short-lived connection."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        with self._connect() as con:
            con.executescript(SCHEMA)

    def _connect(self) -> _Closing:
        con = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        con.row_factory = sqlite3.Row
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA busy_timeout=30000")
        return _Closing(con)

    @property
    def folder(self) -> Path:
        """Where the jobs' input, checkpoint and result files live."""
        return self.path.with_suffix("").with_suffix(".jobs")

    def submit(self, kind: str, owner: str, parameters: dict, input_path: Path,
               time_limit_s: float | None) -> int:
        """Add a queued job; its id."""
        with self._connect() as con:
            cur = con.execute(
                "INSERT INTO jobs (kind, owner, parameters, input_path, created_at, time_limit_s)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (kind, owner, json.dumps(parameters, default=str), str(input_path),
                 time.time(), time_limit_s))
            return int(cur.lastrowid)

    def claim(self, job_id: int) -> bool:
        """Mark a queued job running; False if another process claimed it first."""
        with self._connect() as con:
            cur = con.execute(
                "UPDATE jobs SET status = 'running', started_at = ? "
                "WHERE job_id = ? AND status = 'queued'", (time.time(), job_id))
            return cur.rowcount == 1

    def queued(self) -> list[int]:
        """Ids of the jobs waiting for a process, oldest first."""
        with self._connect() as con:
            rows = con.execute(
                "SELECT job_id FROM jobs WHERE status = 'queued' ORDER BY job_id").fetchall()
        return [int(row["job_id"]) for row in rows]

    def get(self, job_id: int) -> Job:
        """The job with this id (KeyError if there is none)."""
        with self._connect() as con:
            row = con.execute("SELECT * FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
        if row is None:
            raise KeyError(job_id)
        return _job(row)

    def latest(self, owner: str | None, kind: str) -> Job | None:
        """The newest job of this owner (anyone's with None) and kind, if any."""
        with self._connect() as con:
            row = con.execute(
                "SELECT * FROM jobs WHERE (? IS NULL OR owner = ?) AND kind = ? "
                "ORDER BY job_id DESC LIMIT 1", (owner, owner, kind)).fetchone()
        return None if row is None else _job(row)

    def ended_before(self, moment: float) -> list[Job]:
        """Jobs that ended before `moment` (epoch seconds) and are not the newest of their
        owner and kind (the one a page follows again after a reload)."""
        with self._connect() as con:
            rows = con.execute(
                "SELECT * FROM jobs j WHERE finished_at IS NOT NULL AND finished_at < ? "
                "AND job_id < (SELECT max(job_id) FROM jobs n "
                "              WHERE n.owner = j.owner AND n.kind = j.kind)",
                (moment,)).fetchall()
        return [_job(row) for row in rows]

    def set_pid(self, job_id: int, pid: int) -> None:
        """Record the process that computes the job (the one Cancel kills)."""
        with self._connect() as con:
            con.execute("UPDATE jobs SET pid = ? WHERE job_id = ?", (pid, job_id))

    def report(self, job_id: int, share: float, text: str) -> None:
        """Store the job's progress."""
        with self._connect() as con:
            con.execute(
                "UPDATE jobs SET progress = ?, progress_text = ? WHERE job_id = ? "
                "AND status = 'running'", (min(max(float(share), 0.0), 1.0), text, job_id))

    def finish(self, job_id: int, status: str, result_path: Path | None = None,
               error: str | None = None) -> bool:
        """End a running or queued job; False if it had already ended."""
        with self._connect() as con:
            cur = con.execute(
                "UPDATE jobs SET status = ?, result_path = ?, error = ?, finished_at = ? "
                "WHERE job_id = ? AND status IN ('queued', 'running')",
                (status, None if result_path is None else str(result_path), error,
                 time.time(), job_id))
            return cur.rowcount == 1

    def request_cancel(self, job_id: int) -> None:
        """Ask for the job to stop: a queued job ends at once, a running one is killed."""
        with self._connect() as con:
            con.execute("UPDATE jobs SET cancel_requested = 1 WHERE job_id = ?", (job_id,))
        self.finish_queued_cancelled(job_id)

    def finish_queued_cancelled(self, job_id: int) -> None:
        with self._connect() as con:
            con.execute(
                "UPDATE jobs SET status = 'cancelled', finished_at = ? "
                "WHERE job_id = ? AND status = 'queued'", (time.time(), job_id))

    def heartbeat(self, worker: str) -> None:
        """Say that `worker` is alive and polling this queue."""
        with self._connect() as con:
            con.execute(
                "INSERT INTO worker_heartbeat (worker, seen_at) VALUES (?, ?) "
                "ON CONFLICT (worker) DO UPDATE SET seen_at = excluded.seen_at",
                (worker, time.time()))

    def forget_worker(self, worker: str) -> None:
        with self._connect() as con:
            con.execute("DELETE FROM worker_heartbeat WHERE worker = ?", (worker,))

    def worker_alive(self, within: float = 5.0) -> bool:
        """Whether a worker has polled this queue in the last `within` seconds."""
        with self._connect() as con:
            row = con.execute("SELECT max(seen_at) AS seen FROM worker_heartbeat").fetchone()
        return row["seen"] is not None and time.time() - row["seen"] <= within


class _Closing:
    """A connection that closes when its `with` block ends (sqlite3's only commits)."""

    def __init__(self, con: sqlite3.Connection) -> None:
        self.con = con

    def __enter__(self) -> sqlite3.Connection:
        return self.con

    def __exit__(self, *exc: object) -> None:
        self.con.close()


def _job(row: sqlite3.Row) -> Job:
    values = dict(row)
    values["parameters"] = json.loads(values["parameters"])
    values["cancel_requested"] = bool(values["cancel_requested"])
    return Job(**values)
