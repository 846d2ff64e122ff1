"""A territory solve started on the page runs in a process of its own: the app's health check
answers within a second while it runs, the process is gone when it ends, and the page shows
the result again after a reload."""

from __future__ import annotations

import os
import shutil
import time
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from planning.store.job_queue import JobQueue, queue_path
from tests.e2e.conftest import RENDER_TIMEOUT_MS, member_emails, serve_app

START_TIMEOUT_S = 120.0
HEALTH_LIMIT_S = 1.0


def health_seconds(url: str) -> float:
    started = time.perf_counter()
    with urllib.request.urlopen(f"{url}/_stcore/health", timeout=10) as response:
        assert response.status == 200
    return time.perf_counter() - started


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


@pytest.mark.e2e
def test_health_answers_while_a_territory_solve_runs_and_a_reload_finds_the_result(
    demo_data_dir: Path, tmp_path: Path, browser_page: Page
) -> None:
    shutil.copy(demo_data_dir / "demo.duckdb", tmp_path / "demo.duckdb")
    leader = member_emails(tmp_path)["sales_leader"]
    with serve_app(tmp_path) as (url, _log):
        page = browser_page
        page.goto(f"{url}/territory?as={leader}", wait_until="domcontentloaded")
        expect(page.get_by_role("heading", name="Territory design")).to_be_visible(
            timeout=RENDER_TIMEOUT_MS)
        page.get_by_role("spinbutton", name="Disruption weight").fill("50")
        page.get_by_role("button", name="Solve").click()

        queue = JobQueue(queue_path(tmp_path / "demo.duckdb"))
        deadline = time.monotonic() + START_TIMEOUT_S
        while (job := queue.latest(leader, "territory")) is None or job.pid is None:
            assert time.monotonic() < deadline, "the page did not start a solve job"
            time.sleep(0.2)

        while_running = []
        for _ in range(12):
            seconds = health_seconds(url)
            if not queue.get(job.job_id).finished:
                while_running.append(seconds)
            time.sleep(0.2)
        assert len(while_running) >= 3, "the solve ended before the health check was measured"
        assert max(while_running) < HEALTH_LIMIT_S, while_running

        deadline = time.monotonic() + START_TIMEOUT_S
        while not (ended := queue.get(job.job_id)).finished:
            assert time.monotonic() < deadline, "the solve job did not end"
            time.sleep(0.2)
        assert ended.status in ("done", "time_limit")
        assert process_gone(ended.pid)
        page.reload(wait_until="domcontentloaded")
        expect(page.get_by_text("Accounts moved (", exact=False)).to_be_visible(
            timeout=RENDER_TIMEOUT_MS)
