"""Quarter forecast on the `large` demo: 10,000 simulated outcomes of the current quarter's
company forecast. Deals use the active model's scores when the workspace has been scored (in
`bench.run`, `deal_models` scores the shared workspace first), else their stage's win rate, so
no training is needed here.

With REVPLAN_BENCH_LARGE_DIR set (as `bench.run` does), the shared `large.duckdb` there is used,
made first if missing, and opened read-only; without it, one is generated to a temporary folder.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

from bench.large_workspace import AS_OF, LARGE_DIR_VARIABLE, large_workspace_dir
from bench.report import Report
from planning.demo import DEMO_SIZES, generate_demo_workspace
from planning.pipeline.forecast import DEFAULT_DRAWS, forecast_quarters, quarter_forecast
from planning.store import Workspace, close_all_workspaces, open_workspace

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
    report("forecast large: deals with model scores", forecast.scored_deals, "deals")
    report(f"forecast large: company {quarter.label}, {DEFAULT_DRAWS:,} draws, total",
           statistics.median(totals), "s")
    report("forecast large: of which Monte Carlo", statistics.median(simulations), "s")


def run(report: Report) -> None:
    """Measure on the shared large workspace when REVPLAN_BENCH_LARGE_DIR is set, else on
    one generated to a temporary folder."""
    if LARGE_DIR_VARIABLE in os.environ:
        try:
            measure(open_workspace("large", base=large_workspace_dir(), read_only=True), report)
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
