"""Quarter forecasts: the closed-won amount to date plus a Monte Carlo of open deals, for every
subject (the company, a team or a rep) at one level of a viewer's scope.

The forecast of a quarter for a subject is the closed-won amount to date plus the simulated
amount of open deals that close won inside the quarter (`forecast_simulation`), with the
subject's latest calls (`forecast_history`). P10/P50/P90 are quantiles of the simulated totals,
the P10-P90 range widened by the margin the newest accuracy backtest measured (see
`planning.pipeline.calibration`): the raw simulation is over-confident.

Beside it in `planning.pipeline`: submitting and overriding calls (`forecast_calls`), what
changed in the pipeline over a week (`forecast_changes`), levels and scope (`forecast_scope`).
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from planning.access.policy import readable_owner_ids
from planning.access.users import User
from planning.periods import FiscalQuarter, fiscal_quarter_of
from planning.pipeline.calibration import RangeCalibration, calibration_of, widen_range
from planning.pipeline.forecast_history import Call, subject_calls
from planning.pipeline.forecast_scope import COMPANY, NO_TEAM, Level, as_of_day, check_level
from planning.pipeline.forecast_simulation import (
    in_quarter_probability,
    shocked_totals,
    stage_fallback,
    win_rate_shock_sigma,
)
from planning.store import Workspace
from planning.store import forecasts as repo
from planning.store.forecast_accuracy import latest_backtest, quarterly_win_rates
from planning.store.kpis import fiscal_year_start_month

FALLBACK_DAYS = 365
"""Stage win rates for unscored deals come from deals closed in this many days up to today."""
DEFAULT_DRAWS = 10_000
DEFAULT_SEED = 7
SHOCK_QUARTERS = 8
"""Past quarters whose win rates measure the shock's spread."""


@dataclass(frozen=True)
class SubjectForecast:
    """The quarter's forecast for one company, team or rep, with the latest calls.

    `rep_call` is, for a rep, their own latest call; for a team or the company, the sum of the
    latest own calls of the reps in it. `manager_call` is, for a rep, the latest override of
    their call; for a team or the company, the latest call submitted for it (by its manager or
    the sales leader) or the latest override of such a call, whichever is newer.
    """

    level: Level
    subject_id: str
    name: str
    closed_won_cents: int
    closed_won_deals: int
    pipeline_cents: int
    """Open deals due in the quarter (close date inside it, or passed while it runs)."""
    pipeline_deals: int
    expected_open_cents: int
    """Σ amount × probability of closing won in the quarter, over open deals."""
    p10_cents: int
    p50_cents: int
    p90_cents: int
    mean_cents: int
    rep_call: Call | None
    manager_call: Call | None


@dataclass(frozen=True)
class QuarterForecast:
    """Forecasts of every subject at one level within a viewer's scope."""

    quarter: FiscalQuarter
    level: Level
    today: dt.date
    draws: int
    seed: int
    model_id: str | None
    scored_deals: int
    fallback_deals: int
    simulated_deals: int
    seconds: float
    """Time spent simulating."""
    subjects: tuple[SubjectForecast, ...]
    calibration: RangeCalibration = RangeCalibration(margin=0.0, forecasts=0, quarters=0,
                                                     run_id=None)
    """How the P10-P90 ranges were widened (margin 0 when no backtest has run)."""
    shock_sigma: float = 0.0
    """Spread (logit scale) of the shared win-rate shock the draws include."""
    unpriced_due_deals: int = 0
    """Open deals due in the quarter without an amount: they add nothing to any range."""

    def subject(self, subject_id: str) -> SubjectForecast:
        """The forecast of one subject; KeyError when it is not in this forecast."""
        for item in self.subjects:
            if item.subject_id == subject_id:
                return item
        raise KeyError(subject_id)


def forecast_quarters(
    workspace: Workspace, today: dt.date | None = None
) -> tuple[FiscalQuarter, FiscalQuarter]:
    """The current and the next fiscal quarter, by the workspace's fiscal calendar."""
    start_month = workspace.read(fiscal_year_start_month)
    current = fiscal_quarter_of(today or as_of_day(workspace), start_month)
    return current, current.next()


@dataclass
class _Inputs:
    deals: pd.DataFrame
    won: pd.DataFrame
    reps: pd.DataFrame
    snapshots: pd.DataFrame
    model_id: str | None
    rates: pd.DataFrame | None
    closed: tuple[int, int]
    backtest: pd.DataFrame
    """The newest accuracy backtest, whose margin widens the ranges."""
    win_rates: list[tuple[int, int]]
    """(won, closed) of the past SHOCK_QUARTERS quarters, for the shared shock."""


