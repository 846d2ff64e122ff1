"""Quota scenarios on a workspace: inputs from its reps, book, bookings and pipeline; results
saved with settings, statistics, fairness figures and a content hash; overrides audited."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

import numpy as np
import pandas as pd

from planning import audit
from planning.access.entry_points import entry_point
from planning.access.policy import Action
from planning.access.users import User
from planning.asof import resolve_as_of
from planning.errors import RevPlanError
from planning.periods import FiscalQuarter, fiscal_quarter_of, fiscal_year_of
from planning.quota.fairness import (
    CapacityCheck,
    FairnessReport,
    bookings_sigma,
    capacity_check,
    fairness_report,
)
from planning.quota.model import QuotaResult
from planning.ramp import average_ramp_share
from planning.store import Workspace
from planning.store import quotas as repo
from planning.store.kpis import fiscal_year_start_month
from planning.versions import ScenarioContent, ScenarioStamp, save_scenario_version


@dataclass(frozen=True)
class QuotaInputs:
    """A workspace's reps ready for `solve_quotas`, with what fairness and capacity need."""

    fiscal_year: int
    quarters: tuple[FiscalQuarter, ...]
    reps: pd.DataFrame
    """rep_id, name, team, potential, history, pipeline, ramp, prior_ramp, last_quota …"""
    seasonality: tuple[float, float, float, float]
    sigma: float
    first_year_ramp: float
    potential_source: str
    history_window: tuple[dt.date, dt.date] | None = None
    """The 12 months whose bookings are each rep's history: up to the day before the fiscal
    year, or to the as-of day when that comes first."""


DEFAULT_GROWTH = 0.10
"""Growth over last year's bookings a new quota scenario's target starts from."""


@dataclass(frozen=True)
class QuotaBaseline:
    """Last year at a glance, beside the target: the reps' bookings and quotas."""

    bookings_cents: int
    quota_cents: int | None
    """Last fiscal year's quotas of these reps; None when the workspace holds none."""
    window: tuple[dt.date, dt.date] | None

    def target_cents(self, growth: float) -> int:
        """Last year's bookings × (1 + growth), rounded to whole thousands of dollars."""
        return int(round(self.bookings_cents * (1 + growth) / 100_000)) * 100_000


def quota_baseline(inputs: QuotaInputs) -> QuotaBaseline:
    """The reps' bookings over the history window and their quotas of last fiscal year."""
    quotas = inputs.reps["last_quota"].dropna()
    return QuotaBaseline(
        bookings_cents=int(round(float(inputs.reps["history"].sum()) * 100)),
        quota_cents=int(round(float(quotas.sum()) * 100)) if len(quotas) else None,
        window=inputs.history_window)


def productive_share(hire_date: object, ramp_months: float, capacity: float,
                     first: dt.date, months: int = 12) -> float:
    """FTE × the average, over `months` from `first`, of how ramped the rep is (the one ramp
    rule, `planning.ramp`: linear over their ramp months from hire; 0 before hire)."""
    return float(capacity) * average_ramp_share(hire_date, ramp_months, first, months)


def _fiscal_quarters(fiscal_year: int, start_month: int) -> tuple[FiscalQuarter, ...]:
    probe = dt.date(fiscal_year if start_month == 1 else fiscal_year - 1, start_month, 15)
    first = fiscal_quarter_of(probe, start_month)
    if first.fiscal_year != fiscal_year or first.quarter != 1:
        raise RevPlanError(f"Cannot place fiscal year {fiscal_year}.")
    return (first, first.next(), first.next().next(), first.next().next().next())


