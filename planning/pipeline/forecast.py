"""Quarter forecasts: a Monte Carlo over deal outcomes and close timing, forecast calls and
their overrides (immutable snapshots), and what changed in the pipeline over a week.

The forecast of a quarter for a subject (the company, a team or a rep) is the closed-won amount
to date plus the simulated amount of open deals that close won inside the quarter. Each open
deal closes won in the quarter with a probability from its scores and close date (see
`in_quarter_probability`), all of them moved together by a win-rate shock whose spread is
measured on past quarters (see `shocked_totals`); deals without scores use the win rate of
their stage among closed deals (see `stage_fallback`). P10/P50/P90 are quantiles of the
simulated totals, the P10-P90 range widened by the margin the newest accuracy backtest
measured (see `planning.pipeline.calibration`): the raw simulation is over-confident.

Calls (commit and best case) are rows of `forecast_snapshots` that are only ever inserted: an
override is a new row pointing at the call it overrides, with the manager's reason, so every
number anyone submitted stays on record with the model's view at that moment.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from statistics import NormalDist
from typing import Literal, NamedTuple

import numpy as np
import pandas as pd

from auth.policy import AccessDeniedError, Action, readable_owner_ids, require
from auth.roles import Role
from auth.users import User, same_email
from planning import audit
from planning.asof import resolve_as_of
from planning.errors import RevPlanError
from planning.overview import format_money
from planning.periods import FiscalQuarter, fiscal_quarter_of
from planning.pipeline.calibration import RangeCalibration, calibration_of, widen_range
from planning.store import Workspace
from planning.store import forecasts as repo
from planning.store.forecast_accuracy import latest_backtest, quarterly_win_rates
from planning.store.kpis import fiscal_year_start_month

Level = Literal["company", "team", "rep"]
LEVELS: tuple[Level, ...] = ("company", "team", "rep")
COMPANY = "company"
"""The subject id of the company-level forecast and calls."""
NO_TEAM = "No team"
"""The team subject of deals whose owner has no team in the CRM data."""
PULL_IN = 0.05
"""Share of an open deal's win probability that closes inside a quarter even though the deal
is dated after it (a deal pulled in). A small, fixed allowance: the CRM history of the demo and
typical pipelines shows few deals closing a quarter or more before their date."""
FALLBACK_DAYS = 365
"""Stage win rates for unscored deals come from deals closed in this many days up to today."""
DEFAULT_DRAWS = 10_000
DEFAULT_SEED = 7
MAX_COMMENT = 2_000

SPARSE_BELOW = 0.05
"""Deals with probability below this (or above one minus it) are simulated by drawing the gaps
between their rare outcomes; the others draw one uniform number per deal and draw."""
DENSE_BLOCK_CELLS = 1 << 19
"""Deal × draw cells simulated at once for mid-range probabilities (about 4 MB of buffers)."""
SPARSE_BLOCK_EVENTS = 1 << 19
"""Outcome gaps drawn at once for rare outcomes (about 30 MB of buffers)."""
RARE_CHUNK_DEALS = 1 << 16
"""Deals with rare outcomes prepared at once (a few MB of per-deal arrays)."""
SHOCK_LEVELS = 20
"""Quantiles of the shared win-rate shock the draws are spread over."""
SHOCK_QUARTERS = 8
"""Past quarters whose win rates measure the shock's spread."""
EXACT_LIMIT = 2**62
"""Largest sum of absolute amounts (cents) accepted, so that no total can overflow int64."""


def win_rate_shock_sigma(counts: list[tuple[int, int]]) -> float:
    """Standard deviation of the quarter-to-quarter swing in win rate, on the logit scale.

    The spread of past quarters' win rates beyond what binomial noise explains: a shared
    factor that moves every deal of a quarter together, which independent draws would miss.
    """
    rates = [(won / closed, closed) for won, closed in counts if closed >= 20 and 0 < won < closed]
    if len(rates) < 3:
        return 0.0
    logits = np.array([np.log(r / (1 - r)) for r, _ in rates])
    noise = np.mean([1.0 / (n * r * (1 - r)) for r, n in rates])
    return float(np.sqrt(max(np.var(logits, ddof=1) - noise, 0.0)))


