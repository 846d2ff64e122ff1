"""Quota allocation solve time for 60, 1,000 and 10,000 reps (target ≤ 2 s at 10,000).

Synthetic books with lognormal potential, bookings, pipeline and last year's quota, ramping
hires, 20 teams; target 10 % above last year's total, +25 % year-over-year cap, 10 %
over-assignment. The median of three solves is reported, with the model's own figures.
"""

from __future__ import annotations

import statistics

import numpy as np
import pandas as pd

from bench.report import Report
from planning.quota.model import QuotaScenario, solve_quotas

SIZES = (60, 1_000, 10_000)
REPEATS = 3


def synthetic_reps(count: int, seed: int = 1) -> pd.DataFrame:
    """A book of `count` reps (dollars)."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "rep_id": [f"R{i:05d}" for i in range(count)],
        "team": [f"Team {i % 20:02d}" for i in range(count)],
        "potential": rng.lognormal(15, 0.5, count), "history": rng.lognormal(13.8, 0.6, count),
        "pipeline": rng.lognormal(13, 0.7, count),
        "ramp": np.minimum(1.0, rng.uniform(0.3, 2.0, count)),
        "last_quota": rng.lognormal(14, 0.4, count),
    })


def run(report: Report) -> None:
    """Solve each size a few times and report the median time."""
    for count in SIZES:
        reps = synthetic_reps(count)
        scenario = QuotaScenario(target_cents=int(reps["last_quota"].sum() * 110),
                                 max_increase=0.25, over_assign=0.10)
        times = []
        for _ in range(REPEATS):
            result = solve_quotas(reps, scenario)
            times.append(result.seconds)
        report(f"quota {count:,} reps: solve (median of {REPEATS})", statistics.median(times),
               "s")
        report(f"quota {count:,} reps: largest deviation from fair share",
               100 * result.objective, "%")
        report(f"quota {count:,} reps: total exact to the cent",
               float(result.total_cents == scenario.total_cents), "(1 = yes)")