def _read_inputs(
    workspace: Workspace, owners: frozenset[str] | None, quarter: FiscalQuarter,
    today: dt.date,
) -> _Inputs:
    scope = None if owners is None else sorted(owners)
    moment = dt.datetime.combine(today + dt.timedelta(days=1), dt.time())
    first = moment - dt.timedelta(days=FALLBACK_DAYS)

    def read(cur) -> _Inputs:
        deals = repo.open_deals(cur, scope)
        if quarter.start <= today:
            won = repo.won_by_owner(cur, quarter.start, min(quarter.end, today), scope)
        else:
            won = pd.DataFrame({"owner_id": [], "cents": [], "deals": []})
        unscored = bool(deals["win_probability"].isna().any())
        return _Inputs(
            deals=deals, won=won, reps=repo.reps(cur, scope),
            snapshots=repo.quarter_snapshots(cur, quarter.start, quarter.end),
            model_id=repo.active_win_model(cur),
            rates=repo.stage_win_rates(cur, first, moment) if unscored else None,
            closed=repo.closed_totals(cur, first, moment) if unscored else (0, 0),
            backtest=latest_backtest(cur),
            win_rates=quarterly_win_rates(cur, [(q.start, q.end) for q in (
                quarter.shifted(-i) for i in range(SHOCK_QUARTERS, 0, -1))], moment),
        )

    return workspace.read_snapshot(read)


def _subject_of(reps: pd.DataFrame, level: Level) -> tuple[dict[str, str], dict[str, str]]:
    """Owner id -> subject id at a level, and subject id -> display name."""
    if level == "company":
        return {rep: COMPANY for rep in reps["rep_id"]}, {COMPANY: "Company"}
    if level == "team":
        teams = reps["team"].where(reps["team"].notna(), NO_TEAM).astype(str)
        mapping = dict(zip(reps["rep_id"], teams, strict=True))
        return mapping, {team: team for team in teams}
    names = reps["name"].where(reps["name"].notna(), reps["rep_id"]).astype(str)
    return ({rep: rep for rep in reps["rep_id"]},
            dict(zip(reps["rep_id"], names, strict=True)))


def _deal_probabilities(
    deals: pd.DataFrame, inputs: _Inputs, quarter: FiscalQuarter, today: dt.date
) -> tuple[np.ndarray, int]:
    win = deals["win_probability"].to_numpy(dtype=np.float64, na_value=np.nan, copy=True)
    missing = np.isnan(win)
    if missing.any():
        by_stage, overall = stage_fallback(inputs.rates, *inputs.closed)
        stages = deals["stage"].to_numpy()[missing]
        win[missing] = [by_stage.get(str(stage), overall) for stage in stages]
    slip = deals["slip_probability"].to_numpy(dtype=np.float64, na_value=np.nan)
    close = pd.to_datetime(deals["close_date"]).to_numpy().astype("datetime64[D]")
    return in_quarter_probability(win, slip, close, quarter, today), int(missing.sum())


