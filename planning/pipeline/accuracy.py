"""Forecast accuracy: how the model's forecast and the reps' commit call did in past quarters.

For each of the last closed fiscal quarters, models are fitted on deals closed before the
quarter began (nothing later), and every week of the quarter the open deals are scored as
they stood that week. Closed-won to date plus a Monte Carlo over the open deals gives P10, P50
and P90 of the quarter's bookings; the reps' call that week is the CRM's commit roll-up
(closed won plus open deals in the Commit category due in the quarter). Both are compared
with the bookings the quarter actually closed.

The simulation alone is over-confident: the same deal-level model errors recur across a
quarter's weeks. Its P10-P90 range is therefore widened by a conformal margin (split conformal
quantile regression, scores normalised by the range's width) learnt only from the forecasts of
earlier quarters, so each quarter's range is calibrated on what was known before it began.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from planning import audit
from planning.asof import resolve_as_of
from planning.clock import now_utc
from planning.errors import RevPlanError
from planning.periods import FiscalQuarter, fiscal_quarter_of
from planning.pipeline import model as dm
from planning.pipeline.calibration import CALIBRATION_QUARTERS, interval_margin, widen_range
from planning.pipeline.forecast_simulation import (
    in_quarter_probability,
    shocked_totals,
    win_rate_shock_sigma,
)
from planning.pipeline.training import fit_models_as_of
from planning.progress import ProgressCallback, no_progress
from planning.store import Workspace
from planning.store import forecast_accuracy as repo
from planning.store import pipeline_features as pf
from planning.store.kpis import fiscal_year_start_month

WITHIN = 0.10
"""A forecast within ±10 % of the actual counts as accurate."""
LOOKBACK_QUARTERS = 4
RATE_QUARTERS = 8
WARMUP_QUARTERS = 2
"""Quarters backtested before the reported ones, only to calibrate the first of them."""


def calibrate_backtest(raw: pd.DataFrame, reported: list[str]) -> pd.DataFrame:
    """The rows of the `reported` quarters with ranges calibrated on earlier quarters only.

    `raw` holds every backtested quarter in order with the simulation's own P10/P90 in
    raw_p10_cents/raw_p90_cents; a quarter's margin comes from the forecasts of up to
    CALIBRATION_QUARTERS quarters before it (none before the first: no widening).
    """
    order = list(dict.fromkeys(raw["quarter_label"]))
    frames = []
    for position, label in enumerate(order):
        if label not in reported:
            continue
        earlier = raw[raw["quarter_label"].isin(
            order[max(position - CALIBRATION_QUARTERS, 0):position])]
        rows = raw[raw["quarter_label"] == label].copy()
        margin = interval_margin(earlier)
        rows["p10_cents"], rows["p90_cents"] = widen_range(
            rows["raw_p10_cents"], rows["raw_p90_cents"], rows["closed_won_cents"], margin)
        rows["interval_margin"] = margin
        rows["calibration_forecasts"] = len(earlier)
        frames.append(rows)
    return pd.concat(frames, ignore_index=True)


def simulate_quarter_total(
    amount_cents: np.ndarray, probability: np.ndarray, closed_cents: int,
    yet_to_create: list[int], shock_sigma: float, draws: int, seed: int,
) -> np.ndarray:
    """Simulated quarter bookings in cents, one value per draw: closed-won to date, open deals
    closing won under a shared win-rate shock (`shocked_totals`), plus bookings from deals not
    created yet, drawn from what the same point of recent quarters went on to book."""
    rng = np.random.default_rng(seed)
    simulated = shocked_totals(amount_cents, probability, np.zeros(len(probability), np.int64),
                               1, shock_sigma, draws, seed)[0] + closed_cents
    if yet_to_create:
        simulated = simulated + rng.choice(np.asarray(yet_to_create, dtype=np.int64),
                                           size=simulated.size)
    return simulated


@dataclass(frozen=True)
class AccuracySummary:
    """Headline accuracy over every weekly forecast of the backtest."""

    quarters: int
    forecasts: int
    model_mean_abs_error: float
    rep_mean_abs_error: float
    model_within_share: float
    rep_within_share: float
    interval_coverage: float
    """Share of weekly forecasts whose P10-P90 range contained the actual bookings."""
    raw_interval_coverage: float | None = None
    """The same for the simulation's own range before calibration (None when not known)."""

    def to_text(self) -> str:
        """A few lines for people."""
        return (
            f"{self.forecasts} weekly forecasts over {self.quarters} quarters: model P50 mean "
            f"absolute error {self.model_mean_abs_error:.1%} (within ±10%: "
            f"{self.model_within_share:.0%}), rep commit call {self.rep_mean_abs_error:.1%} "
            f"(within ±10%: {self.rep_within_share:.0%}); the actual fell inside P10-P90 in "
            f"{self.interval_coverage:.0%} of the forecasts"
            + (f" ({self.raw_interval_coverage:.0%} before calibration)."
               if self.raw_interval_coverage is not None else ".")
        )


