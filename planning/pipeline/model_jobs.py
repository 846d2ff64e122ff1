"""Deal risk training as a job, never in a page's script thread.

The app reads the training rows and the open deals (the workspace file is the app's alone),
a job process fits the win and slip models and scores the open deals, and the first page that
looks at the job once it is done stores the models and scores and raises the risk alerts.
`make run` queues the demo's first training this way, so the app is up while the models train.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from planning.access.policy import Action
from planning.access.users import User
from planning.jobs import (
    JobFailedError,
    job_result,
    job_state,
    submit_job,
    workspace_queue,
)
from planning.pipeline.exceptions import RescoreResult, acting_identity, alert_after_scoring
from planning.pipeline.training import read_training_input, store_deal_models
from planning.progress import ProgressCallback, no_progress
from planning.store import Workspace

TRAINING_KIND = "training"
_SETTLED: set[tuple[str, int]] = set()
"""(queue file, job id) of finished training jobs this process has stored or found stored, so
that pages do not read a job's result file again on every run."""


@dataclass
class TrainingProgress:
    """Where the workspace's newest training job stands."""

    job_id: int
    status: str
    """queued, running, done, failed or cancelled."""
    share: float
    text: str
    error: str | None
    stored: RescoreResult | None = None
    """What storing the finished job did, when this call stored it."""

    @property
    def running(self) -> bool:
        """Whether the job is still queued or running."""
        return self.status in ("queued", "running")


def start_training(workspace: Workspace, actor: User | str, *,
                   as_of: dt.datetime | None = None,
                   progress: ProgressCallback = no_progress) -> int:
    """Queue a training job on the workspace's rows as of `as_of` (default: its as-of day) and
    return its id; the id of the one already queued or running when there is one. A user
    needs TRAIN_MODEL; too few closed deals is refused in words before anything is queued."""
    name, role = acting_identity(workspace, actor, Action.TRAIN_MODEL)
    current = training_progress(workspace)
    if current is not None and current.running:
        return current.job_id
    data = read_training_input(workspace, as_of=as_of, progress=progress)
    return submit_job(workspace, TRAINING_KIND, name,
                      {"input": data},
                      parameters={"actor": name, "role": role, "as_of": data.as_of.isoformat()})


def training_progress(workspace: Workspace) -> TrainingProgress | None:
    """The workspace's newest training job, None when there has been none. A finished job
    whose models are not stored yet is stored here (once, whichever session gets there first),
    with the risk alerts raised for its scores."""
    latest = workspace_queue(workspace).latest(None, TRAINING_KIND)
    if latest is None:
        return None
    job = job_state(workspace, latest.job_id)
    found = TrainingProgress(job.job_id, job.status, job.progress, job.progress_text or "",
                             job.error)
    settled = (str(workspace_queue(workspace).path), job.job_id)
    if job.status != "done" or settled in _SETTLED:
        return found
    try:
        fitted = job_result(job)
    except JobFailedError as exc:
        found.status, found.error = "failed", str(exc)
        return found
    actor, role = job.parameters.get("actor", job.owner), job.parameters.get("role")
    report = store_deal_models(workspace, fitted, actor=actor, actor_role=role)
    if report is not None:
        found.stored = alert_after_scoring(workspace, actor, role, report, report.scored_deals)
    _SETTLED.add(settled)
    return found


__all__ = ["TRAINING_KIND", "TrainingProgress", "start_training", "training_progress"]