def quota_inputs(
    workspace: Workspace, fiscal_year: int | None = None, *,
    territory_scenario: str | None = None, today: dt.date | None = None,
) -> QuotaInputs:
    """Inputs for allocating `fiscal_year` (default: the next one) as of `today`.

    `today` defaults to the workspace's as-of day, so trailing bookings and last year's quota
    are read where the data are.
    """
    today = today or resolve_as_of(workspace).day
    start_month = workspace.read(fiscal_year_start_month)
    fiscal_year = fiscal_year or fiscal_year_of(today, start_month) + 1
    quarters = _fiscal_quarters(fiscal_year, start_month)
    end = min(today, quarters[0].start - dt.timedelta(days=1))
    window = (end - dt.timedelta(days=364), end)
    prior = (window[0] - dt.timedelta(days=365), window[0] - dt.timedelta(days=1))
    seasons = [quarters[0].shifted(-4 * back + k) for back in (1, 2) for k in range(4)]

    def read(cur) -> tuple[pd.DataFrame, list[int], pd.DataFrame]:
        if territory_scenario is not None and not repo.territory_scenario_exists(
                cur, territory_scenario):
            raise RevPlanError(f"No saved territory scenario {territory_scenario!r}.")
        return (repo.rep_inputs(cur, window, prior, fiscal_year - 1, territory_scenario),
                repo.won_by_quarter(cur, [(q.start, q.end) for q in seasons]),
                repo.book_fallbacks(cur, end))

    reps, won, fallbacks = workspace.read_snapshot(read)
    if reps.empty:
        raise RevPlanError("No active reps in this workspace.")
    potential_source = (f"territory scenario {territory_scenario}" if territory_scenario
                        else "current book (account revenue)")
    if territory_scenario is None and not (reps["potential"] > 0).any():
        reps, potential_source = _potential_fallback(reps, fallbacks)
    reps["ramp"] = [productive_share(h, m, c, quarters[0].start) for h, m, c in zip(
        reps["hire_date"], reps["ramp_months"], reps["capacity"], strict=True)]
    reps["prior_ramp"] = [productive_share(h, m, c, window[0]) for h, m, c in zip(
        reps["hire_date"], reps["ramp_months"], reps["capacity"], strict=True)]
    by_quarter = np.array(won, dtype=float).reshape(2, 4).sum(axis=0)
    seasonality = (tuple(float(x) for x in by_quarter / by_quarter.sum())
                   if by_quarter.sum() > 0 else (0.25, 0.25, 0.25, 0.25))
    typical_ramp = float(reps["ramp_months"].median()) if len(reps) else 0.0
    first_year = float(np.mean([min(1.0, (k + 0.5) / typical_ramp) if typical_ramp > 0 else 1.0
                                for k in range(12)]))
    return QuotaInputs(
        fiscal_year=fiscal_year, quarters=quarters, reps=reps,
        seasonality=seasonality,  # type: ignore[arg-type]
        sigma=bookings_sigma(*(reps.loc[reps["prior_ramp"] >= 0.999, column].to_numpy()
                               for column in ("prior_history", "history"))),
        first_year_ramp=first_year,
        potential_source=potential_source, history_window=window)


DEFAULT_BLEND: dict[str, int] = {"potential": 50, "history": 30, "pipeline": 20}
"""Fair-share blend percentages a new quota scenario starts from."""
BLEND_NAMES = {"potential": "potential", "history": "trailing bookings",
               "pipeline": "open pipeline"}