def summarise(rows: pd.DataFrame) -> AccuracySummary:
    """Error, ±10 % share and interval coverage of backtest rows."""
    actual = rows["actual_cents"].astype(float)
    valid = actual > 0
    model_error = ((rows["p50_cents"] - actual) / actual)[valid]
    rep_error = ((rows["rep_call_cents"] - actual) / actual)[valid]
    covered = (rows["p10_cents"] <= actual) & (actual <= rows["p90_cents"])
    raw_coverage = None
    if {"raw_p10_cents", "raw_p90_cents"} <= set(rows.columns) and rows[
            ["raw_p10_cents", "raw_p90_cents"]].notna().all(axis=None):
        raw_coverage = float(((rows["raw_p10_cents"] <= actual)
                              & (actual <= rows["raw_p90_cents"])).mean())
    return AccuracySummary(
        quarters=int(rows["quarter_start"].nunique()),
        forecasts=int(len(rows)),
        model_mean_abs_error=float(model_error.abs().mean()),
        rep_mean_abs_error=float(rep_error.abs().mean()),
        model_within_share=float((model_error.abs() <= WITHIN).mean()),
        rep_within_share=float((rep_error.abs() <= WITHIN).mean()),
        interval_coverage=float(covered.mean()),
        raw_interval_coverage=raw_coverage,
    )


def backtest_quarter(
    workspace: Workspace, quarter: FiscalQuarter, *, draws: int, seed: int, per_deal: int,
    max_deals: int | None,
) -> pd.DataFrame:
    """Weekly forecasts of one closed quarter, each made with only what was known that week."""
    start = dt.datetime.combine(quarter.start, dt.time(12))
    fitted = fit_models_as_of(workspace, start, per_deal=per_deal, max_deals=max_deals,
                              seed=seed)
    win_model, slip_model, start_month = fitted.win, fitted.slip, fitted.start_month
    moments = []
    moment = start
    while moment.date() <= quarter.end:
        moments.append(moment)
        moment += dt.timedelta(days=7)

    past = [(q.start, q.end) for q in (quarter.shifted(-i) for i in
                                         range(RATE_QUARTERS, 0, -1))]

    def read(cur) -> tuple[pd.DataFrame, pd.DataFrame, list[list[int]], float]:
        snapshots = repo.open_at_moments(cur, moments)
        facts = pf.snapshot_features(cur, snapshots)
        won = repo.won_in_quarter(cur, quarter.start, quarter.end, moments)
        yet = [repo.created_and_won_after(cur, past[-LOOKBACK_QUARTERS:],
                                          (m - start).total_seconds() / 86400, start)
               for m in moments]
        sigma = win_rate_shock_sigma(repo.quarterly_win_rates(cur, past, start))
        return facts, won, yet, sigma

    facts, won, yet_to_create, sigma = workspace.read_snapshot(read)
    matrix = dm.model_matrix(facts, start_month) if len(facts) else pd.DataFrame()
    win = win_model.predict(matrix)
    slip = slip_model.predict(matrix) if slip_model is not None else np.zeros(len(facts))
    rows = []
    for index, moment in enumerate(moments):
        at = (facts["moment"] == moment).to_numpy() if len(facts) else np.zeros(0, bool)
        close_dates = pd.to_datetime(facts.loc[at, "close_date_at"]).to_numpy("datetime64[D]")
        probability = in_quarter_probability(win[at], slip[at], close_dates, quarter,
                                             moment.date())
        amounts = facts.loc[at, "amount_cents_at"].fillna(0).to_numpy(dtype=np.int64)
        closed = int(won.loc[won["moment"] == moment, "closed_won_cents"].iat[0])
        totals = simulate_quarter_total(amounts, probability, closed, yet_to_create[index],
                                        sigma, draws, seed + index)
        due = (close_dates >= np.datetime64(quarter.start)) & (
            close_dates <= np.datetime64(quarter.end))
        commit = (facts.loc[at, "forecast_category"] == "Commit").to_numpy() & due
        p10, p50, p90 = np.percentile(totals, [10, 50, 90])
        rows.append({
            "quarter_label": quarter.label, "quarter_start": quarter.start,
            "quarter_end": quarter.end, "week_of": moment.date(),
            "open_deals": int(at.sum()), "closed_won_cents": closed,
            "raw_p10_cents": int(round(p10)), "p50_cents": int(round(p50)),
            "raw_p90_cents": int(round(p90)),
            "rep_call_cents": closed + int(amounts[commit].sum()),
            "actual_cents": int(won["actual_cents"].iat[0]),
        })
    return pd.DataFrame(rows)


