"""Solves started on the pages run as jobs in processes of their own: a new session of the
same person (a reload) finds the last result again, and the job row names its owner."""

from __future__ import annotations

import os
import time

from planning.access.roles import Role
from planning.jobs import latest_job
from planning.store import Workspace
from tests.views.test_pages import demo_user, page_app
from views.registry import page_by_path

TERRITORY = page_by_path("views/territory.py")
QUOTA = page_by_path("views/quota.py")


def process_gone(pid: int, within: float = 10.0) -> bool:
    """Whether the process has exited (it may still be closing just after its job ended)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def test_a_territory_solve_is_a_job_and_a_reload_shows_its_result(
    demo_copy: Workspace,
) -> None:
    leader = demo_user(demo_copy, Role.SALES_LEADER)
    app = page_app(TERRITORY, leader).run()
    app = [b for b in app.button if b.label == "Solve"][0].click().run(timeout=120)
    assert not app.exception, [e.value for e in app.exception]
    moved = [h.value for h in app.subheader if h.value.startswith("Accounts moved")]
    assert moved

    job = latest_job(demo_copy, leader.email, "territory")
    assert job is not None and job.status in ("done", "time_limit")
    assert job.pid is not None and job.pid != os.getpid() and process_gone(job.pid)

    reloaded = page_app(TERRITORY, leader).run(timeout=60)
    assert not reloaded.exception, [e.value for e in reloaded.exception]
    assert [h.value for h in reloaded.subheader if h.value.startswith("Accounts moved")] == moved
    other = page_app(TERRITORY, demo_user(demo_copy, Role.REVOPS)).run(timeout=60)
    assert not [h for h in other.subheader if h.value.startswith("Accounts moved")]


def test_a_quota_solve_is_a_job_and_a_reload_shows_its_result(demo_copy: Workspace) -> None:
    finance = demo_user(demo_copy, Role.FINANCE)
    app = page_app(QUOTA, finance).run()
    app.number_input[0].set_value(40_000_000.0)
    app = [b for b in app.button if b.label == "Solve"][0].click().run(timeout=60)
    assert not app.exception, [e.value for e in app.exception]
    total = {m.label: m.value for m in app.metric}["Total quota"]

    job = latest_job(demo_copy, finance.email, "quota")
    assert job is not None and job.status == "done" and process_gone(job.pid)

    reloaded = page_app(QUOTA, finance).run(timeout=60)
    assert not reloaded.exception, [e.value for e in reloaded.exception]
    assert {m.label: m.value for m in reloaded.metric}["Total quota"] == total
