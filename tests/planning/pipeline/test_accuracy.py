"""The forecast backtest: weekly point-in-time forecasts of closed quarters, and their scoring."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from planning.periods import fiscal_quarter_of
from planning.pipeline.accuracy import (
    backtest_forecasts,
    calibrate_backtest,
    latest_backtest,
    summarise,
    win_rate_shock_sigma,
)
from planning.pipeline.calibration import interval_margin, widen_range
from planning.store import Workspace
from tests.conftest import DEMO_AS_OF


def test_summary_counts_errors_and_coverage_exactly() -> None:
    rows = pd.DataFrame({
        "quarter_start": [dt.date(2026, 1, 1)] * 2 + [dt.date(2026, 4, 1)] * 2,
        "actual_cents": [100, 100, 200, 200],
        "p10_cents": [90, 101, 150, 100],
        "p50_cents": [105, 120, 200, 150],
        "p90_cents": [110, 130, 250, 180],
        "rep_call_cents": [80, 100, 190, 100],
    })
    summary = summarise(rows)
    assert summary.quarters == 2 and summary.forecasts == 4
    assert summary.model_mean_abs_error == pytest.approx((0.05 + 0.2 + 0 + 0.25) / 4)
    assert summary.rep_mean_abs_error == pytest.approx((0.2 + 0 + 0.05 + 0.5) / 4)
    assert summary.model_within_share == pytest.approx(2 / 4)
    assert summary.rep_within_share == pytest.approx(2 / 4)
    assert summary.interval_coverage == pytest.approx(2 / 4)


def test_shock_is_zero_for_binomial_noise_and_grows_with_real_swings() -> None:
    steady = [(400, 1000)] * 8
    assert win_rate_shock_sigma(steady) == 0.0
    swinging = [(300, 1000), (500, 1000)] * 4
    assert win_rate_shock_sigma(swinging) > 0.3
    assert win_rate_shock_sigma([(3, 10)] * 8) == 0.0


def test_backtest_forecasts_each_week_from_what_was_known(demo_copy: Workspace) -> None:
    rows, summary = backtest_forecasts(demo_copy, quarters=2, as_of=DEMO_AS_OF, draws=400,
                                       per_deal=2, max_deals=1_500, actor="tester")
    last_closed = fiscal_quarter_of(DEMO_AS_OF).previous()
    assert list(rows["quarter_label"].unique()) == [last_closed.previous().label,
                                                    last_closed.label]
    for label, quarter in rows.groupby("quarter_label"):
        first, last = quarter["quarter_start"].iat[0], quarter["quarter_end"].iat[0]
        assert quarter["week_of"].min() == first
        assert (quarter["week_of"] <= last).all()
        assert quarter["week_of"].diff().dropna().eq(dt.timedelta(days=7)).all()
        actual = demo_copy.read(lambda cur, f=first, t=last: cur.execute(
            "SELECT sum(amount_cents) FROM opportunities WHERE status = 'won' "
            "AND close_date BETWEEN ? AND ?", [f, t]).fetchone()[0])
        assert (quarter["actual_cents"] == actual).all(), label
        assert quarter["closed_won_cents"].is_monotonic_increasing
        assert quarter["closed_won_cents"].iat[0] == 0
    assert (rows["p10_cents"] <= rows["p50_cents"]).all()
    assert (rows["p50_cents"] <= rows["p90_cents"]).all()
    assert (rows["p10_cents"] >= rows["closed_won_cents"]).all()
    assert (rows["rep_call_cents"] >= rows["closed_won_cents"]).all()
    assert summary == summarise(rows)

    stored, stored_summary = latest_backtest(demo_copy)
    assert len(stored) == len(rows) and stored_summary == summary
    actions = demo_copy.read(lambda cur: cur.execute(
        "SELECT actor FROM audit_events WHERE action = 'forecast.backtest'").fetchall())
    assert actions == [("tester",)]


def _raw_rows(label: str, actual: int, ranges: list[tuple[int, int]]) -> pd.DataFrame:
    return pd.DataFrame({
        "quarter_label": label, "actual_cents": actual, "closed_won_cents": 0,
        "raw_p10_cents": [low for low, _ in ranges], "p50_cents": [
            (low + high) // 2 for low, high in ranges],
        "raw_p90_cents": [high for _, high in ranges],
    })


def test_margin_is_the_corrected_quantile_of_width_scaled_misses() -> None:
    # Actual 100: missed by 10 below a range 10 wide, by 5 above a range 15 wide, and inside
    # two ranges by 5 (width 10) and 10 (width 20).
    rows = _raw_rows("Q", 100, [(110, 120), (80, 95), (95, 105), (90, 110)])
    # Scores 1.0, 1/3, -0.5, -0.5; the ceil((n + 1) * coverage)-th smallest is the margin.
    assert interval_margin(rows) == pytest.approx(1.0)
    assert interval_margin(rows, coverage=0.5) == pytest.approx(1 / 3)
    assert interval_margin(rows, coverage=0.3) == 0.0
    assert interval_margin(rows.iloc[0:0]) == 0.0
    low, high = widen_range(np.array([110]), np.array([120]), np.array([112]), 1.0)
    assert (low[0], high[0]) == (112, 130)


def test_a_quarter_is_calibrated_only_on_earlier_quarters() -> None:
    first = _raw_rows("Q1", 100, [(110, 120)] * 3)
    second = _raw_rows("Q2", 100, [(95, 105)] * 3)
    third = _raw_rows("Q3", 100, [(90, 110)] * 3)
    calibrated = calibrate_backtest(pd.concat([first, second, third]), ["Q2", "Q3"])
    assert list(calibrated["quarter_label"].unique()) == ["Q2", "Q3"]
    q2 = calibrated[calibrated["quarter_label"] == "Q2"]
    assert q2["interval_margin"].tolist() == pytest.approx([1.0] * 3)
    assert (q2["calibration_forecasts"] == 3).all()
    assert (q2["p10_cents"] == 85).all() and (q2["p90_cents"] == 115).all()
    # Changing what a later quarter booked cannot change an earlier quarter's range.
    later = _raw_rows("Q3", 10_000, [(90, 110)] * 3)
    again = calibrate_backtest(pd.concat([first, second, later]), ["Q2", "Q3"])
    pd.testing.assert_frame_equal(again[again["quarter_label"] == "Q2"], q2)


def test_six_quarter_backtest_ranges_hold_the_actual_70_to_95_percent(
    demo_copy: Workspace,
) -> None:
    rows, summary = backtest_forecasts(demo_copy, quarters=6, as_of=DEMO_AS_OF)
    assert summary.quarters == 6
    assert 0.70 <= summary.interval_coverage <= 0.95, summary.to_text()
    assert summary.raw_interval_coverage is not None
    assert summary.interval_coverage >= summary.raw_interval_coverage
    assert (rows["p10_cents"] <= rows["raw_p10_cents"]).all()
    assert (rows["p90_cents"] >= rows["raw_p90_cents"]).all()
    assert summary.model_mean_abs_error < summary.rep_mean_abs_error
