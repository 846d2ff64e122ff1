"""The first run in a real browser: the demo's deal risk models train as a job after the app is
up; Deal inspection shows the training's progress, then the scores, without a reload."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from planning.jobs import workspace_queue
from planning.jobs.worker import run_worker
from planning.pipeline.model_jobs import start_training
from planning.store import open_workspace
from tests.e2e.conftest import member_emails, serve_app, wait_until_settled

TRAINING_TIMEOUT_MS = 600_000
"""Training the small demo's models takes about 15 s on a quiet 2-core machine."""


def keep_a_worker_busy(folder: Path, stop: threading.Event) -> None:
    """A worker's heartbeat without a worker taking jobs, so the queued job waits."""
    queue = workspace_queue(open_workspace("demo", base=folder, read_only=True))
    while not stop.wait(0.5):
        queue.heartbeat("busy-worker")
    queue.forget_worker("busy-worker")


@pytest.mark.e2e
def test_inspection_follows_the_training_job_then_shows_scores(
    demo_data_dir: Path, tmp_path: Path, browser_page: Page, output_dir: Path
) -> None:
    shutil.copy(demo_data_dir / "demo.duckdb", tmp_path / "demo.duckdb")
    manager = member_emails(tmp_path)["manager"]
    workspace = open_workspace("demo", base=tmp_path)
    workspace_queue(workspace).heartbeat("busy-worker")
    busy = threading.Event()
    heartbeat = threading.Thread(target=keep_a_worker_busy, args=(tmp_path, busy), daemon=True)
    heartbeat.start()
    job_id = start_training(workspace, "revplan demo")
    workspace.close()
    stop_worker = threading.Event()
    with serve_app(tmp_path) as (url, _log):
        page = browser_page
        page.goto(f"{url}/inspection?as={manager}", wait_until="domcontentloaded")
        expect(page.get_by_role("heading", name="Deal inspection")).to_be_visible()
        progress = page.get_by_text("Training the deal risk models (waiting for the worker)",
                                    exact=False)
        expect(progress).to_be_visible()
        expect(page.get_by_text("Until the training above ends", exact=False)).to_be_visible()
        expect(page.get_by_text("No deal risk model is trained yet", exact=False)
               ).to_have_count(0)
        expect(page.locator('[data-testid="stDataFrame"]').first).to_be_visible()
        wait_until_settled(page)
        page.screenshot(path=str(output_dir / "training-queued.png"), full_page=True)

        busy.set()
        heartbeat.join(timeout=10)
        worker = threading.Thread(target=run_worker, args=(tmp_path,),
                                  kwargs={"stop": stop_worker}, daemon=True)
        worker.start()
        try:
            expect(page.get_by_text("Training the deal risk models", exact=False)).to_have_count(
                0, timeout=TRAINING_TIMEOUT_MS)
            expect(page.get_by_text("Until the training above ends", exact=False)
                   ).to_have_count(0)
            expect(page.locator('[data-testid="stDataFrame"]').first).to_be_visible()
            page.screenshot(path=str(output_dir / "training-done.png"), full_page=True)
        finally:
            stop_worker.set()
            worker.join(timeout=10)
    stored = open_workspace("demo", base=tmp_path, read_only=True)
    try:
        trained = stored.read(lambda cur: cur.execute(
            "SELECT count(*) FROM model_versions WHERE is_active").fetchone()[0])
        finished = workspace_queue(stored).get(job_id)
    finally:
        stored.close()
    assert finished.status == "done"
    assert trained == 2