def suggested_blend(inputs: QuotaInputs) -> tuple[dict[str, int], tuple[str, ...]]:
    """The default blend in whole percent, less the measures no rep has (an export whose open
    deals carry no amount has no pipeline to share by), the rest scaled to add up to 100; and
    the names of the measures left out."""
    present = {m: w for m, w in DEFAULT_BLEND.items() if (inputs.reps[m] > 0).any()}
    missing = tuple(BLEND_NAMES[m] for m in DEFAULT_BLEND if m not in present)
    if not present or not missing:
        return dict(DEFAULT_BLEND), missing
    total = sum(present.values())
    blend = {m: (100 * w) // total for m, w in present.items()}
    blend[max(present, key=present.get)] += 100 - sum(blend.values())
    return {m: blend.get(m, 0) for m in DEFAULT_BLEND}, missing


def _potential_fallback(reps: pd.DataFrame, fallbacks: pd.DataFrame
                        ) -> tuple[pd.DataFrame, str]:
    """Potential when no account carries annual revenue (common in CRM exports): the
    bookings won on each rep's accounts, else the number of accounts they own."""
    book = reps[["rep_id"]].merge(fallbacks, on="rep_id", how="left").fillna(0)
    if (book["bookings"] > 0).any():
        return (reps.assign(potential=book["bookings"].to_numpy(dtype=float)),
                "current book (bookings won on each rep's accounts; the accounts carry no "
                "annual revenue)")
    if (book["accounts"] > 0).any():
        return (reps.assign(potential=book["accounts"].to_numpy(dtype=float)),
                "current book (number of accounts; the accounts carry no annual revenue or "
                "bookings)")
    return reps, "current book (account revenue)"


def quota_metrics(inputs: QuotaInputs, result: QuotaResult) -> tuple[FairnessReport,
                                                                      CapacityCheck]:
    """Fairness of an allocation and the capacity check against its total."""
    return (fairness_report(result.allocation, inputs.reps, inputs.sigma),
            capacity_check(inputs.reps, result.total_cents / 100, inputs.first_year_ramp))


def checked_reason(reason: str) -> str:
    """An override's reason, trimmed; RevPlanError when it says too little."""
    reason = reason.strip()
    if len(reason) < 5:
        raise RevPlanError("Give a reason for the override (at least 5 characters).")
    return reason


@entry_point(Action.SOLVE_QUOTA)
def record_override(workspace: Workspace, rep_id: str, quota_cents: int, reason: str, *,
                    user: User) -> None:
    """Audit a manual quota override once it has been applied."""
    reason = checked_reason(reason)
    workspace.write(lambda cur: audit.record(
        cur, actor=user.email, actor_role=user.audit_role, action="quota.override", entity="rep",
        entity_id=rep_id, after={"quota_cents": int(quota_cents)}, reason=reason))


@entry_point(Action.SOLVE_QUOTA)
def save_quota_scenario(
    workspace: Workspace, inputs: QuotaInputs, result: QuotaResult, name: str, *,
    user: User, parent_id: str | None = None,
) -> str:
    """Store a solved allocation as a scenario result and its plan version (same id,
    optionally the child of `parent_id`; audited) through `save_scenario_version`; returns
    the id."""
    fairness, capacity = quota_metrics(inputs, result)
    report = result.report()
    parameters = {**report["scenario"], "fiscal_year": inputs.fiscal_year,
                  "potential_source": inputs.potential_source}
    solver = {k: report[k] for k in ("status", "objective", "bound", "total_deviation",
                                     "seconds")}
    metrics = {"gini_quota_to_potential": fairness.gini_quota_to_potential,
               "share_expected_to_reach_100": fairness.share_expected_to_reach_100,
               "capacity_gap": capacity.gap, "hires_needed": capacity.hires}
    allocation = result.allocation
    items = pd.DataFrame({
        "subject": allocation["rep_id"], "amount_cents": allocation["quota_cents"],
        "detail": [json.dumps({"q1": int(a), "q2": int(b), "q3": int(c), "q4": int(d)})
                   for a, b, c, d in zip(allocation["q1_cents"], allocation["q2_cents"],
                                         allocation["q3_cents"], allocation["q4_cents"],
                                         strict=True)]})
    content = ScenarioContent(kind="quota", name=name, parameters=parameters, solver=solver,
                              metrics=metrics, items=items, fiscal_year=inputs.fiscal_year)

    def store_result(cur, stamp: ScenarioStamp) -> None:
        repo.insert_scenario(cur, {**stamp.row(content, user.email),
                                   "fiscal_year": inputs.fiscal_year,
                                   "total_cents": result.total_cents}, allocation)

    return save_scenario_version(workspace, content, actor=user.email, actor_role=user.audit_role,
                                 parent_id=parent_id, store_result=store_result,
                                 audit_after={"total_cents": result.total_cents})


def saved_quota_scenarios(workspace: Workspace) -> pd.DataFrame:
    """Saved quota scenarios, newest first, JSON columns decoded."""
    rows = workspace.read(repo.scenarios)
    for column in ("parameters", "solver", "metrics"):
        rows[column] = rows[column].map(json.loads)
    return rows
