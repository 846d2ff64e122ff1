"""A finished job's files are removed a day after it ended, except the newest job of each person
and kind (a page follows it again after a reload)."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from planning.jobs import (
    KEEP_JOB_FILES_SECONDS,
    remove_old_job_files,
    submit_job,
    wait_for_job,
    workspace_queue,
)
from planning.quota.model import QuotaScenario
from planning.store import Workspace
from tests.planning.jobs.test_jobs import OWNER, quota_reps


def age(queue_file: Path, job_id: int, seconds: float) -> None:
    """Move a job's end back in time, as if it had ended `seconds` ago."""
    with sqlite3.connect(queue_file) as con:
        con.execute("UPDATE jobs SET finished_at = ? WHERE job_id = ?",
                    (time.time() - seconds, job_id))


def quota_payload() -> dict:
    return {"reps": quota_reps(),
            "scenario": QuotaScenario(target_cents=3_000_000_000, blend={"potential": 1.0})}


def test_old_job_files_go_and_the_newest_stay(workspace: Workspace) -> None:
    queue = workspace_queue(workspace)
    ids = []
    for _ in range(3):
        job_id = submit_job(workspace, "quota", OWNER, quota_payload())
        wait_for_job(workspace, job_id, 120)
        ids.append(job_id)
    other = submit_job(workspace, "quota", "someone@example.com", quota_payload())
    wait_for_job(workspace, other, 120)
    for job_id in (*ids, other):
        age(queue.path, job_id, KEEP_JOB_FILES_SECONDS + 60)
    age(queue.path, ids[1], KEEP_JOB_FILES_SECONDS - 600)
    folders = {job_id: Path(queue.get(job_id).input_path).parent for job_id in (*ids, other)}
    assert all(folder.exists() for folder in folders.values())

    assert remove_old_job_files(queue) == 1
    assert not folders[ids[0]].exists()
    assert folders[ids[1]].exists()  # ended less than a day ago
    assert folders[ids[2]].exists() and folders[other].exists()  # newest of owner and kind
    assert queue.get(ids[0]).status == "done"  # the row stays
