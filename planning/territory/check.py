"""An independent check of a territory plan against every hard constraint of its scenario.

Written from the units and reps tables alone (not from the solver's arrays), so a plan that
breaks a constraint is caught whatever the model or heuristic got wrong.
"""

from __future__ import annotations

import pandas as pd

from planning.territory.problem import TerritoryProblem, TerritoryScenario

SLACK = 1e-6
"""Relative slack on the workload band, for floating-point sums."""


def plan_violations(
    problem: TerritoryProblem, scenario: TerritoryScenario, assignment: pd.Series
) -> list[str]:
    """Every broken constraint of `assignment` (unit_id -> rep_id), in words; [] when valid."""
    units = problem.units.set_index("unit_id")
    reps = problem.reps.set_index("rep_id")
    problems: list[str] = []
    missing = units.index.difference(assignment.index)
    if len(missing):
        problems.append(f"{len(missing)} unit(s) unassigned, e.g. {missing[0]}")
    extra = assignment.index.difference(units.index)
    if len(extra):
        problems.append(f"{len(extra)} unknown unit(s) assigned, e.g. {extra[0]}")
    if assignment.index.duplicated().any():
        problems.append("a unit is assigned more than once")
        return problems
    unknown = set(assignment.dropna()) - set(reps.index)
    if unknown:
        problems.append(f"assigned to unknown rep(s): {sorted(unknown)[:3]}")
        return problems
    if missing.size or extra.size or assignment.isna().any():
        return problems or ["a unit has no rep"]
    owner = assignment.reindex(units.index)

    rep_segment = owner.map(reps["segment"])
    wrong = units["segment"].notna() & rep_segment.notna() & (units["segment"] != rep_segment)
    for unit_id in units.index[wrong][:20]:
        problems.append(f"unit {unit_id} ({units.at[unit_id, 'segment']}) assigned to rep "
                        f"{owner[unit_id]} ({rep_segment[unit_id]})")
    moved_locked = (units["locked"].astype(bool) & units["current_rep_id"].notna()
                    & (units["current_rep_id"] != owner))
    for unit_id in units.index[moved_locked][:20]:
        problems.append(f"locked unit {unit_id} moved from "
                        f"{units.at[unit_id, 'current_rep_id']} to {owner[unit_id]}")

    total = float(units["workload"].sum())
    capacity = reps["capacity"].astype(float)
    loads = units["workload"].groupby(owner).sum().reindex(reps.index, fill_value=0.0)
    for rep_id in reps.index:
        target = (float(reps.at[rep_id, "target"]) if "target" in reps.columns
                  else total * capacity[rep_id] / capacity.sum())
        low = target * (1 - scenario.tolerance) - SLACK * max(total, 1.0)
        high = target * (1 + scenario.tolerance) + SLACK * max(total, 1.0)
        if not low <= loads[rep_id] <= high:
            problems.append(f"rep {rep_id} workload {loads[rep_id]:,.2f} outside "
                            f"{target * (1 - scenario.tolerance):,.2f}–"
                            f"{target * (1 + scenario.tolerance):,.2f}")

    if scenario.max_moves_per_rep is not None:
        current = units["current_rep_id"]
        moved = current.notna() & (current != owner)
        for rep_id, count in current[moved].value_counts().items():
            if count > scenario.max_moves_per_rep:
                problems.append(f"{count} units moved away from rep {rep_id} (cap "
                                f"{scenario.max_moves_per_rep})")
    return problems
