"""Is a quota allocation fair and attainable? Ratios per rep, the spread of quota against
potential (Gini), expected attainment by simulation, and capacity against the target.

Attainment: a rep's expected bookings for the year are their trailing bookings scaled by how
much of the coming year they are productive relative to the past one (ramp), drawn
lognormally with the spread of reps' year-on-year bookings changes seen in history (the same
sigma for every rep, estimated from the book). Draws are independent across reps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

DRAWS = 10_000
MAX_CELLS = 4_000_000
"""Draws × reps simulated at most (about 32 MB), so 10,000 reps get 400 draws each."""
DEFAULT_SIGMA = 0.30
"""Spread (log scale) of a rep's annual bookings around expectation when history has too few
reps with two full years to estimate it."""


def gini(values: np.ndarray) -> float:
    """Gini coefficient of non-negative values (0: all equal; towards 1: concentrated)."""
    x = np.sort(np.asarray(values, dtype=float))
    if len(x) == 0 or x.sum() <= 0:
        return 0.0
    n = len(x)
    ranks = np.arange(1, n + 1)
    return float((2 * (ranks * x).sum()) / (n * x.sum()) - (n + 1) / n)


def bookings_sigma(previous: np.ndarray, latest: np.ndarray) -> float:
    """Spread of log(latest / previous) over reps with bookings in both years (≥ 5 reps)."""
    previous, latest = np.asarray(previous, float), np.asarray(latest, float)
    both = (previous > 0) & (latest > 0)
    if both.sum() < 5:
        return DEFAULT_SIGMA
    return float(np.std(np.log(latest[both] / previous[both]), ddof=1))


@dataclass(frozen=True)
class FairnessReport:
    """Per-rep ratios and attainment, and the headline figures."""

    reps: pd.DataFrame
    """rep_id, quota_to_potential, quota_to_history, coverage, expected_attainment,
    chance_of_100."""
    gini_quota_to_potential: float
    share_expected_to_reach_100: float
    """Mean over reps of the chance of reaching 100 % of quota."""
    median_attainment: float
    attainment_draws: np.ndarray
    """A sample of simulated attainments (all reps pooled), for the distribution chart."""
    sigma: float


def fairness_report(
    allocation: pd.DataFrame, inputs: pd.DataFrame, sigma: float, seed: int = 7,
    draws: int = DRAWS,
) -> FairnessReport:
    """Ratios and simulated attainment of an allocation (rep_id, quota_cents) given the quota
    inputs (rep_id, potential, history, pipeline, ramp, prior_ramp in dollars/shares)."""
    frame = allocation[["rep_id", "quota_cents"]].merge(inputs, on="rep_id", how="left")
    quota = frame["quota_cents"].to_numpy(dtype=float) / 100
    safe = np.where(quota > 0, quota, np.nan)
    potential = frame["potential"].to_numpy(dtype=float)
    history = frame["history"].to_numpy(dtype=float)
    pipeline = frame["pipeline"].to_numpy(dtype=float)
    ramp = frame["ramp"].to_numpy(dtype=float)
    prior = frame.get("prior_ramp", pd.Series(1.0, index=frame.index)).to_numpy(dtype=float)
    expected = history * ramp / np.maximum(prior, 0.1)
    draws = max(200, min(draws, MAX_CELLS // max(len(frame), 1)))
    rng = np.random.default_rng(seed)
    noise = rng.lognormal(-sigma ** 2 / 2, sigma, size=(draws, len(frame)))
    attainment = expected[None, :] * noise / safe[None, :]
    chance = np.nanmean(attainment >= 1.0, axis=0)
    ratio = np.where(potential > 0, quota / np.where(potential > 0, potential, 1), np.nan)
    reps = pd.DataFrame({
        "rep_id": frame["rep_id"],
        "quota_to_potential": ratio,
        "quota_to_history": np.where(history > 0, quota / np.where(history > 0, history, 1),
                                     np.nan),
        "coverage": pipeline / safe,
        "expected_attainment": expected / safe,
        "chance_of_100": chance,
    })
    sample = attainment[: max(1, 2_000 // max(len(frame), 1))].ravel()
    return FairnessReport(
        reps=reps, gini_quota_to_potential=gini(ratio[np.isfinite(ratio)]),
        share_expected_to_reach_100=float(np.nanmean(chance)),
        median_attainment=float(np.nanmedian(attainment)),
        attainment_draws=sample[np.isfinite(sample)], sigma=sigma)


@dataclass(frozen=True)
class CapacityCheck:
    """Can the team carry the target? Ramp-adjusted capacity against it, and the gap."""

    productivity: float
    """A typical rep's annual bookings (median over reps with their own record), dollars."""
    ramped_capacity: float
    """Σ ramp × each rep's productivity (own record, else typical), dollars."""
    target: float
    gap: float
    """target − capacity (positive: short), dollars."""
    hires: float
    """Hires needed to close the gap in their first year (each at `first_year_ramp`)."""
    first_year_ramp: float


def capacity_check(inputs: pd.DataFrame, target: float, first_year_ramp: float) -> CapacityCheck:
    """Reps × ramp-adjusted productivity against the target, the gap in dollars and hires.

    A rep's productivity is their own trailing bookings per productive year (bookings ÷ how
    ramped they were over that year) when they were at least half ramped and booked anything;
    the others, and every hire, count at the median of those (a typical rep): a book's big
    sellers are not averaged away, and nobody's first months set their pace.
    """
    prior = (inputs["prior_ramp"] if "prior_ramp" in inputs.columns
             else pd.Series(1.0, index=inputs.index)).to_numpy(dtype=float)
    history = inputs["history"].to_numpy(dtype=float)
    known = (prior >= 0.5) & (history > 0)
    own = np.where(known, history / np.maximum(prior, 0.5), np.nan)
    productivity = float(np.median(own[known])) if known.any() else float(np.median(history))
    per_rep = np.where(known, own, productivity)
    capacity = float((inputs["ramp"].to_numpy(dtype=float) * per_rep).sum())
    gap = target - capacity
    per_hire = productivity * max(first_year_ramp, 0.05)
    return CapacityCheck(productivity=productivity, ramped_capacity=capacity, target=target,
                         gap=gap, hires=max(gap, 0.0) / per_hire if per_hire > 0 else 0.0,
                         first_year_ramp=first_year_ramp)
