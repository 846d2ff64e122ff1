"""The first `make run` after the install step: the medium demo is built, its training is
queued as a job, the app starts; seconds until `/_stcore/health` answers and until the
training job has ended (the README states both)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.app_cold_start import _free_port, _healthy
from bench.report import Report
from planning.settings import PROJECT_ROOT
from planning.store.job_queue import JobQueue

HEALTH_TIMEOUT = 180.0
TRAINING_TIMEOUT = 900.0


def run(report: Report) -> None:
    """Time the first run's steps as `make run` runs them, on a fresh data folder."""
    with tempfile.TemporaryDirectory(prefix="revplan-bench-first-") as folder:
        env = {**os.environ, "REVPLAN_DATA_DIR": folder, "REVPLAN_WORKSPACE": "demo"}
        port = _free_port()
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "planning.cli", "demo", "--workspace", "demo",
                        "--size", "medium", "--if-missing", "--train-in-background"],
                       cwd=PROJECT_ROOT, env=env, check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        built = time.perf_counter() - started
        app = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
             "--server.port", str(port)], cwd=PROJECT_ROOT, env=env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            healthy = float("nan")
            while time.perf_counter() - started < HEALTH_TIMEOUT:
                if _healthy(port):
                    healthy = time.perf_counter() - started
                    break
                time.sleep(0.1)
            queue = JobQueue(Path(folder) / "demo.jobs.sqlite")
            trained = float("nan")
            while time.perf_counter() - started < TRAINING_TIMEOUT:
                job = queue.latest(None, "training")
                if job is not None and job.finished:
                    trained = time.perf_counter() - started if job.status == "done" else trained
                    break
                time.sleep(0.5)
        finally:
            app.terminate()
            app.wait(timeout=10)
    report("first run: medium demo built, training queued", built, "s")
    report("first run: app answers health", healthy, "s")
    report("first run: deal risk training job done", trained, "s")