def shocked_totals(
    amount_cents: np.ndarray, probability: np.ndarray, group: np.ndarray, groups: int,
    shock_sigma: float, draws: int, seed: int,
) -> np.ndarray:
    """`monte_carlo_totals` with a shared win-rate shock: the draws are split over
    SHOCK_LEVELS quantiles of N(0, shock_sigma), and in each every deal's probability moves by
    that shock on the logit scale, so a good or bad quarter lifts or sinks every deal together
    (which independent draws miss). Groups still add up to the same company total per draw."""
    if shock_sigma <= 0:
        return monte_carlo_totals(amount_cents, probability, group, groups, draws, seed)
    per_level = max(draws // SHOCK_LEVELS, 1)
    quantiles = (np.arange(SHOCK_LEVELS) + 0.5) / SHOCK_LEVELS
    p = np.clip(np.asarray(probability, dtype=float), 0.0, 1.0)
    inner = (p > 0) & (p < 1)
    logit = np.log(p[inner] / (1 - p[inner]))
    levels = []
    for level, q in enumerate(quantiles):
        shifted = p.copy()
        shifted[inner] = 1 / (1 + np.exp(-(logit + shock_sigma * NormalDist().inv_cdf(float(q)))))
        levels.append(monte_carlo_totals(amount_cents, shifted, group, groups, per_level,
                                         seed * 1_000 + level))
    return np.concatenate(levels, axis=1)


def monte_carlo_totals(
    amount_cents: np.ndarray, probability: np.ndarray, group: np.ndarray, groups: int,
    draws: int, seed: int,
) -> np.ndarray:
    """Simulated totals in cents, a (groups × draws) int64 matrix.

    In every draw each deal independently closes with its probability and then adds its amount
    to its group's total. Deals are processed in blocks, so memory stays bounded (well under
    200 MB for a million deals and 10,000 draws, besides the result itself) whatever the count.

    A deal's random numbers depend only on the seed, the number of draws and the probabilities
    of the deals, never on the groups: the same deals grouped differently give per-draw totals
    that add up to the same company total. Sums are exact integer arithmetic; probabilities 0
    and 1 give constant totals, and every probability is honoured to within 2⁻³².
    """
    amounts, p, g = _checked_inputs(amount_cents, probability, group, groups, draws)
    totals = np.zeros((groups, draws), dtype=np.int64)
    rng = np.random.default_rng(seed)
    mostly_won = p >= 1.0 - SPARSE_BELOW
    base = np.zeros(groups, dtype=np.int64)
    np.add.at(base, g[mostly_won], amounts[mostly_won])
    totals += base[:, None]
    dense = np.flatnonzero((p >= SPARSE_BELOW) & ~mostly_won)
    _simulate_dense(totals, amounts, p, g, dense, rng)
    rare = np.flatnonzero(((p > 0.0) & (p < SPARSE_BELOW)) | (mostly_won & (p < 1.0)))
    _simulate_rare(totals, amounts, p, g, rare, rng)
    return totals


def _checked_inputs(
    amount_cents: np.ndarray, probability: np.ndarray, group: np.ndarray, groups: int,
    draws: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    amounts = np.asarray(amount_cents)
    p = np.asarray(probability, dtype=np.float64)
    g = np.asarray(group)
    if amounts.ndim != 1 or p.shape != amounts.shape or g.shape != amounts.shape:
        raise ValueError("amount_cents, probability and group must be 1-D arrays of one length.")
    if isinstance(groups, bool) or not isinstance(groups, int | np.integer) or groups < 1:
        raise ValueError(f"groups must be a positive integer, not {groups!r}.")
    if isinstance(draws, bool) or not isinstance(draws, int | np.integer) or draws < 1:
        raise ValueError(f"draws must be a positive integer, not {draws!r}.")
    if amounts.dtype.kind == "f":
        if not np.all(np.isfinite(amounts)) or np.any(amounts != np.round(amounts)):
            raise ValueError("amount_cents must hold whole cents.")
    elif amounts.dtype.kind not in "iu":
        raise ValueError(f"amount_cents must be integer cents, not {amounts.dtype}.")
    if amounts.size and float(np.abs(amounts.astype(np.float64)).sum()) >= EXACT_LIMIT:
        raise ValueError("The amounts add up to too many cents to total in 64-bit integers.")
    if not np.all((p >= 0.0) & (p <= 1.0)):
        raise ValueError("probability must lie between 0 and 1.")
    if g.dtype.kind not in "iu" or (g.size and (g.min() < 0 or g.max() >= groups)):
        raise ValueError(f"group must hold integers from 0 to {groups - 1}.")
    return amounts.astype(np.int64, copy=False), p, g.astype(np.int64, copy=False)


def _simulate_dense(
    totals: np.ndarray, amounts: np.ndarray, p: np.ndarray, g: np.ndarray, deals: np.ndarray,
    rng: np.random.Generator,
) -> None:
    """One 32-bit random number per deal and draw, a block of deals at a time; a deal closes
    in a draw when the number is below its probability × 2³²."""
    if not deals.size:
        return
    draws = totals.shape[1]
    rows = min(max(1, DENSE_BLOCK_CELLS // draws), deals.size)
    hits = np.empty((rows, draws), dtype=np.bool_)
    threshold = np.floor(p[deals] * 2.0**32).astype(np.uint32)
    for start in range(0, deals.size, rows):
        block = deals[start:start + rows]
        size = block.size
        cells = size * draws
        raw = rng.bit_generator.random_raw((cells + 1) // 2).view(np.uint32)[:cells]
        np.less(raw.reshape(size, draws), threshold[start:start + size, None], out=hits[:size])
        block_groups, block_amounts = g[block], amounts[block]
        won = hits[:size]
        if size > 1 and np.any(block_groups[1:] < block_groups[:-1]):
            order = np.argsort(block_groups, kind="stable")
            block_groups, block_amounts, won = block_groups[order], block_amounts[order], won[order]
        won = won.view(np.uint8)
        cuts = (np.flatnonzero(block_groups[1:] != block_groups[:-1]) + 1).tolist()
        for first, last in zip([0, *cuts], [*cuts, size], strict=True):
            totals[block_groups[first]] += np.einsum(
                "i,ij->j", block_amounts[first:last], won[first:last])


def _simulate_rare(
    totals: np.ndarray, amounts: np.ndarray, p: np.ndarray, g: np.ndarray, deals: np.ndarray,
    rng: np.random.Generator,
) -> None:
    """Deals whose outcome rarely happens (a win below SPARSE_BELOW, or a miss of a deal
    already counted as won): draw the geometric gaps between the draws where it happens."""
    draws = totals.shape[1]
    flat = totals.reshape(-1)
    for first in range(0, deals.size, RARE_CHUNK_DEALS):
        chunk = deals[first:first + RARE_CHUNK_DEALS]
        chance = p[chunk]
        wins = chance < 0.5
        rare_chance = np.where(wins, chance, 1.0 - chance)
        signed = np.where(wins, amounts[chunk], -amounts[chunk])
        row_offset = g[chunk] * draws
        log_stay = np.log1p(-rare_chance)
        expected = draws * rare_chance
        budget = np.ceil(expected + 4.0 * np.sqrt(expected) + 4.0)
        budget = np.minimum(budget, SPARSE_BLOCK_EVENTS).astype(np.int64)
        cumulative = np.cumsum(budget)
        start = 0
        while start < chunk.size:
            used = int(cumulative[start - 1]) if start else 0
            end = int(np.searchsorted(cumulative, used + SPARSE_BLOCK_EVENTS, side="right"))
            end = max(end, start + 1)
            _rare_block(flat, signed[start:end], row_offset[start:end], log_stay[start:end],
                        budget[start:end], draws, rng)
            start = end


def _rare_block(
    flat: np.ndarray, signed: np.ndarray, row_offset: np.ndarray, log_stay: np.ndarray,
    budget: np.ndarray, draws: int, rng: np.random.Generator,
) -> None:
    """Draw positions of each deal's outcomes (a Bernoulli process over the draws) and add the
    deal's signed amount at each; deals whose budget of gaps ends early draw again."""
    position = np.full(signed.size, -1.0)
    active = np.arange(signed.size)
    while active.size:
        counts = budget[active]
        ends = np.cumsum(counts)
        firsts = ends - counts
        gaps = np.log1p(-rng.random(int(ends[-1])))
        gaps /= np.repeat(log_stay[active], counts)
        np.floor(gaps, out=gaps)
        np.minimum(gaps, draws, out=gaps)
        gaps += 1.0
        sums = np.add.reduceat(gaps, firsts)
        shift = position[active].copy()
        shift[1:] -= position[active[:-1]] + sums[:-1]
        gaps[firsts] += shift
        np.cumsum(gaps, out=gaps)
        last = gaps[ends - 1]
        inside = gaps < draws
        cells = np.repeat(row_offset[active], counts)[inside]
        cells += gaps[inside].astype(np.int64)
        np.add.at(flat, cells, np.repeat(signed[active], counts)[inside])
        position[active] = last
        active = active[last < draws]


def in_quarter_probability(
    win: np.ndarray, slip: np.ndarray, close_date: np.ndarray, quarter: FiscalQuarter,
    today: dt.date,
) -> np.ndarray:
    """Probability that each open deal closes won inside `quarter`, seen on `today`.

    A deal is due on its close date, or today when that date has passed (past-dated deals count
    as closing now). Due inside the quarter: win × (1 − slip). Due in the quarter before it:
    win × slip (a slip lands in the next quarter). Due after it: win × PULL_IN. A quarter that
    has ended gets nothing from open deals. A missing slip probability counts as zero.
    """
    win = np.clip(np.nan_to_num(np.asarray(win, dtype=np.float64)), 0.0, 1.0)
    slip = np.clip(np.nan_to_num(np.asarray(slip, dtype=np.float64)), 0.0, 1.0)
    result = np.zeros(win.shape)
    if quarter.end < today:
        return result
    due = np.maximum(np.asarray(close_date, dtype="datetime64[D]"), np.datetime64(today, "D"))
    start, end = np.datetime64(quarter.start, "D"), np.datetime64(quarter.end, "D")
    before = np.datetime64(quarter.previous().start, "D")
    inside = (due >= start) & (due <= end)
    slipping_in = (due >= before) & (due < start)
    after = due > end
    result[inside] = win[inside] * (1.0 - slip[inside])
    result[slipping_in] = win[slipping_in] * slip[slipping_in]
    result[after] = win[after] * PULL_IN
    return result


def stage_fallback(rates: pd.DataFrame, won: int, closed: int) -> tuple[dict[str, float], float]:
    """Win rate per stage among recently closed deals that were in it (see FALLBACK_DAYS),
    and the overall win rate used for a stage none of them went through (0 when none closed).

    This is the classic stage-probability forecast, used for deals the risk model has not
    scored; it says nothing about timing, so those deals get no slip adjustment.
    """
    overall = won / closed if closed else 0.0
    by_stage = {
        str(row.stage): float(row.won) / float(row.closed)
        for row in rates.itertuples() if row.closed
    }
    return by_stage, overall


@dataclass(frozen=True)
class Call:
    """A forecast call: one snapshot row, or (snapshot_id None) the sum of several reps'
    latest calls."""

    commit_cents: int
    best_case_cents: int
    submitted_at: dt.datetime
    submitted_by: str
    snapshot_id: int | None = None
    submitted_role: str | None = None
    comment: str | None = None
    overrides_snapshot_id: int | None = None
    override_reason: str | None = None
    calls: int = 1
    """How many calls the figures add up (1 for a single snapshot)."""

    @property
    def is_override(self) -> bool:
        """True for a manager's override of an earlier call."""
        return self.overrides_snapshot_id is not None


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


@dataclass(frozen=True)
class CallTarget:
    """A level and subject someone may submit a call for."""

    level: Level
    subject_id: str
    name: str


@dataclass(frozen=True)
class SubjectCall:
    """A call together with the subject it is for."""

    target: CallTarget
    call: Call


class Tally(NamedTuple):
    """A number of deals and an amount in cents."""

    deals: int
    cents: int


@dataclass(frozen=True)
class DealChanges:
    """What happened to the deals in scope between two moments."""

    since: dt.datetime
    until: dt.datetime
    quarter: FiscalQuarter
    """The quarter that pushes and pull-ins refer to (the one containing `until`)."""
    created: Tally
    won: Tally
    lost: Tally
    pushed_out: Tally
    pulled_in: Tally
    increased: Tally
    """Deals whose amount went up, and by how much in total."""
    cut: Tally
    """Deals whose amount went down, and by how much in total (a positive number)."""
    advanced: int
    moved_back: int


def _as_of_day(workspace: Workspace) -> dt.date:
    """The workspace's as-of day, the default "today" of forecasts (see `planning.asof`)."""
    return resolve_as_of(workspace).day


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _as_utc_naive(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(dt.UTC).replace(tzinfo=None)


def forecast_levels(user: User | None) -> tuple[Level, ...]:
    """The levels a user may forecast at: the company and teams need a workspace-wide view,
    teams a manager's, and everyone with a scope may see reps."""
    if user is None or user.sees_everything:
        return LEVELS
    if Role.MANAGER in user.roles:
        return ("team", "rep")
    return ("rep",)


def natural_level(user: User | None) -> Level:
    """The level a user looks at first: the company for workspace-wide roles, the team for a
    manager, the rep's own book for a rep."""
    return forecast_levels(user)[0]


def forecast_quarters(
    workspace: Workspace, today: dt.date | None = None
) -> tuple[FiscalQuarter, FiscalQuarter]:
    """The current and the next fiscal quarter, by the workspace's fiscal calendar."""
    start_month = workspace.read(fiscal_year_start_month)
    current = fiscal_quarter_of(today or _as_of_day(workspace), start_month)
    return current, current.next()


def _check_level(user: User | None, level: str) -> Level:
    if level not in LEVELS:
        raise RevPlanError(f"Unknown forecast level {level!r}; use one of {', '.join(LEVELS)}.")
    if level not in forecast_levels(user):
        raise AccessDeniedError(
            f"The {level} forecast covers deals outside your scope; you may view: "
            f"{', '.join(forecast_levels(user))}."
        )
    return level  # type: ignore[return-value]


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
    today = today or _as_of_day(workspace)
    level = _check_level(viewer, level)
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
    calls = _subject_calls(inputs, owner_subject, level, subject_ids)
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


def _call_from(row: dict[str, object]) -> Call:
    def optional_int(value: object) -> int | None:
        return None if value is None or pd.isna(value) else int(value)

    def optional_text(value: object) -> str | None:
        return None if value is None or pd.isna(value) else str(value)

    return Call(
        commit_cents=int(row["commit_cents"]), best_case_cents=int(row["best_case_cents"]),
        submitted_at=pd.Timestamp(row["submitted_at"]).to_pydatetime(),
        submitted_by=str(row["submitted_by"]), snapshot_id=optional_int(row["snapshot_id"]),
        submitted_role=optional_text(row["submitted_role"]),
        comment=optional_text(row["comment"]),
        overrides_snapshot_id=optional_int(row["overrides_snapshot_id"]),
        override_reason=optional_text(row["override_reason"]),
    )


def _latest(rows: pd.DataFrame) -> dict[str, Call]:
    """The newest call per subject id (rows are oldest first)."""
    latest = rows.drop_duplicates("subject_id", keep="last")
    return {str(r["subject_id"]): _call_from(r) for r in latest.to_dict("records")}


def _subject_calls(
    inputs: _Inputs, owner_subject: dict[str, str], level: Level, subject_ids: list[str]
) -> dict[str, tuple[Call | None, Call | None]]:
    snapshots = inputs.snapshots
    own = snapshots["overrides_snapshot_id"].isna()
    rep_rows = snapshots[snapshots["level"] == "rep"]
    rep_own = _latest(rep_rows[own[rep_rows.index]])
    if level == "rep":
        overrides = _latest(rep_rows[~own[rep_rows.index]])
        return {s: (rep_own.get(s), overrides.get(s)) for s in subject_ids}
    scoped_reps = set(inputs.reps["rep_id"])
    rolled: dict[str, list[Call]] = {}
    for rep, call in rep_own.items():
        if rep in scoped_reps:
            rolled.setdefault(owner_subject[rep], []).append(call)
    upper = _latest(snapshots[snapshots["level"] == level])
    return {s: (_roll_up(rolled.get(s, [])), upper.get(s)) for s in subject_ids}


def _roll_up(calls: list[Call]) -> Call | None:
    if not calls:
        return None
    return Call(
        commit_cents=sum(c.commit_cents for c in calls),
        best_case_cents=sum(c.best_case_cents for c in calls),
        submitted_at=max(c.submitted_at for c in calls),
        submitted_by=f"{len(calls)} rep{'s' if len(calls) != 1 else ''}",
        calls=len(calls),
    )


def _managed_teams(workspace: Workspace, user: User) -> list[str]:
    """Teams of the people below a user in the reporting lines (all teams for a
    workspace-wide user)."""
    if user.sees_everything:
        return workspace.read(repo.team_names)
    below = sorted((user.deal_owner_ids or frozenset()) - {user.rep_id})
    if not below:
        return []
    people = workspace.read(lambda cur: repo.reps(cur, below))
    return sorted({str(t) for t in people["team"].dropna()})


def call_targets(workspace: Workspace, user: User, level: Level | None = None) -> list[CallTarget]:
    """Where a user may submit a call: a seller for their own book, a manager for their team,
    a sales leader for the company or any team. Optionally only at one level."""
    if user is None or not user.has_any({Role.SALES_LEADER, Role.MANAGER, Role.REP}):
        return []
    require(user, Action.OPEN_WORKSPACE, workspace.name)
    targets: list[CallTarget] = []
    if user.has_any({Role.SALES_LEADER}):
        targets.append(CallTarget("company", COMPANY, "Company"))
    if user.has_any({Role.SALES_LEADER, Role.MANAGER}):
        targets += [CallTarget("team", team, team) for team in _managed_teams(workspace, user)]
    if user.rep_id is not None:
        me = workspace.read(lambda cur: repo.reps(cur, [user.rep_id]))
        name = str(me["name"].iat[0]) if len(me) and pd.notna(me["name"].iat[0]) else user.name
        targets.append(CallTarget("rep", user.rep_id, name))
    return [t for t in targets if level is None or t.level == level]


def _checked_money(commit_cents: int, best_case_cents: int) -> tuple[int, int]:
    for label, value in (("Commit", commit_cents), ("Best case", best_case_cents)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer):
            raise RevPlanError(f"{label} must be a whole number of cents, not {value!r}.")
        if value < 0:
            raise RevPlanError(f"{label} cannot be negative.")
    if best_case_cents < commit_cents:
        raise RevPlanError(
            f"Best case ({format_money(best_case_cents, compact=False)}) must be at least the "
            f"commit ({format_money(commit_cents, compact=False)})."
        )
    return int(commit_cents), int(best_case_cents)


def _check_open_quarter(quarter: FiscalQuarter, today: dt.date) -> None:
    if quarter.end < today:
        raise RevPlanError(
            f"{quarter.label} ended on {quarter.end:%d %b %Y}; calls are for the current "
            "quarter or a later one."
        )


def _role_name(user: User) -> str | None:
    role = user.primary_role
    return None if role is None else role.value


def _snapshot_row(
    user: User, quarter: FiscalQuarter, level: Level, subject: SubjectForecast,
    forecast: QuarterForecast, commit: int, best: int,
) -> dict[str, object]:
    return {
        "submitted_at": _now(), "submitted_by": user.email, "submitted_role": _role_name(user),
        "quarter_label": quarter.label, "quarter_start": quarter.start,
        "quarter_end": quarter.end, "level": level, "subject_id": subject.subject_id,
        "commit_cents": commit, "best_case_cents": best,
        "closed_won_cents": subject.closed_won_cents, "model_p10_cents": subject.p10_cents,
        "model_p50_cents": subject.p50_cents, "model_p90_cents": subject.p90_cents,
        "model_id": forecast.model_id,
    }


def _audit_view(row: dict[str, object]) -> dict[str, object]:
    keys = ("quarter_label", "level", "subject_id", "commit_cents", "best_case_cents",
            "closed_won_cents", "model_p10_cents", "model_p50_cents", "model_p90_cents",
            "model_id", "comment", "overrides_snapshot_id")
    return {k: row.get(k) for k in keys}


def submit_call(
    workspace: Workspace, user: User, quarter: FiscalQuarter, level: Level, subject_id: str,
    commit_cents: int, best_case_cents: int, comment: str | None = None, *,
    today: dt.date | None = None, draws: int = DEFAULT_DRAWS, seed: int = DEFAULT_SEED,
) -> int:
    """Record a call (commit and best case) for a subject and quarter; returns its snapshot id.

    A rep calls for themselves, a manager for themselves or their team, a sales leader for the
    company or a team. The row keeps the model's P10/P50/P90 and the closed-won amount of that
    moment, and an audit event is written in the same transaction.
    """
    require(user, Action.SUBMIT_CALL)
    today = today or _as_of_day(workspace)
    _check_open_quarter(quarter, today)
    commit, best = _checked_money(commit_cents, best_case_cents)
    allowed = {(t.level, t.subject_id) for t in call_targets(workspace, user)}
    if (level, subject_id) not in allowed:
        raise AccessDeniedError(
            f"You may not submit a {level} call for {subject_id!r}: reps call for themselves, "
            "managers for themselves or their team, sales leaders for the company or a team."
        )
    text = (comment or "").strip() or None
    if text is not None and len(text) > MAX_COMMENT:
        raise RevPlanError(f"The comment is longer than {MAX_COMMENT:,} characters.")
    forecast = quarter_forecast(workspace, user, quarter, level, draws, seed, today)
    subject = _find_subject(forecast, subject_id)
    row = _snapshot_row(user, quarter, level, subject, forecast, commit, best) | {"comment": text}

    def store(cur) -> int:
        new_id = repo.insert_snapshot(cur, row)
        audit.record(cur, actor=user.email, actor_role=_role_name(user),
                     action="forecast.submit_call", entity="forecast_snapshot",
                     entity_id=str(new_id), after=_audit_view(row))
        return new_id

    return workspace.write(store)


def _find_subject(forecast: QuarterForecast, subject_id: str) -> SubjectForecast:
    """The subject's forecast; a permitted subject without reps or deals forecasts zero."""
    try:
        return forecast.subject(subject_id)
    except KeyError:
        return SubjectForecast(
            level=forecast.level, subject_id=subject_id, name=subject_id, closed_won_cents=0,
            closed_won_deals=0, pipeline_cents=0, pipeline_deals=0, expected_open_cents=0,
            p10_cents=0, p50_cents=0, p90_cents=0, mean_cents=0, rep_call=None,
            manager_call=None,
        )


def _may_override(user: User, original: dict[str, object], teams: list[str]) -> bool:
    """True when the call's subject lies in the user's scope (`teams`: the teams they lead)
    and the call is not their own."""
    if same_email(str(original["submitted_by"]), user.email):
        return False
    level, subject = str(original["level"]), str(original["subject_id"])
    if level not in forecast_levels(user):
        return False
    if level == "rep":
        return user.sees_everything or subject in (user.deal_owner_ids or frozenset())
    if level == "team":
        return subject in teams
    return user.sees_everything


def override_call(
    workspace: Workspace, manager: User, snapshot_id: int, commit_cents: int,
    best_case_cents: int, reason: str, *, today: dt.date | None = None,
    draws: int = DEFAULT_DRAWS, seed: int = DEFAULT_SEED,
) -> int:
    """Override someone's call with the manager's numbers and reason; returns the new id.

    The original row stays as it was: the override is a new row pointing at it, with the
    model's view at this moment, and an audit event in the same transaction.
    """
    require(manager, Action.OVERRIDE_CALL)
    today = today or _as_of_day(workspace)
    reason_text = (reason or "").strip()
    if not reason_text:
        raise RevPlanError("Say why you override the call: a reason is required.")
    if len(reason_text) > MAX_COMMENT:
        raise RevPlanError(f"The reason is longer than {MAX_COMMENT:,} characters.")
    commit, best = _checked_money(commit_cents, best_case_cents)
    original = workspace.read(lambda cur: repo.snapshot(cur, int(snapshot_id)))
    if original is None:
        raise RevPlanError(f"There is no forecast call #{snapshot_id}.")
    if not _may_override(manager, original, _managed_teams(workspace, manager)):
        raise AccessDeniedError(
            f"Call #{snapshot_id} is outside what you may override: only calls of people or "
            "teams in your scope, and never your own."
        )
    quarter = fiscal_quarter_of(original["quarter_start"],
                                workspace.read(fiscal_year_start_month))
    _check_open_quarter(quarter, today)
    level = _check_level(manager, str(original["level"]))
    forecast = quarter_forecast(workspace, manager, quarter, level, draws, seed, today)
    subject = _find_subject(forecast, str(original["subject_id"]))
    row = _snapshot_row(manager, quarter, level, subject, forecast, commit, best) | {
        "overrides_snapshot_id": int(snapshot_id), "override_reason": reason_text,
    }

    def store(cur) -> int:
        new_id = repo.insert_snapshot(cur, row)
        audit.record(cur, actor=manager.email, actor_role=_role_name(manager),
                     action="forecast.override_call", entity="forecast_snapshot",
                     entity_id=str(new_id), before=_audit_view(original),
                     after=_audit_view(row), reason=reason_text)
        return new_id

    return workspace.write(store)


def overridable_calls(
    workspace: Workspace, user: User, quarter: FiscalQuarter
) -> list[SubjectCall]:
    """The latest own call of each subject the user may override in a quarter, newest first."""
    if user is None or not user.has_any({Role.SALES_LEADER, Role.MANAGER}):
        return []
    history = forecast_history(workspace, user, quarter)
    own = history[~history["is_override"]].drop_duplicates(["level", "subject_id"], keep="last")
    teams = _managed_teams(workspace, user)
    result = []
    for row in own.iloc[::-1].to_dict("records"):
        if _may_override(user, row, teams):
            target = CallTarget(row["level"], str(row["subject_id"]), str(row["subject_name"]))
            result.append(SubjectCall(target, _call_from(row)))
    return result


def forecast_history(workspace: Workspace, viewer: User | None, quarter: FiscalQuarter
                     ) -> pd.DataFrame:
    """Every call for a quarter the viewer may see, oldest first, with subject names and an
    `is_override` flag: rep calls of reps in scope, team and company calls at levels the viewer
    may forecast."""
    owners = readable_owner_ids(viewer, workspace.name)
    levels = forecast_levels(viewer)

    def read(cur) -> tuple[pd.DataFrame, pd.DataFrame]:
        return (repo.quarter_snapshots(cur, quarter.start, quarter.end),
                repo.reps(cur, None if owners is None else sorted(owners)))

    calls, people = workspace.read_snapshot(read)
    names = dict(zip(people["rep_id"], people["name"], strict=True))
    teams = {str(t) for t in people["team"].dropna()} | (
        {NO_TEAM} if people["team"].isna().any() else set())
    subject, level = calls["subject_id"], calls["level"]
    everything = owners is None
    visible = (
        ((level == "rep") & (everything | subject.isin(set(people["rep_id"]))))
        | ((level == "team") & ("team" in levels) & (everything | subject.isin(teams)))
        | ((level == "company") & ("company" in levels))
    )
    calls = calls[visible].reset_index(drop=True)
    calls["subject_name"] = [
        "Company" if lv == "company" else (names.get(s) or s) if lv == "rep" else s
        for lv, s in zip(calls["level"], calls["subject_id"], strict=True)
    ]
    calls["is_override"] = calls["overrides_snapshot_id"].notna()
    return calls


def deal_changes(
    workspace: Workspace, viewer: User | None, since: dt.datetime, until: dt.datetime
) -> DealChanges:
    """Counts and amounts of what happened to deals in scope in [since, until): created, won,
    lost, pushed out of or pulled into the quarter containing `until`, amount raised or cut,
    stage advanced or moved back.

    Moves compare a deal's value before its first change in the window with the value after
    its last one, for deals still open at `until`; amounts of created, pushed and pulled deals
    are their current amounts.
    """
    since, until = _as_utc_naive(since), _as_utc_naive(until)
    if until <= since:
        raise RevPlanError("The end of the period must come after its start.")
    owners = readable_owner_ids(viewer, workspace.name)
    scope = None if owners is None else sorted(owners)

    def read(cur):
        return (
            fiscal_year_start_month(cur), repo.created_deals(cur, since, until, scope),
            repo.closed_deals(cur, since, until, scope),
            repo.field_moves(cur, "close_date", since, until, scope),
            repo.field_moves(cur, "amount", since, until, scope),
            repo.field_moves(cur, "stage", since, until, scope), repo.stage_ranks(cur),
        )

    start_month, created, closed, dates, amounts, stages, ranks = workspace.read_snapshot(read)
    quarter = fiscal_quarter_of(until.date(), start_month)
    old_date = pd.to_datetime(dates["old_value"], errors="coerce").dt.date
    new_date = pd.to_datetime(dates["new_value"], errors="coerce").dt.date
    known = old_date.notna() & new_date.notna()
    pushed = known & (old_date <= quarter.end) & (new_date > quarter.end)
    pulled = known & (old_date > quarter.end) & (new_date <= quarter.end)
    old_amount = pd.to_numeric(amounts["old_value"], errors="coerce")
    new_amount = pd.to_numeric(amounts["new_value"], errors="coerce")
    delta = (new_amount - old_amount).fillna(0)
    old_rank = stages["old_value"].map(ranks)
    new_rank = stages["new_value"].map(ranks)
    return DealChanges(
        since=since, until=until, quarter=quarter, created=Tally(*created),
        won=Tally(*closed["won"]), lost=Tally(*closed["lost"]),
        pushed_out=Tally(int(pushed.sum()), int(dates.loc[pushed, "amount_cents"].sum())),
        pulled_in=Tally(int(pulled.sum()), int(dates.loc[pulled, "amount_cents"].sum())),
        increased=Tally(int((delta > 0).sum()), int(delta[delta > 0].sum())),
        cut=Tally(int((delta < 0).sum()), int(-delta[delta < 0].sum())),
        advanced=int((new_rank > old_rank).sum()), moved_back=int((new_rank < old_rank).sum()),
    )


def _deals(count: int) -> str:
    return f"{count:,} deal{'' if count == 1 else 's'}"


def _verb(count: int) -> str:
    return "was" if count == 1 else "were"


def describe_changes(changes: DealChanges) -> list[str]:
    """The changes as short sentences (new, won, lost, pushed, pulled, amounts, stages);
    empty when nothing changed."""
    lines = []
    q = changes.quarter.label
    if changes.created.deals:
        lines.append(f"{changes.created.deals:,} new "
                     f"deal{'' if changes.created.deals == 1 else 's'} worth "
                     f"{format_money(changes.created.cents)} {_verb(changes.created.deals)} "
                     "created")
    if changes.won.deals:
        lines.append(f"{_deals(changes.won.deals)} worth {format_money(changes.won.cents)} "
                     f"{_verb(changes.won.deals)} won")
    if changes.lost.deals:
        lines.append(f"{_deals(changes.lost.deals)} ({format_money(changes.lost.cents)}) "
                     f"{_verb(changes.lost.deals)} lost")
    if changes.pushed_out.deals:
        lines.append(f"{_deals(changes.pushed_out.deals)} "
                     f"({format_money(changes.pushed_out.cents)}) pushed out of {q}")
    if changes.pulled_in.deals:
        lines.append(f"{_deals(changes.pulled_in.deals)} "
                     f"({format_money(changes.pulled_in.cents)}) pulled into {q}")
    if changes.increased.deals:
        lines.append(f"{_deals(changes.increased.deals)} grew by "
                     f"{format_money(changes.increased.cents)} in total")
    if changes.cut.deals:
        lines.append(f"{_deals(changes.cut.deals)} {_verb(changes.cut.deals)} cut by "
                     f"{format_money(changes.cut.cents)} in total")
    if changes.advanced:
        lines.append(f"{_deals(changes.advanced)} advanced to a later stage")
    if changes.moved_back:
        lines.append(f"{_deals(changes.moved_back)} moved back to an earlier stage")
    return lines


def changes_since(
    workspace: Workspace, viewer: User | None, since: dt.datetime, until: dt.datetime
) -> list[str]:
    """What changed in the viewer's deals between two moments, in words, e.g. "3 deals worth
    $1.2M were won" and "2 deals ($450K) pushed out of FY2026 Q4"."""
    return describe_changes(deal_changes(workspace, viewer, since, until))


def forecast_data_version(workspace: Workspace) -> str:
    """A token that changes whenever deals, scores or calls change (for caching views)."""
    return repr(workspace.read(repo.data_version))
