"""Quarter forecast on the `large` demo: 10,000 simulated outcomes of the current quarter's
company forecast (unscored deals, so every deal uses its stage's win rate; no training needed).

Set REVPLAN_BENCH_LARGE_DIR to a folder holding `large.duckdb` (built with the same seed and
as-of date) to skip the ~90 s generation; that file is opened read-only.
"""

from __future__ import annotations

import datetime as dt
import os
import statistics
import tempfile
import time
from pathlib import Path

from bench.report import Report
from planning.demo import DEMO_SIZES, generate_demo_workspace
from planning.pipeline.forecast import DEFAULT_DRAWS, forecast_quarters, quarter_forecast
from planning.store import Workspace, close_all_workspaces, open_workspace

AS_OF = dt.date(2026, 11, 16)
LARGE_DIR_ENV = "REVPLAN_BENCH_LARGE_DIR"
REPEATS = 3


def measure(workspace: Workspace, report: Report) -> None:
    """Time the company forecast of the as-of date's quarter a few times; report the median."""
    quarter, _ = forecast_quarters(workspace, AS_OF)
    totals, simulations = [], []
    for _ in range(REPEATS):
        started = time.perf_counter()
        forecast = quarter_forecast(workspace, None, quarter, "company", DEFAULT_DRAWS,
                                    today=AS_OF)
        totals.append(time.perf_counter() - started)
        simulations.append(forecast.seconds)
    report("forecast large: open deals", forecast.scored_deals + forecast.fallback_deals,
           "deals")
    report("forecast large: deals simulated (chance > 0)", forecast.simulated_deals, "deals")
    report(f"forecast large: company {quarter.label}, {DEFAULT_DRAWS:,} draws, total",
           statistics.median(totals), "s")
    report("forecast large: of which Monte Carlo", statistics.median(simulations), "s")


def run(report: Report) -> None:
    """Use REVPLAN_BENCH_LARGE_DIR's large.duckdb if present, else generate one to a
    temporary folder, and report the forecast figures."""
    reuse = os.environ.get(LARGE_DIR_ENV)
    if reuse and (Path(reuse) / "large.duckdb").is_file():
        try:
            measure(open_workspace("large", base=Path(reuse), read_only=True), report)
        finally:
            close_all_workspaces()
        return
    with tempfile.TemporaryDirectory(prefix="revplan-bench-") as folder:
        generate_demo_workspace("large", size=DEMO_SIZES["large"], seed=7, as_of=AS_OF,
                                base=Path(folder))
        close_all_workspaces()
        try:
            measure(open_workspace("large", base=Path(folder)), report)
        finally:
            close_all_workspaces()