def quarter_forecast(
    workspace: Workspace, viewer: User | None, quarter: FiscalQuarter, level: Level,
    draws: int = DEFAULT_DRAWS, seed: int = DEFAULT_SEED, today: dt.date | None = None,
) -> QuarterForecast:
    """The forecast of every subject at `level` within the viewer's scope for `quarter`.

    Closed-won counts won deals with a close date in the quarter up to `today` (the
    workspace's as-of day by default); the open deals are simulated `draws` times. Deals are
    simulated in opportunity-id order, so with one seed the team or rep totals of a draw add
    up to the company total.
    """
    today = today or as_of_day(workspace)
    level = check_level(viewer, level)
    owners = readable_owner_ids(viewer, workspace.name)
    inputs = _read_inputs(workspace, owners, quarter, today)
    owner_subject, names = _subject_of(inputs.reps, level)
    deals = inputs.deals
    for owner in set(deals["owner_id"]) | set(inputs.won["owner_id"]):
        if owner not in owner_subject:
            subject = COMPANY if level == "company" else (NO_TEAM if level == "team" else owner)
            owner_subject[owner] = subject
            names.setdefault(subject, subject)
    subject_ids = _subject_ids(inputs, owner_subject, level, viewer)
    if not subject_ids:
        return QuarterForecast(quarter=quarter, level=level, today=today, draws=draws,
                               seed=seed, model_id=None, scored_deals=0, fallback_deals=0,
                               simulated_deals=0, seconds=0.0, subjects=())
    index = {subject: i for i, subject in enumerate(subject_ids)}

    probability, fallback = _deal_probabilities(deals, inputs, quarter, today)
    amounts = deals["amount_cents"].to_numpy(dtype=np.int64)
    group = np.array([index[owner_subject[o]] for o in deals["owner_id"]], dtype=np.int64)
    started = time.perf_counter()
    keep = (probability > 0) & (amounts != 0)
    sigma = win_rate_shock_sigma(inputs.win_rates)
    totals = shocked_totals(amounts[keep], probability[keep], group[keep], len(subject_ids),
                            sigma, draws, seed)
    seconds = time.perf_counter() - started

    closed_cents = np.zeros(len(subject_ids), dtype=np.int64)
    closed_deals = np.zeros(len(subject_ids), dtype=np.int64)
    for row in inputs.won.itertuples():
        position = index[owner_subject[row.owner_id]]
        closed_cents[position] += int(row.cents)
        closed_deals[position] += int(row.deals)
    totals += closed_cents[:, None]
    quantiles = np.quantile(totals, [0.1, 0.5, 0.9], axis=1, method="inverted_cdf")
    calibration = calibration_of(inputs.backtest)
    quantiles[0], quantiles[2] = widen_range(quantiles[0], quantiles[2], closed_cents,
                                             calibration.margin)
    means = totals.mean(axis=1)
    due = _due_in_quarter(deals, quarter, today)
    pipeline_cents = np.bincount(group[due], weights=amounts[due], minlength=len(subject_ids))
    pipeline_deals = np.bincount(group[due], minlength=len(subject_ids))
    expected = np.bincount(group, weights=amounts * probability, minlength=len(subject_ids))
    calls = subject_calls(inputs.snapshots, inputs.reps, owner_subject, level, subject_ids)
    subjects = tuple(
        SubjectForecast(
            level=level, subject_id=subject, name=names.get(subject, subject),
            closed_won_cents=int(closed_cents[i]), closed_won_deals=int(closed_deals[i]),
            pipeline_cents=int(round(pipeline_cents[i])), pipeline_deals=int(pipeline_deals[i]),
            expected_open_cents=int(round(expected[i])),
            p10_cents=int(quantiles[0, i]), p50_cents=int(quantiles[1, i]),
            p90_cents=int(quantiles[2, i]), mean_cents=int(round(means[i])),
            rep_call=calls[subject][0], manager_call=calls[subject][1],
        )
        for i, subject in enumerate(subject_ids)
    )
    scored = deals["win_probability"].notna()
    return QuarterForecast(
        quarter=quarter, level=level, today=today, draws=draws, seed=seed,
        model_id=inputs.model_id if scored.any() else None, scored_deals=int(scored.sum()),
        fallback_deals=fallback, simulated_deals=int(keep.sum()), seconds=seconds,
        subjects=subjects, calibration=calibration, shock_sigma=sigma,
        unpriced_due_deals=int((due & (amounts == 0)).sum()),
    )


def _subject_ids(
    inputs: _Inputs, owner_subject: dict[str, str], level: Level, viewer: User | None
) -> list[str]:
    """Subjects with deals in the quarter, plus those of active reps in scope (so a rep with
    nothing open still sees their own line), company first, others by name."""
    if level == "company":
        return [COMPANY]
    wanted = {owner_subject[o] for o in inputs.deals["owner_id"]}
    wanted |= {owner_subject[o] for o in inputs.won["owner_id"]}
    sellers = inputs.reps[(inputs.reps["role"] == "rep") & inputs.reps["is_active"]]
    wanted |= {owner_subject[o] for o in sellers["rep_id"]}
    if viewer is not None and viewer.rep_id in owner_subject:
        wanted.add(owner_subject[viewer.rep_id])
    _, names = _subject_of(inputs.reps, level)
    return sorted(wanted, key=lambda s: (names.get(s, s).lower(), s))


def _due_in_quarter(deals: pd.DataFrame, quarter: FiscalQuarter, today: dt.date) -> np.ndarray:
    """True for open deals due inside the quarter (a passed close date means due today)."""
    if quarter.end < today:
        return np.zeros(len(deals), dtype=bool)
    close = pd.to_datetime(deals["close_date"]).to_numpy().astype("datetime64[D]")
    due = np.maximum(close, np.datetime64(today, "D"))
    return (due >= np.datetime64(quarter.start, "D")) & (due <= np.datetime64(quarter.end, "D"))


def forecast_data_version(workspace: Workspace) -> str:
    """A token that changes whenever deals, scores or calls change (for caching views)."""
    return repr(workspace.read(repo.data_version))
