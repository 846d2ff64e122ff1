"""Deal risk training as a job, never in a page's script thread.

The app reads the training rows and the open deals (the workspace file is the app's alone),
a job process fits the win and slip models and scores the open deals, and the first page that
looks at the job once it is done stores the models and scores and raises the risk alerts.
`make run` queues the demo's first training this way, so the app is up while the models train.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from planning.access.acting import acting_identity
from planning.access.policy import Action
from planning.access.users import User
from planning.jobs import Job, StoredJobProgress, follow_and_store, submit_job
from planning.pipeline.exceptions import RescoreResult, alert_after_scoring
from planning.pipeline.training import read_training_input, store_deal_models
from planning.progress import ProgressCallback, no_progress
from planning.store import Workspace

TRAINING_KIND = "training"


TrainingProgress = StoredJobProgress[RescoreResult]
"""Where the workspace's newest training job stands; `stored` says what storing it did."""


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
    def store(fitted: Any, job: Job) -> RescoreResult | None:
        actor, role = job.parameters.get("actor", job.owner), job.parameters.get("role")
        report = store_deal_models(workspace, fitted, actor=actor, actor_role=role)
        if report is None:
            return None
        return alert_after_scoring(workspace, actor, role, report, report.scored_deals)

    return follow_and_store(workspace, TRAINING_KIND, store)


__all__ = ["TRAINING_KIND", "TrainingProgress", "start_training", "training_progress"]
