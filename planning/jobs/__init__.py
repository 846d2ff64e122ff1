"""Long work as jobs in processes of their own, never in the app's script thread.

The app (which holds the workspace's DuckDB file) writes a job's input to the job's folder
and queues it in the workspace's SQLite job queue; `revplan worker` (or, when no worker is
alive, a process the app starts itself) runs it in a child process with a hard wall-clock
limit; the app reads the result and saves it.
"""

from __future__ import annotations

import os
import pickle
import shutil
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from planning.errors import RevPlanError
from planning.jobs.run import StoredError, launch, write_pickle
from planning.store.job_queue import Job, JobQueue, queue_path
from planning.store.workspace import Workspace


class JobFailedError(RevPlanError):
    """A job ended without a result; the message says why."""


def workspace_queue(workspace: Workspace) -> JobQueue:
    """The job queue beside the workspace's file."""
    return JobQueue(queue_path(Path(workspace.path)))


def submit_job(workspace: Workspace, kind: str, owner: str, payload: dict, *,
               parameters: dict | None = None, time_limit_s: float | None = None) -> int:
    """Queue a job of `kind` with its input; start it at once when no worker is alive."""
    queue = workspace_queue(workspace)
    remove_old_job_files(queue)
    folder = queue.folder / uuid.uuid4().hex
    folder.mkdir(parents=True)
    write_pickle(folder / "input.pkl", payload)
    job_id = queue.submit(kind, owner, parameters or {}, folder / "input.pkl", time_limit_s)
    if not queue.worker_alive():
        start_job(queue, job_id)
    return job_id


KEEP_JOB_FILES_SECONDS = 24 * 3600.0
"""How long a finished job's input and result files are kept (its row stays)."""


def remove_old_job_files(queue: JobQueue) -> int:
    """Delete the folders of jobs that ended over a day ago (inputs and results can be tens of
    megabytes: a training's rows); the newest job of each person and kind keeps its files.
    Returns how many folders were removed."""
    removed = 0
    for job in queue.ended_before(time.time() - KEEP_JOB_FILES_SECONDS):
        folder = Path(job.input_path).parent
        if folder.parent == queue.folder and folder.exists():
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
    return removed


def start_job(queue: JobQueue, job_id: int) -> bool:
    """Claim a queued job and start its processes here; False if someone else has it."""
    if not queue.claim(job_id):
        return False
    process = launch(queue.path, job_id)
    threading.Thread(target=process.wait, name=f"job-{job_id}-reaper", daemon=True).start()
    return True


def job_state(workspace: Workspace, job_id: int) -> Job:
    """The job's row; a job still queued with no worker alive is started here, and a running
    job whose process has vanished (its supervisor died with it) ends as failed."""
    queue = workspace_queue(workspace)
    job = queue.get(job_id)
    if job.status == "queued" and not queue.worker_alive() and start_job(queue, job_id):
        job = queue.get(job_id)
    if job.status == "running" and job.pid is not None and not _alive(job.pid):
        time.sleep(VANISHED_GRACE_SECONDS)
        job = queue.get(job_id)
        if job.status == "running" and queue.finish(
                job_id, "failed", error="The job's process ended without a result."):
            job = queue.get(job_id)
    return job


VANISHED_GRACE_SECONDS = 2.0
"""Time a supervisor gets to record how its child ended before the job is declared lost."""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def latest_job(workspace: Workspace, owner: str, kind: str) -> Job | None:
    """This person's newest job of `kind` (to follow it again after a reload)."""
    return workspace_queue(workspace).latest(owner, kind)


def cancel_job(workspace: Workspace, job_id: int) -> None:
    """Stop the job: its process is killed and it ends as cancelled."""
    workspace_queue(workspace).request_cancel(job_id)


def job_result(job: Job) -> Any:
    """The finished job's result; the user's error it ended with is raised again."""
    if job.result_path is None or not Path(job.result_path).exists():
        raise JobFailedError(job.error or f"The {job.kind} job ended ({job.status}) "
                             "without a result.")
    with Path(job.result_path).open("rb") as handle:
        result = pickle.load(handle)
    if isinstance(result, StoredError):
        raise result.error()
    return result