def backtest_forecasts(
    workspace: Workspace, *, quarters: int = 6, as_of: dt.date | None = None,
    draws: int = 2_000, seed: int = 7, per_deal: int = 3, max_deals: int | None = 20_000,
    warmup: int = WARMUP_QUARTERS, actor: str = "system", actor_role: str | None = None,
    progress: ProgressCallback = no_progress,
) -> tuple[pd.DataFrame, AccuracySummary]:
    """Backtest the last closed quarters before `as_of` (the workspace's as-of day by default).

    `warmup` earlier quarters are backtested too, only to calibrate the first reported
    quarters' ranges; quarters without enough earlier closed deals to train on are skipped.
    """
    started = time.perf_counter()
    as_of = as_of or resolve_as_of(workspace).day
    start_month = workspace.read(fiscal_year_start_month)
    last_closed = fiscal_quarter_of(as_of, start_month).previous()
    chosen = [last_closed.shifted(-i) for i in reversed(range(quarters + warmup))]
    reported = [quarter.label for quarter in chosen[warmup:]]
    frames = []
    skipped: RevPlanError | None = None
    for index, quarter in enumerate(chosen):
        step = "calibrating on" if quarter.label not in reported else "backtesting"
        progress(index / len(chosen), f"{step} {quarter.label}")
        try:
            frames.append(backtest_quarter(workspace, quarter, draws=draws, seed=seed,
                                           per_deal=per_deal, max_deals=max_deals))
        except RevPlanError as exc:
            skipped = exc
    raw = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if raw.empty or not raw["quarter_label"].isin(reported).any():
        reason = "" if skipped is None else f" For {reported[-1]}: {skipped}"
        raise RevPlanError("Not enough closed deals before any of the quarters to backtest."
                           + reason)
    rows = calibrate_backtest(raw, reported)
    computed_at = now_utc()
    rows.insert(0, "run_id", f"backtest-{computed_at:%Y%m%d-%H%M%S}")
    rows.insert(1, "computed_at", computed_at)
    rows.insert(2, "computed_by", actor)
    summary = summarise(rows)

    def store(cur) -> None:
        repo.insert_backtest(cur, rows)
        audit.record(cur, actor=actor, actor_role=actor_role, action="forecast.backtest",
                     entity="forecast_backtest", entity_id=str(rows["run_id"].iat[0]),
                     after={**summary.__dict__,
                            "seconds": round(time.perf_counter() - started, 1)})

    workspace.write(store)
    progress(1.0, "done")
    return rows, summary


def latest_backtest(workspace: Workspace) -> tuple[pd.DataFrame, AccuracySummary | None]:
    """The newest stored backtest and its summary (empty when none has run)."""
    rows = workspace.read(repo.latest_backtest)
    return rows, (summarise(rows) if len(rows) else None)
