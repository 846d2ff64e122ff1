"""Calibrated forecast ranges: how much wider a simulated P10-P90 range must be to hold 80 %.

A Monte Carlo over deal outcomes is over-confident on its own (the same model errors recur
across every deal of a quarter). The backtest measures how far actuals fell outside the raw
ranges of earlier quarters' forecasts; the conformal margin learnt there widens new ranges.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

TARGET_COVERAGE = 0.80
"""The share of actuals a P10-P90 range should hold."""
CALIBRATION_QUARTERS = 4
"""Earlier quarters whose forecasts calibrate a range (a rolling window)."""


def interval_margin(earlier: pd.DataFrame, coverage: float = TARGET_COVERAGE) -> float:
    """How far to widen a P10-P90 range, in range widths, so it holds `coverage` of actuals.

    The conformal score of an earlier forecast is how far its actual fell outside its raw
    range, divided by the range's width (negative when inside); the margin is the finite-sample
    corrected `coverage` quantile of those scores, floored at zero (ranges are never narrowed).
    Expects columns actual_cents, raw_p10_cents, raw_p90_cents; 0.0 with no rows.
    """
    if earlier.empty:
        return 0.0
    actual = earlier["actual_cents"].to_numpy(dtype=float)
    low = earlier["raw_p10_cents"].to_numpy(dtype=float)
    high = earlier["raw_p90_cents"].to_numpy(dtype=float)
    width = np.maximum(high - low, 1.0)
    scores = np.sort(np.maximum(low - actual, actual - high) / width)
    rank = min(int(np.ceil((len(scores) + 1) * coverage)), len(scores))
    return max(float(scores[rank - 1]), 0.0)


def widen_range(
    p10: np.ndarray, p90: np.ndarray, floor: np.ndarray, margin: float
) -> tuple[np.ndarray, np.ndarray]:
    """P10 and P90 moved apart by `margin` range widths; P10 never below `floor` (booked)."""
    p10 = np.asarray(p10, dtype=float)
    p90 = np.asarray(p90, dtype=float)
    width = p90 - p10
    low = np.maximum(np.round(p10 - margin * width), np.asarray(floor, dtype=float))
    return low.astype(np.int64), np.round(p90 + margin * width).astype(np.int64)


@dataclass(frozen=True)
class RangeCalibration:
    """The margin applied to live forecast ranges and where it came from."""

    margin: float
    """Widening on each side, in raw range widths."""
    forecasts: int
    """Backtest forecasts it was learnt from (0: no backtest, ranges are the raw simulation)."""
    quarters: int
    run_id: str | None


def calibration_of(rows: pd.DataFrame) -> RangeCalibration:
    """The margin from a backtest's (rows of `latest_backtest`) last CALIBRATION_QUARTERS
    quarters."""
    if rows.empty or rows[["raw_p10_cents", "raw_p90_cents"]].isna().any(axis=None):
        return RangeCalibration(margin=0.0, forecasts=0, quarters=0, run_id=None)
    recent = sorted(rows["quarter_start"].unique())[-CALIBRATION_QUARTERS:]
    used = rows[rows["quarter_start"].isin(recent)]
    return RangeCalibration(margin=interval_margin(used), forecasts=len(used),
                            quarters=len(recent), run_id=str(rows["run_id"].iat[0]))
