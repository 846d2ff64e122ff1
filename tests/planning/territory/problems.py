"""Small territory problems built from real tables."""

from __future__ import annotations

import pandas as pd

from planning.territory.problem import TerritoryProblem
from planning.territory.validation import territory_problem


def grid_problem(
    workloads: list[float], rep_points: list[tuple[float, float]], *,
    current: list[str | None] | None = None, locked: list[bool] | None = None,
    unit_segments: list[str | None] | None = None, rep_segments: list[str | None] | None = None,
    capacity: list[float] | None = None,
) -> TerritoryProblem:
    """Units on a line of longitudes at latitude 40 (one degree apart), reps at given points."""
    count = len(workloads)
    units = pd.DataFrame({
        "unit_id": [f"U{i:02d}" for i in range(count)],
        "lat": [40.0] * count, "lon": [-100.0 + i for i in range(count)],
        "workload": workloads,
        "current_rep_id": current or [None] * count,
        "locked": locked or [False] * count,
        "segment": unit_segments or [None] * count,
    })
    reps = pd.DataFrame({
        "rep_id": [f"R{i}" for i in range(len(rep_points))],
        "lat": [p[0] for p in rep_points], "lon": [p[1] for p in rep_points],
        "capacity": capacity or [1.0] * len(rep_points),
        "segment": rep_segments or [None] * len(rep_points),
    })
    return territory_problem(units, reps)
