"""App cold start: from launching Streamlit to `/_stcore/health` answering ok."""

from __future__ import annotations

import datetime as dt
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from bench.report import Report
from planning.demo import DEMO_SIZES, generate_demo_workspace
from planning.settings import PROJECT_ROOT
from planning.store import close_all_workspaces

RUNS = 3


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1) as r:
            return r.read().decode().strip() == "ok"
    except OSError:
        return False


def start_app_and_wait(data_dir: Path, timeout: float = 60.0) -> tuple[float, int]:
    """Start the app on a free port; return seconds until healthy and the exit code it gave."""
    port = _free_port()
    env = {**os.environ, "REVPLAN_DATA_DIR": str(data_dir), "REVPLAN_WORKSPACE": "demo"}
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
         "--server.port", str(port)],
        cwd=PROJECT_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        while time.perf_counter() - started < timeout:
            if _healthy(port):
                return time.perf_counter() - started, 0
            if process.poll() is not None:
                return float("nan"), process.returncode
            time.sleep(0.05)
        return float("nan"), -1
    finally:
        process.terminate()
        process.wait(timeout=10)


def run(report: Report) -> None:
    """Median of three cold starts against a small demo workspace."""
    with tempfile.TemporaryDirectory(prefix="revplan-bench-") as folder:
        generate_demo_workspace("demo", size=DEMO_SIZES["small"], seed=7,
                                as_of=dt.date(2026, 11, 16), base=Path(folder))
        close_all_workspaces()
        times = sorted(start_app_and_wait(Path(folder))[0] for _ in range(RUNS))
    report("app cold start to health OK (median of 3)", times[RUNS // 2], "s")
    report("app cold start to health OK (worst of 3)", times[-1], "s")
