"""The processes of one job: a supervisor that enforces the wall-clock limit and Cancel, and
the child it starts (in a process group of its own) that computes.

    python -m planning.jobs.run supervise QUEUE_FILE JOB_ID
    python -m planning.jobs.run child QUEUE_FILE JOB_ID
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from planning.errors import RevPlanError
from planning.store.job_queue import JobQueue

GRACE_SECONDS = 1.0
"""How long past its time limit a job may run before its process is killed."""

WRITE_MARGIN_SECONDS = 0.3
"""Time the child keeps in hand to write its result before the limit."""

PROGRESS_EVERY_SECONDS = 0.2
RESULT_FILE = "result.pkl"
CHECKPOINT_FILE = "checkpoint.pkl"
LOG_FILE = "job.log"


@dataclasses.dataclass(frozen=True)
class StoredError:
    """A user's error a job ended with, stored so that the app can raise it again (exceptions
    with their own constructor arguments do not survive pickling as they are)."""

    kind: type
    message: str
    attributes: dict

    @classmethod
    def of(cls, exc: Exception) -> StoredError:
        return cls(type(exc), str(exc), dict(vars(exc)))

    def error(self) -> Exception:
        """The exception again, with its message and attributes."""
        exc = self.kind.__new__(self.kind)
        Exception.__init__(exc, self.message)
        vars(exc).update(self.attributes)
        return exc


def write_pickle(path: Path, value: Any) -> None:
    """Write `value` so that readers never see half a file."""
    partial = path.with_suffix(".partial")
    with partial.open("wb") as handle:
        pickle.dump(value, handle, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(partial, path)


def launch(queue_file: Path, job_id: int) -> subprocess.Popen:
    """Start the job's supervisor, detached from the calling process's session."""
    return subprocess.Popen(
        [sys.executable, "-m", "planning.jobs.run", "supervise", str(queue_file), str(job_id)],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True, close_fds=True)


def supervise(queue_file: Path, job_id: int) -> int:
    """Run the job's child; kill its process group on Cancel or past the limit plus grace."""
    queue = JobQueue(queue_file)
    job = queue.get(job_id)
    folder = Path(job.input_path).parent
    with (folder / LOG_FILE).open("ab") as log:
        child = subprocess.Popen(
            [sys.executable, "-m", "planning.jobs.run", "child", str(queue_file), str(job_id)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
    queue.set_pid(job_id, child.pid)
    started = job.started_at or time.time()
    stopped = None
    while child.poll() is None:
        if (job.time_limit_s is not None
                and time.time() > started + job.time_limit_s + GRACE_SECONDS):
            stopped = "time_limit"
        elif queue.get(job_id).cancel_requested:
            stopped = "cancelled"
        if stopped is not None:
            _kill_group(child)
            break
        time.sleep(0.1)
    if stopped is not None:
        _finish_stopped(queue, job_id, folder, stopped)
    elif child.returncode != 0:
        queue.finish(job_id, "failed", error=_log_tail(folder / LOG_FILE)
                     or f"the job process ended with code {child.returncode}")
    return 0


def _kill_group(child: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(child.pid, signal.SIGKILL)
    child.wait()


def _finish_stopped(queue: JobQueue, job_id: int, folder: Path, status: str) -> None:
    """End a killed job with its best checkpoint as the result, worded for how it stopped."""
    checkpoint = folder / CHECKPOINT_FILE
    if not checkpoint.exists():
        queue.finish(job_id, status, error=(
            "Cancelled before a first result was found." if status == "cancelled" else
            "Stopped at the time limit before a first result was found."))
        return
    result_path = folder / RESULT_FILE
    if status == "cancelled":
        with checkpoint.open("rb") as handle:
            best = pickle.load(handle)
        if dataclasses.is_dataclass(best) and hasattr(best, "message"):
            best = dataclasses.replace(best, status="cancelled", message=best.message.replace(
                "Stopped at the time limit", "Cancelled; showing the best plan found so far"))
        write_pickle(result_path, best)
    else:
        os.replace(checkpoint, result_path)
    queue.finish(job_id, status, result_path=result_path)


def _log_tail(path: Path, lines: int = 5) -> str:
    if not path.exists():
        return ""
    return "\n".join(path.read_text(errors="replace").strip().splitlines()[-lines:])


def run_child(queue_file: Path, job_id: int) -> int:
    """Compute the job from its input file and write its result (no DuckDB is opened)."""
    from planning.jobs.kinds import KINDS

    queue = JobQueue(queue_file)
    job = queue.get(job_id)
    folder = Path(job.input_path).parent
    with Path(job.input_path).open("rb") as handle:
        payload = pickle.load(handle)
    if job.time_limit_s is not None:
        started = job.started_at or time.time()
        payload["seconds_left"] = max(
            started + job.time_limit_s - time.time() - WRITE_MARGIN_SECONDS, 0.5)
    reported = [0.0]

    def progress(share: float, text: str) -> None:
        now = time.monotonic()
        if now - reported[0] >= PROGRESS_EVERY_SECONDS or share >= 1.0:
            reported[0] = now
            queue.report(job_id, share, text)

    def checkpoint(best: Any) -> None:
        write_pickle(folder / CHECKPOINT_FILE, best)

    result_path = folder / RESULT_FILE
    try:
        status, result = KINDS[job.kind](payload, progress, checkpoint)
    except RevPlanError as exc:
        write_pickle(result_path, StoredError.of(exc))
        queue.finish(job_id, "failed", result_path=result_path, error=str(exc))
        return 0
    write_pickle(result_path, result)
    queue.report(job_id, 1.0, "Done")
    queue.finish(job_id, status, result_path=result_path)
    return 0


def main(argv: list[str]) -> int:
    """Entry point: `supervise` or `child`, the queue file and the job id."""
    role, queue_file, job_id = argv
    if role == "supervise":
        return supervise(Path(queue_file), int(job_id))
    return run_child(Path(queue_file), int(job_id))


if __name__ == "__main__":
    from planning.jobs import run as module  # pickles name the module, never __main__

    sys.exit(module.main(sys.argv[1:]))
