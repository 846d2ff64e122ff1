"""Deal risk training as a job: read in this process, fitted in a job process, stored once by
whichever caller first sees it done, with the same models a direct training gives."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from planning.access.policy import AccessDeniedError, system_principal
from planning.access.roles import Role
from planning.audit import audit_events
from planning.jobs import job_state, wait_for_job
from planning.pipeline.model_jobs import start_training, training_progress
from planning.store import Workspace, open_workspace
from planning.store import deal_models as repo
from tests.views.test_pages import demo_user

JOB_SECONDS = 300


def scored_deals(workspace: Workspace, model_id: str) -> int:
    return workspace.read(lambda cur: cur.execute(
        "SELECT count(*) FROM deal_scores WHERE model_id = ?", [model_id]).fetchone()[0])


def open_deals(workspace: Workspace) -> int:
    return workspace.read(lambda cur: cur.execute(
        "SELECT count(*) FROM opportunities WHERE status = 'open'").fetchone()[0])


def test_training_runs_as_a_job_and_is_stored_once(demo_copy: Workspace) -> None:
    assert training_progress(demo_copy) is None
    assert demo_copy.read(lambda cur: repo.active_model(cur, "win")) is None
    revops = demo_user(demo_copy, Role.REVOPS)
    job_id = start_training(demo_copy, revops)
    assert start_training(demo_copy, revops) == job_id  # one training at a time
    assert job_state(demo_copy, job_id).status in ("queued", "running")
    wait_for_job(demo_copy, job_id, JOB_SECONDS)

    first = training_progress(demo_copy)
    assert first is not None and first.job_id == job_id and first.status == "done"
    assert first.stored is not None and first.stored.training is not None
    win_id = first.stored.training.win_model_id
    assert demo_copy.read(lambda cur: repo.active_model(cur, "win"))[0] == win_id
    assert scored_deals(demo_copy, win_id) == open_deals(demo_copy) > 0
    assert first.stored.scored_deals == open_deals(demo_copy)

    again = training_progress(demo_copy)
    assert again is not None and again.stored is None
    events = audit_events(demo_copy, system_principal(demo_copy.name), action="model.train")
    assert len(events) == 1 and events.iloc[0]["actor"] == revops.email


def test_a_rep_may_not_start_training(demo_copy: Workspace) -> None:
    with pytest.raises(AccessDeniedError):
        start_training(demo_copy, demo_user(demo_copy, Role.REP))
    assert training_progress(demo_copy) is None


def test_the_demo_command_returns_before_training_ends(data_dir: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "planning.cli", "demo", "--workspace", "quick", "--size", "small",
         "--train-in-background"], capture_output=True, text=True, check=False, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "Training the deal risk models as job" in done.stdout
    workspace = open_workspace("quick")
    found = training_progress(workspace)
    assert found is not None
    wait_for_job(workspace, found.job_id, JOB_SECONDS)
    stored = training_progress(workspace)
    assert stored is not None and stored.stored is not None
    assert workspace.read(lambda cur: repo.active_model(cur, "win")) is not None
