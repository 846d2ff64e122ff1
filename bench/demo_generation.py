"""Demo generation time, file size and row counts for the medium and large sizes."""

from __future__ import annotations

import datetime as dt
import os
import tempfile
import time
from pathlib import Path

from bench.large_workspace import LARGE_DIR_VARIABLE
from bench.report import Report
from planning.demo import DEMO_SIZES, generate_demo_workspace
from planning.store import close_all_workspaces

AS_OF = dt.date(2026, 11, 16)


def run(report: Report) -> None:
    """Generate `medium` and `large` and report the figures; `large` is kept in the shared
    folder for the benchmarks that follow."""
    for size in ("medium", "large"):
        with tempfile.TemporaryDirectory(prefix="revplan-bench-") as folder:
            base = Path(folder)
            if size == "large" and LARGE_DIR_VARIABLE in os.environ:
                base = Path(os.environ[LARGE_DIR_VARIABLE])
            started = time.perf_counter()
            result = generate_demo_workspace(
                size, size=DEMO_SIZES[size], seed=7, as_of=AS_OF, base=base, replace=True
            )
            seconds = time.perf_counter() - started
            close_all_workspaces()
            report(f"demo {size}: generation time", seconds, "s")
            report(f"demo {size}: DuckDB file size", result.file_bytes / 1e6, "MB")
            report(f"demo {size}: opportunities", result.rows["opportunities"], "rows")
            report(f"demo {size}: opportunity_history", result.rows["opportunity_history"],
                   "rows")
            report(f"demo {size}: activities", result.rows["activities"], "rows")
