"""Territory time limits on a large book: 200,000 units asked (every active US ZIP, about
41,700, is what exists) × 5 reps at ±5 % with a 15 s limit, far from balance today.

Figures, solved directly and as a job process (measured from submit): seconds past the limit
(negative: ended early), whether a valid plan came back (1 or 0), and the status, shown in
the figure's name.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from bench.report import Report
from planning.jobs import JobFailedError, job_result, submit_job, wait_for_job
from planning.store import close_all_workspaces, open_workspace
from planning.territory.instances import us_territory_problem
from planning.territory.problem import TerritoryScenario
from planning.territory.solve import solve_territories

UNITS, REPS = 200_000, 5
TIME_LIMIT = 15.0
JOB_WAIT = 120.0


def _figures(report: Report, label: str, seconds: float, status: str, plan: bool) -> None:
    report(f"{label}: seconds past the {TIME_LIMIT:.0f} s limit ({status})",
           seconds - TIME_LIMIT, "s")
    report(f"{label}: valid plan returned", 1 if plan else 0, "")


def run(report: Report) -> None:
    """Solve the large book directly and in a job; report the overrun and the outcome."""
    problem = us_territory_problem(UNITS, REPS, seed=1)
    size = f"{UNITS:,} (all {problem.unit_count:,} ZIPs) x {REPS}"
    scenario = TerritoryScenario(tolerance=0.05, time_limit=TIME_LIMIT)
    started = time.perf_counter()
    direct = solve_territories(problem, scenario)
    _figures(report, f"territory {size} direct", time.perf_counter() - started,
             direct.status, direct.has_plan)
    with tempfile.TemporaryDirectory(prefix="revplan-bench-jobs-") as folder:
        workspace = open_workspace("bench", create=True, base=Path(folder))
        try:
            submitted = time.monotonic()
            job_id = submit_job(workspace, "territory", "bench@example.com",
                                {"problem": problem, "scenario": scenario},
                                time_limit_s=TIME_LIMIT)
            job = wait_for_job(workspace, job_id, timeout=JOB_WAIT, poll=0.05)
            seconds = time.monotonic() - submitted
            try:
                result = job_result(job)
                status, plan = result.status, result.has_plan
            except JobFailedError:
                status, plan = f"job {job.status}, no result", False
            _figures(report, f"territory {size} job", seconds, status, plan)
        finally:
            close_all_workspaces()
