"""Quota fairness: Gini, the bookings spread, simulated attainment and the capacity check,
against known values and hand calculations."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from planning.quota.fairness import (
    DEFAULT_SIGMA,
    MAX_CELLS,
    bookings_sigma,
    capacity_check,
    fairness_report,
    gini,
)


def normal_tail(x: float) -> float:
    """P(Z ≥ x) for a standard normal Z."""
    return 0.5 * math.erfc(x / math.sqrt(2))


# --- gini -----------------------------------------------------------------------------------

def test_gini_of_known_vectors() -> None:
    assert gini(np.full(7, 3.5)) == pytest.approx(0.0, abs=1e-12)
    assert gini(np.array([0.0, 0.0, 0.0, 1.0])) == pytest.approx(0.75)
    assert gini(np.array([1.0, 0.0, 0.0, 0.0])) == pytest.approx(0.75)  # order does not matter
    assert gini(np.array([1.0, 3.0])) == pytest.approx(0.25)  # |1-3| × 2 / (2 × 4 × 2)
    assert gini(np.array([])) == 0.0
    assert gini(np.zeros(5)) == 0.0


@pytest.mark.parametrize("seed", [0, 1])
def test_gini_matches_the_mean_absolute_difference(seed: int) -> None:
    x = np.random.default_rng(seed).lognormal(0, 1, 300)
    expected = np.abs(x[:, None] - x[None, :]).sum() / (2 * len(x) ** 2 * x.mean())
    assert gini(x) == pytest.approx(expected, rel=1e-9)


# --- bookings sigma -------------------------------------------------------------------------

@pytest.mark.parametrize("sigma", [0.15, 0.3, 0.6])
def test_bookings_sigma_recovers_a_known_spread(sigma: float) -> None:
    rng = np.random.default_rng(5)
    previous = rng.lognormal(12, 1.0, 2000)
    latest = previous * rng.lognormal(0.05, sigma, 2000)
    assert bookings_sigma(previous, latest) == pytest.approx(sigma, abs=0.02)


def test_bookings_sigma_ignores_reps_without_bookings_in_both_years() -> None:
    rng = np.random.default_rng(6)
    previous = rng.lognormal(12, 1.0, 2000)
    latest = previous * rng.lognormal(0.0, 0.3, 2000)
    # reps who booked nothing in one of the years would give infinite log ratios
    previous[:300] = 0.0
    latest[300:600] = 0.0
    both = slice(600, None)
    expected = float(np.std(np.log(latest[both] / previous[both]), ddof=1))
    assert bookings_sigma(previous, latest) == pytest.approx(expected, rel=1e-12)
    assert math.isfinite(bookings_sigma(previous, latest))


def test_bookings_sigma_falls_back_with_fewer_than_five_reps() -> None:
    previous = np.array([100.0, 200.0, 300.0, 400.0, 0.0, 600.0])
    latest = np.array([150.0, 100.0, 900.0, 200.0, 500.0, 0.0])
    assert bookings_sigma(previous, latest) == DEFAULT_SIGMA  # four reps in both years
    assert bookings_sigma(previous[:0], latest[:0]) == DEFAULT_SIGMA
    five = bookings_sigma(np.append(previous, 100.0), np.append(latest, 300.0))
    assert five != DEFAULT_SIGMA and five > 0


# --- fairness report ------------------------------------------------------------------------

def attainment_case(n: int, quota_factor: float, sigma: float = 0.3
                    ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """`n` fully ramped reps whose expected bookings are their history; quota = history ×
    `quota_factor`."""
    rng = np.random.default_rng(9)
    history = np.round(rng.uniform(200_000, 900_000, n), 2)
    ids = [f"r{i:05d}" for i in range(n)]
    inputs = pd.DataFrame({"rep_id": ids, "potential": history * 3, "history": history,
                           "pipeline": history / 2, "ramp": 1.0, "prior_ramp": 1.0})
    allocation = pd.DataFrame({"rep_id": ids,
                               "quota_cents": np.round(history * quota_factor * 100)})
    return allocation, inputs


def test_chance_of_100_is_one_half_when_quota_is_the_median_outcome() -> None:
    sigma = 0.3
    allocation, inputs = attainment_case(40, math.exp(-sigma ** 2 / 2))
    report = fairness_report(allocation, inputs, sigma)
    assert report.reps["chance_of_100"].to_numpy() == pytest.approx(np.full(40, 0.5), abs=0.03)
    assert report.share_expected_to_reach_100 == pytest.approx(0.5, abs=0.01)
    assert report.median_attainment == pytest.approx(1.0, abs=0.01)
    assert report.sigma == sigma


def test_chance_of_100_when_expected_bookings_equal_quota() -> None:
    """The draws have mean 1 (lognormal with μ = −σ²/2), so expected bookings equal to quota
    reach it with probability P(Z ≥ σ/2) = 0.440 for σ = 0.3, not one half."""
    sigma = 0.3
    allocation, inputs = attainment_case(40, 1.0)
    report = fairness_report(allocation, inputs, sigma)
    assert report.reps["expected_attainment"].to_numpy() == pytest.approx(1.0, abs=1e-6)
    expected = normal_tail(sigma / 2)
    assert expected == pytest.approx(0.4404, abs=1e-4)
    assert report.reps["chance_of_100"].to_numpy() == pytest.approx(np.full(40, expected),
                                                                    abs=0.03)
    assert report.share_expected_to_reach_100 == pytest.approx(expected, abs=0.01)
    # the simulated attainments average to the expected attainment
    assert report.attainment_draws.mean() == pytest.approx(1.0, abs=0.02)


def test_ratios_per_rep() -> None:
    allocation, inputs = attainment_case(6, 1.2)
    inputs.loc[0, "ramp"] = 0.5
    inputs.loc[1, "history"] = 0.0
    inputs.loc[2, "potential"] = 0.0
    report = fairness_report(allocation, inputs, 0.3)
    reps = report.reps.set_index("rep_id")
    quota = allocation.set_index("rep_id")["quota_cents"] / 100
    source = inputs.set_index("rep_id")
    assert reps.loc["r00000", "expected_attainment"] == pytest.approx(
        source.loc["r00000", "history"] * 0.5 / quota["r00000"])
    assert reps.loc["r00001", "chance_of_100"] == 0.0  # nothing expected
    assert math.isnan(reps.loc["r00001", "quota_to_history"])
    assert math.isnan(reps.loc["r00002", "quota_to_potential"])
    assert reps.loc["r00003", "quota_to_potential"] == pytest.approx(1.2 / 3, rel=1e-6)
    assert reps.loc["r00003", "coverage"] == pytest.approx(0.5 / 1.2, rel=1e-6)
    finite = reps["quota_to_potential"].dropna().to_numpy()
    assert len(finite) == 5
    assert report.gini_quota_to_potential == pytest.approx(gini(finite))


def test_draws_are_capped_for_ten_thousand_reps() -> None:
    n = 10_000
    allocation, inputs = attainment_case(n, 1.0)
    report = fairness_report(allocation, inputs, 0.3)
    draws = MAX_CELLS // n
    assert draws == 400
    chance = report.reps["chance_of_100"].to_numpy()
    # every chance is a count out of exactly `draws` draws
    assert np.abs(chance * draws - np.round(chance * draws)).max() < 1e-9
    # … and not out of fewer: some chances are not whole multiples of 1/200
    assert np.abs(chance * 200 - np.round(chance * 200)).max() > 0.25
    assert len(report.attainment_draws) == n  # one pooled draw per rep for the chart
    assert report.share_expected_to_reach_100 == pytest.approx(normal_tail(0.15), abs=0.01)


def test_small_books_get_all_their_draws() -> None:
    allocation, inputs = attainment_case(3, 1.0)
    report = fairness_report(allocation, inputs, 0.3, draws=1_000)
    chance = report.reps["chance_of_100"].to_numpy()
    assert np.abs(chance * 1_000 - np.round(chance * 1_000)).max() < 1e-9
    assert np.abs(chance * 500 - np.round(chance * 500)).max() > 0.25
    assert len(report.attainment_draws) == (2_000 // 3) * 3


def test_the_same_seed_gives_the_same_report() -> None:
    allocation, inputs = attainment_case(25, 1.1)
    first = fairness_report(allocation, inputs, 0.3, seed=3)
    second = fairness_report(allocation, inputs, 0.3, seed=3)
    other = fairness_report(allocation, inputs, 0.3, seed=4)
    assert first.reps["chance_of_100"].tolist() == second.reps["chance_of_100"].tolist()
    assert first.reps["chance_of_100"].tolist() != other.reps["chance_of_100"].tolist()


# --- capacity -------------------------------------------------------------------------------

CAPACITY_TABLE = pd.DataFrame({
    "rep_id": ["a", "b", "c", "d", "e"],
    "ramp": [1.0, 1.0, 1.0, 0.5, 1.0],
    "history": [100.0, 300.0, 0.0, 1000.0, 200.0],
})


def test_capacity_gap_and_hires_by_hand() -> None:
    check = capacity_check(CAPACITY_TABLE, 2_000.0, 0.4)
    # Own records (booked, at least half ramped): a 100, b 300, d 1000, e 200; typical rep =
    # their median, 250, also counted for c (no bookings).
    assert check.productivity == 250.0
    assert check.ramped_capacity == pytest.approx(100 + 300 + 250 + 0.5 * 1000 + 200)  # 1350
    assert check.target == 2_000.0
    assert check.gap == pytest.approx(650.0)
    assert check.hires == pytest.approx(650 / (250 * 0.4))  # 6.5
    assert check.first_year_ramp == 0.4


def test_capacity_above_the_target_needs_no_hires() -> None:
    check = capacity_check(CAPACITY_TABLE, 500.0, 0.4)
    assert check.gap == pytest.approx(-850.0)
    assert check.hires == 0.0


def test_capacity_counts_ramping_years_and_a_tiny_first_year_ramp() -> None:
    check = capacity_check(CAPACITY_TABLE, 2_000.0, 0.01)
    assert check.hires == pytest.approx(650 / (250 * 0.05))  # ramp floored at 5 %
    ramping = CAPACITY_TABLE.assign(ramp=[0.5, 0.5, 0.5, 0.5, 0.9],
                                    prior_ramp=[1.0, 0.5, 1.0, 0.25, 1.0])
    check = capacity_check(ramping, 2_000.0, 0.5)
    # Own records: a 100, b 300 ÷ 0.5 = 600, e 200 (d was a quarter ramped: typical); median
    # 200 for c and d.
    assert check.productivity == 200.0
    assert check.ramped_capacity == pytest.approx(0.5 * (100 + 600 + 200 + 200) + 0.9 * 200)
    assert check.hires == pytest.approx((2_000 - 730) / 100)
