"""Churn training as a job: read here, fitted in a job process, stored once by whichever
caller first sees it done."""

from __future__ import annotations

import datetime as dt

import pytest

from planning.access.policy import AccessDeniedError
from planning.access.roles import Role
from planning.health.jobs import health_training_progress, start_health_training
from planning.health.training import churn_model_cards
from planning.jobs import wait_for_job
from planning.store import Workspace
from tests.conftest import DEMO_AS_OF
from tests.views.test_pages import demo_user

AS_OF = dt.datetime.combine(DEMO_AS_OF + dt.timedelta(days=1), dt.time())


def test_health_training_runs_as_a_job_and_is_stored_once(demo_copy: Workspace) -> None:
    assert health_training_progress(demo_copy) is None
    revops = demo_user(demo_copy, Role.REVOPS)
    job_id = start_health_training(demo_copy, revops, as_of=AS_OF)
    assert start_health_training(demo_copy, revops, as_of=AS_OF) == job_id
    job = wait_for_job(demo_copy, job_id, timeout=300)
    assert job.status == "done", job.error
    first = health_training_progress(demo_copy)
    assert first is not None and first.stored is not None
    assert first.stored.card.metrics["auc"] >= 0.75
    again = health_training_progress(demo_copy)
    assert again is not None and again.stored is None
    cards = churn_model_cards(demo_copy)
    assert cards["model_id"].tolist() == [first.stored.model_id]
    assert cards["trained_by"].iat[0] == revops.email


def test_a_rep_cannot_start_health_training(demo_copy: Workspace) -> None:
    with pytest.raises(AccessDeniedError):
        start_health_training(demo_copy, demo_user(demo_copy, Role.REP), as_of=AS_OF)
