"""The computations a job process runs: pure functions of the job's input, no DuckDB."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from planning.progress import ProgressCallback

Checkpoint = Callable[[Any], None]
"""Called with the best result so far, so a job stopped by the clock still has one."""

JobFunction = Callable[[dict, ProgressCallback, Checkpoint], tuple[str, Any]]
"""(input, progress, checkpoint) → (job status, result)."""


def territory_job(payload: dict, progress: ProgressCallback,
                  checkpoint: Checkpoint) -> tuple[str, Any]:
    """Solve a territory scenario; every improving plan is checkpointed.

    The solver gets the time the job has left (process start-up counts against the limit);
    results carry the scenario as the user set it.
    """
    from planning.territory.solve import solve_territories

    scenario = payload["scenario"]
    solving = replace(scenario, time_limit=min(scenario.time_limit,
                                               payload.get("seconds_left", scenario.time_limit)))
    result = solve_territories(payload["problem"], solving, progress=progress,
                               incumbent=lambda best: checkpoint(replace(best, scenario=scenario)))
    result = replace(result, scenario=scenario)
    return ("time_limit" if result.status == "time_limit" else "done"), result


def quota_job(payload: dict, progress: ProgressCallback,
              checkpoint: Checkpoint) -> tuple[str, Any]:
    """Allocate quotas for the payload's reps and scenario."""
    from planning.quota.model import solve_quotas

    progress(0.1, "Allocating quotas")
    return "done", solve_quotas(payload["reps"], payload["scenario"])


def training_job(payload: dict, progress: ProgressCallback,
                 checkpoint: Checkpoint) -> tuple[str, Any]:
    """Fit the deal risk models on the rows the app read and score the open deals."""
    from planning.pipeline.training import fit_deal_models

    return "done", fit_deal_models(payload["input"], progress=progress)


def health_training_job(payload: dict, progress: ProgressCallback,
                        checkpoint: Checkpoint) -> tuple[str, Any]:
    """Fit the churn model on the renewal rows the app read and score the accounts."""
    from planning.health.training import fit_health_model

    return "done", fit_health_model(payload["input"], progress=progress)


KINDS: dict[str, JobFunction] = {"territory": territory_job, "quota": quota_job,
                                 "training": training_job,
                                 "health_training": health_training_job}
"""Job kinds by name."""
