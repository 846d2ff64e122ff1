"""The Monte Carlo behind quarter forecasts: deal outcomes drawn in bounded memory, a shared
win-rate shock, and each open deal's probability of closing won inside a quarter.

Each open deal closes won in the quarter with a probability from its scores and close date (see
`in_quarter_probability`), all of them moved together by a win-rate shock whose spread is
measured on past quarters (see `shocked_totals`); deals without scores use the win rate of
their stage among closed deals (see `stage_fallback`).
"""

from __future__ import annotations

import datetime as dt
from statistics import NormalDist

import numpy as np
import pandas as pd

from planning.periods import FiscalQuarter

PULL_IN = 0.05
"""Share of an open deal's win probability that closes inside a quarter even though the deal
is dated after it (a deal pulled in). A small, fixed allowance: the CRM history of the demo and
typical pipelines shows few deals closing a quarter or more before their date."""
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
    """Win rate per stage among recently closed deals that were in it (see
    `forecast.FALLBACK_DAYS`), and the overall win rate used for a stage none of them went
    through (0 when none closed).

    This is the classic stage-probability forecast, used for deals the risk model has not
    scored; it says nothing about timing, so those deals get no slip adjustment.
    """
    overall = won / closed if closed else 0.0
    by_stage = {
        str(row.stage): float(row.won) / float(row.closed)
        for row in rates.itertuples() if row.closed
    }
    return by_stage, overall
