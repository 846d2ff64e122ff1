"""Churn model training as a job, never in a page's script thread.

The app reads the renewal rows and the accounts to score (the workspace file is the app's
alone), a job process (`planning.jobs.kinds.health_training_job`) fits the model and scores the
accounts, and the first page that looks at the job once it is done stores the model, its card
and the scores.
"""

from __future__ import annotations

import datetime as dt

from planning.access.acting import acting_identity
from planning.access.policy import Action
from planning.access.users import User
from planning.health.training import (
    HealthTrainingReport,
    read_health_input,
    store_health_model,
)
from planning.jobs import StoredJobProgress, follow_and_store, submit_job
from planning.progress import ProgressCallback, no_progress
from planning.store import Workspace

HEALTH_TRAINING_KIND = "health_training"
HealthTrainingProgress = StoredJobProgress[HealthTrainingReport]
"""Where the workspace's newest churn training job stands; `stored` says what storing it
stored."""


def start_health_training(workspace: Workspace, actor: User | str, *,
                          as_of: dt.datetime | None = None, horizon_days: int | None = None,
                          progress: ProgressCallback = no_progress) -> int:
    """Queue a churn training job on the workspace's renewals as of `as_of` (default: its
    as-of day) and return its id; the id of the one already queued or running when there is
    one. A user needs TRAIN_HEALTH_MODEL; too few renewals is refused in words before anything
    is queued."""
    name, role = acting_identity(workspace, actor, Action.TRAIN_HEALTH_MODEL)
    current = health_training_progress(workspace)
    if current is not None and current.running:
        return current.job_id
    data = read_health_input(workspace, as_of=as_of, horizon_days=horizon_days,
                             progress=progress)
    return submit_job(workspace, HEALTH_TRAINING_KIND, name, {"input": data},
                      parameters={"actor": name, "role": role,
                                  "as_of": data.as_of.isoformat()})


def health_training_progress(workspace: Workspace) -> HealthTrainingProgress | None:
    """The workspace's newest churn training job, None when there has been none. A finished
    job whose model is not stored yet is stored here (once, whichever session gets there
    first)."""
    return follow_and_store(workspace, HEALTH_TRAINING_KIND, lambda fitted, job: (
        store_health_model(workspace, fitted, actor=job.parameters.get("actor", job.owner),
                           actor_role=job.parameters.get("role"))))


__all__ = ["HEALTH_TRAINING_KIND", "HealthTrainingProgress", "health_training_progress",
           "start_health_training"]