def job_input(job: Job) -> dict:
    """The input the app wrote for the job."""
    with Path(job.input_path).open("rb") as handle:
        return pickle.load(handle)


def wait_for_job(workspace: Workspace, job_id: int, timeout: float,
                 poll: float = 0.1) -> Job:
    """Block until the job ends (for the CLI and tests); JobFailedError after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        job = job_state(workspace, job_id)
        if job.finished:
            return job
        if time.monotonic() > deadline:
            raise JobFailedError(f"Job {job_id} did not end within {timeout:.0f} s.")
        time.sleep(poll)


T = TypeVar("T")


@dataclass
class StoredJobProgress(Generic[T]):
    """Where a workspace's newest job of a kind whose result the app stores stands."""

    job_id: int
    status: str
    """queued, running, done, failed or cancelled."""
    share: float
    text: str
    error: str | None
    stored: T | None = None
    """What storing the finished job's result did, when this call stored it."""

    @property
    def running(self) -> bool:
        """Whether the job is still queued or running."""
        return self.status in ("queued", "running")


_SETTLED: set[tuple[str, int]] = set()
"""(queue file, job id) of finished jobs this process has stored or found stored, so that
pages do not read a job's result file again on every run."""


def follow_and_store(workspace: Workspace, kind: str,
                     store: Callable[[Any, Job], T | None]) -> StoredJobProgress[T] | None:
    """The workspace's newest job of `kind` (anyone's), None when there has been none. A
    finished job is handed to `store(result, job)` once per process; `store` must itself
    store nothing when the result is stored already (another session or process got there
    first) and return None then."""
    queue = workspace_queue(workspace)
    latest = queue.latest(None, kind)
    if latest is None:
        return None
    job = job_state(workspace, latest.job_id)
    found: StoredJobProgress[T] = StoredJobProgress(
        job.job_id, job.status, job.progress, job.progress_text or "", job.error)
    settled = (str(queue.path), job.job_id)
    if job.status != "done" or settled in _SETTLED:
        return found
    try:
        result = job_result(job)
    except JobFailedError as exc:
        found.status, found.error = "failed", str(exc)
        return found
    found.stored = store(result, job)
    _SETTLED.add(settled)
    return found


JOB_GRACE_SECONDS = 10.0
"""How long past its limit a blocking caller waits for a job (start-up, the kill, writing)."""


JobFollower = Callable[[int], Job]
"""Follows a job by id until it ends and returns its final row: a page draws its progress and
a Cancel button; without one, `run_job` waits."""


def run_job(workspace: Workspace, kind: str, owner: str, payload: dict, *,
            time_limit_s: float, parameters: dict | None = None,
            follow: JobFollower | None = None) -> Any:
    """Queue a job, follow it to its end and return its result (the user's error it ended
    with is raised again). Without `follow`, wait up to its limit plus a grace period: a
    caller that must block still gets the job's hard wall-clock limit."""
    job_id = submit_job(workspace, kind, owner, payload, parameters=parameters,
                        time_limit_s=time_limit_s)
    job = (wait_for_job(workspace, job_id, time_limit_s + JOB_GRACE_SECONDS) if follow is None
           else follow(job_id))
    return job_result(job)


def solve_territory_in_job(workspace: Workspace, owner: str, problem: Any, scenario: Any) -> Any:
    """Solve a territory scenario in a job process and wait for it (HiGHS does not always stop
    at its own limit; the job's is hard). Returns the TerritoryResult (the best plan so far,
    as time_limit, when the limit is reached)."""
    return run_job(workspace, "territory", owner, {"problem": problem, "scenario": scenario},
                   time_limit_s=scenario.time_limit)


__all__ = ["KEEP_JOB_FILES_SECONDS", "Job", "JobFailedError", "StoredJobProgress",
           "follow_and_store", "JobFollower", "cancel_job",
           "job_input", "job_result", "job_state", "latest_job", "remove_old_job_files",
           "run_job", "solve_territory_in_job", "start_job", "submit_job", "wait_for_job",
           "workspace_queue"]
