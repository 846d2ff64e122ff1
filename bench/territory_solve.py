"""Territory solves on real US ZIP geography at ±5 %: the default method (heuristic, LP bound
over the nearest reps, LP rounding, warm-started MIP) against the plain Pyomo formulation
(every unit-rep pair, HiGHS alone), side by side.

Figures per size: seconds to a first feasible plan, seconds until the plan is proven within
1 % of optimal (or the gap when the time limit ends), and the plain/default time ratio.
The 40,000 × 300 plain model (12 million binaries) is not attempted: building it alone
exceeds the time limit and the memory of this class of machine.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

from bench.report import Report
from planning.demo import DEMO_SIZES, generate_demo_workspace
from planning.store import close_all_workspaces, open_workspace
from planning.territory.instances import us_territory_problem
from planning.territory.problem import TerritoryScenario
from planning.territory.solve import TerritoryResult, solve_territories
from planning.territory.workspace import workspace_territory

SIZES = ((1_000, 20, True), (3_000, 100, True), (40_000, 300, False))
TIME_LIMIT = 60.0
PLAIN_TIME_LIMIT = 120.0


def _figures(report: Report, label: str, result: TerritoryResult) -> float | None:
    report(f"{label}: first feasible plan", result.first_feasible_seconds or float("nan"), "s")
    if result.target_gap_seconds is not None:
        report(f"{label}: proven within 1% gap", result.target_gap_seconds, "s")
    else:
        report(f"{label}: gap at the end ({result.seconds:.0f} s, {result.status})",
               100 * (result.gap if result.gap is not None else float("nan")), "%")
    report(f"{label}: max balance deviation", 100 * result.kpis()["max_balance_deviation"]
           if result.has_plan else float("nan"), "%")
    return result.target_gap_seconds


def default_scenario_on_medium_demo(report: Report) -> None:
    """The page's default scenario (continuity, ±5 %, default limits) on the medium demo's
    accounts as they are owned today: what a leader sees first."""
    with tempfile.TemporaryDirectory(prefix="revplan-bench-") as folder:
        generate_demo_workspace("medium", size=DEMO_SIZES["medium"], seed=7,
                                as_of=dt.date(2026, 11, 16), base=Path(folder))
        try:
            problem = workspace_territory(open_workspace("medium", base=Path(folder))).problem
            result = solve_territories(problem, TerritoryScenario())
        finally:
            close_all_workspaces()
    label = "territory medium demo default scenario"
    report(f"{label}: gap ({result.status})",
           100 * (result.gap if result.gap is not None else float("nan")), "%")
    kpis = result.kpis() if result.has_plan else result.best_effort_kpis()
    moved_units = kpis["moved_units"]
    moved_value = kpis["moved_value"]
    deviation = kpis["max_balance_deviation"]
    report(f"{label}: moved share of accounts",
           float("nan") if moved_units is None else 100 * moved_units / problem.unit_count, "%")
    report(f"{label}: moved share of value",
           float("nan") if moved_value is None else 100 * moved_value / problem.value.sum(), "%")
    report(f"{label}: max balance deviation",
           float("nan") if deviation is None else 100 * deviation, "%")
    report(f"{label}: seconds", result.seconds, "s")


def run(report: Report) -> None:
    """Solve each size with both methods and report the figures."""
    default_scenario_on_medium_demo(report)
    for units, reps, with_plain in SIZES:
        problem = us_territory_problem(units, reps, seed=1)
        size = f"{problem.unit_count:,} x {reps}"
        scenario = TerritoryScenario(tolerance=0.05, time_limit=TIME_LIMIT, rel_gap=0.01)
        ours = _figures(report, f"territory {size} default", solve_territories(problem, scenario))
        if not with_plain:
            continue
        plain = solve_territories(problem, TerritoryScenario(
            tolerance=0.05, time_limit=PLAIN_TIME_LIMIT, rel_gap=0.01, method="plain"))
        theirs = _figures(report, f"territory {size} plain", plain)
        if ours:
            if theirs is not None:
                report(f"territory {size}: plain / default time to 1%", theirs / ours, "x")
            else:
                report(f"territory {size}: plain / default time to 1% (at least)",
                       plain.seconds / ours, "x")
