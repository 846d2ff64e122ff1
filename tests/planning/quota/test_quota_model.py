"""Quota allocation model: exact totals, limits, infeasibility, overrides, team totals and the
lexicographic optimum, checked against hand-worked cases and independent recomputation."""

from __future__ import annotations

import math
import re
from dataclasses import replace
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest

from planning.errors import RevPlanError
from planning.quota.model import (
    QuotaInfeasibleError,
    QuotaScenario,
    solve_quotas,
    split_by_quarter,
    whole_cents,
)

POTENTIAL_ONLY = {"potential": 1.0}
QUARTERS = ["q1_cents", "q2_cents", "q3_cents", "q4_cents"]


def rep_table(potential: list[float], last_quota: list[float], *, ids: list[str] | None = None,
              teams: list[str] | None = None) -> pd.DataFrame:
    n = len(potential)
    return pd.DataFrame({
        "rep_id": ids or [f"r{i}" for i in range(n)],
        "team": teams or ["T"] * n,
        "potential": potential, "history": 0.0, "pipeline": 0.0, "ramp": 1.0,
        "last_quota": last_quota,
    })


def by_rep(result, column: str) -> dict[str, object]:
    frame = result.allocation
    return dict(zip(frame["rep_id"], frame[column], strict=True))


# --- the hand-solvable case -----------------------------------------------------------------

def test_three_reps_by_hand() -> None:
    reps = rep_table([100.0, 200.0, 700.0], [100.0, 200.0, 400.0], ids=["A", "B", "C"])
    scenario = QuotaScenario(target_cents=100_000, blend=POTENTIAL_ONLY, max_increase=0.5)
    result = solve_quotas(reps, scenario)

    quota = by_rep(result, "quota_cents")
    assert quota["C"] == 60_000  # 400 × 1.5: the cap
    assert quota["A"] in (13_333, 13_334)  # 100 × 4/3
    assert quota["B"] in (26_666, 26_667)  # 200 × 4/3
    assert quota["A"] + quota["B"] + quota["C"] == 100_000
    assert result.total_cents == 100_000
    assert by_rep(result, "fair_cents") == {"A": 10_000, "B": 20_000, "C": 70_000}
    # A and B deviate by the same +1/3 from fair share: the smallest possible largest deviation
    assert result.objective == pytest.approx(1 / 3, abs=1e-9)
    assert result.status == "optimal"

    binding = by_rep(result, "binding")
    assert binding == {"A": "", "B": "", "C": "cap"}
    words = by_rep(result, "explanation")
    assert "capped at +50% year over year" in words["C"]
    assert "capped" not in words["A"] and "capped" not in words["B"]
    assert "+33.3% against fair share" in words["A"]
    # the second stage: Σ |quota − fair| / fair = 1/3 + 1/3 + 100/700
    assert result.total_deviation == pytest.approx(2 / 3 + 1 / 7, abs=1e-6)


# --- random inputs: totals, limits, quarters ------------------------------------------------

def random_case(seed: int, n: int, limits: bool) -> tuple[pd.DataFrame, QuotaScenario]:
    """Reps with random measures; with `limits`, caps, decreases, a floor and a ceiling that
    leave room for the total (chosen between the sums of the lower and upper limits)."""
    rng = np.random.default_rng(seed)
    last_cents = rng.integers(2_000_000, 30_000_000, n).astype(float)  # $20K-300K, whole cents
    last_cents[rng.random(n) < 0.2] = np.nan
    last_cents[0] = 10_000_000.0
    reps = pd.DataFrame({
        "rep_id": [f"rep-{seed}-{i:03d}" for i in range(n)],
        "team": rng.choice(["East", "West", "Central", None], n),
        "potential": np.round(rng.lognormal(13, 0.6, n), 2),
        "history": np.round(rng.lognormal(12, 0.8, n) * (rng.random(n) > 0.15), 2),
        "pipeline": np.round(rng.lognormal(11.5, 0.7, n), 2),
        "ramp": np.round(rng.uniform(0.3, 1.0, n), 3),
        "last_quota": last_cents / 100,
    })
    over_assign = float(rng.choice([0.0, 0.07, 0.15]))
    blend = {"potential": 0.5, "history": 0.3, "pipeline": 0.2}
    if not limits:
        total = float(np.nansum(last_cents)) * rng.uniform(0.8, 1.6)
        target = int(total / (1 + over_assign))
        return reps, QuotaScenario(target_cents=target, blend=blend, over_assign=over_assign)
    known = last_cents[~np.isnan(last_cents)]
    increase, decrease = 0.25, 0.3
    floor = int(round(0.3 * known.min()))
    ceiling = int(round(2.5 * known.max()))
    low = np.where(np.isnan(last_cents), floor, np.maximum(floor, last_cents * (1 - decrease)))
    high = np.where(np.isnan(last_cents), ceiling,
                    np.minimum(ceiling, last_cents * (1 + increase)))
    total = low.sum() + rng.uniform(0.2, 0.8) * (high.sum() - low.sum())
    target = int(total / (1 + over_assign))
    return reps, QuotaScenario(target_cents=target, blend=blend, over_assign=over_assign,
                               max_increase=increase, max_decrease=decrease,
                               floor_cents=floor, ceiling_cents=ceiling,
                               seasonality=(0.2, 0.3, 0.15, 0.35))


CASES = [(1, 5, False), (2, 5, True), (3, 17, False), (4, 17, True), (5, 60, True),
         (6, 120, False), (7, 300, True), (8, 300, False)]


@pytest.mark.parametrize(("seed", "n", "limits"), CASES)
def test_random_allocations_add_up_and_respect_every_limit(seed: int, n: int,
                                                            limits: bool) -> None:
    reps, scenario = random_case(seed, n, limits)
    result = solve_quotas(reps, scenario)
    frame = result.allocation
    expected_total = int(round(scenario.target_cents * (1 + scenario.over_assign)))

    assert len(frame) == n
    assert list(frame["rep_id"]) == list(reps["rep_id"])
    assert frame["quota_cents"].dtype.kind == "i"
    assert int(frame["quota_cents"].sum()) == expected_total == result.total_cents
    assert (frame["quota_cents"] >= frame["low_cents"]).all()
    high = frame["high_cents"].to_numpy(dtype=float)
    assert (np.isnan(high) | (frame["quota_cents"].to_numpy() <= high)).all()

    quarters = frame[QUARTERS].to_numpy()
    assert (quarters >= 0).all()
    assert (quarters.sum(axis=1) == frame["quota_cents"].to_numpy()).all()
    shares = np.asarray(scenario.seasonality)
    assert np.abs(quarters - frame["quota_cents"].to_numpy()[:, None] * shares).max() < 1.0

    if not limits:
        assert np.isnan(high).all() and (frame["low_cents"] == 0).all()
        return
    # every limit recomputed from the inputs, exactly (last quotas are whole cents)
    up = Fraction(str(1 + scenario.max_increase))
    down = Fraction(str(1 - scenario.max_decrease))
    for quota, last in zip(frame["quota_cents"], reps["last_quota"], strict=True):
        assert scenario.floor_cents <= quota <= scenario.ceiling_cents
        if not math.isnan(last):
            last_cents = Fraction(round(last * 100))
            assert down * last_cents <= quota <= up * last_cents
    # the limits bind somewhere, so these checks are not vacuous
    assert (frame["binding"] != "").any()


def test_fair_shares_blend_the_measures_scaled_by_ramp() -> None:
    reps, scenario = random_case(3, 17, False)
    result = solve_quotas(reps, scenario)
    total = scenario.total_cents
    share = np.zeros(len(reps))
    for measure, weight in scenario.blend.items():
        basis = reps[measure].to_numpy() * reps["ramp"].to_numpy()
        share += weight * basis / basis.sum()
    assert np.abs(result.allocation["fair_cents"].to_numpy() - total * share).max() <= 0.5
    # nothing limits anyone, so every rep gets their fair share (to the cent)
    assert np.abs(result.allocation["quota_cents"] - total * share).max() < 1.0 + 1e-6
    assert result.objective == pytest.approx(0.0, abs=1e-7)


def test_teamless_reps_are_grouped_as_no_team() -> None:
    reps, scenario = random_case(3, 17, False)
    result = solve_quotas(reps, scenario)
    expected = reps["team"].where(reps["team"].notna(), "No team")
    assert list(result.allocation["team"]) == list(expected)


# --- infeasible caps and floors -------------------------------------------------------------

def suggested_cap(message: str) -> float:
    match = re.search(r"year-over-year cap of \+(\d+(?:\.\d+)?)%", message)
    assert match, message
    return float(match.group(1)) / 100


def test_caps_below_the_total_are_refused_with_the_shortfall_and_a_working_cap() -> None:
    reps = rep_table([100.0, 200.0, 300.0], [100.0, 200.0, 300.0], ids=["A", "B", "C"])
    scenario = QuotaScenario(target_cents=100_000, blend=POTENTIAL_ONLY, max_increase=0.2)
    with pytest.raises(QuotaInfeasibleError) as caught:
        solve_quotas(reps, scenario)
    error = caught.value
    assert sorted(error.binding) == ["A", "B", "C"]
    assert error.shortfall_cents == 100_000 - 72_000  # caps 120 + 240 + 360
    assert "280.00 short" in str(error)
    cap = suggested_cap(str(error))
    assert cap >= 2 / 3  # 600 × (1 + cap) ≥ 1000

    result = solve_quotas(reps, QuotaScenario(target_cents=100_000, blend=POTENTIAL_ONLY,
                                              max_increase=cap))
    assert result.total_cents == 100_000
    last = {"A": 10_000, "B": 20_000, "C": 30_000}
    for rep, quota in by_rep(result, "quota_cents").items():
        assert quota <= last[rep] * (1 + cap) + 1e-6


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_suggested_cap_works_on_random_last_quotas(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 12
    last = rng.integers(1_000_000, 9_000_000, n) / 100
    reps = rep_table(list(rng.uniform(50, 150, n)), list(last))
    total_cents = int(last.sum() * 100 * rng.uniform(1.3, 1.9))
    scenario = QuotaScenario(target_cents=total_cents, blend=POTENTIAL_ONLY, max_increase=0.1)
    with pytest.raises(QuotaInfeasibleError) as caught:
        solve_quotas(reps, scenario)
    error = caught.value
    assert sorted(error.binding) == sorted(reps["rep_id"])
    caps_cents = sum(Fraction(round(x * 100)) * Fraction("1.1") for x in last)
    # Caps count in whole cents (each rounded down), as the allocation will be.
    assert 0 <= error.shortfall_cents - (total_cents - caps_cents) <= n
    cap = suggested_cap(str(error))
    result = solve_quotas(reps, QuotaScenario(target_cents=total_cents, blend=POTENTIAL_ONLY,
                                              max_increase=cap))
    assert result.total_cents == total_cents
    assert (result.allocation["quota_cents"] <= last * 100 * (1 + cap) + 1e-6).all()


def test_suggested_cap_is_the_smallest_in_tenths_of_a_percent() -> None:
    reps = rep_table([100.0, 100.0, 100.0], [100.0, 100.0, 100.0])
    with pytest.raises(QuotaInfeasibleError) as caught:
        solve_quotas(reps, QuotaScenario(target_cents=33_000, blend=POTENTIAL_ONLY,
                                         max_increase=0.0))
    # +10.0% reaches 330.00 exactly and solves:
    solved = solve_quotas(reps, QuotaScenario(target_cents=33_000, blend=POTENTIAL_ONLY,
                                              max_increase=0.1))
    assert solved.total_cents == 33_000
    assert suggested_cap(str(caught.value)) == pytest.approx(0.1)


def test_uncapped_reps_make_caps_feasible() -> None:
    reps = rep_table([100.0, 200.0, 300.0], [100.0, 200.0, float("nan")])
    result = solve_quotas(reps, QuotaScenario(target_cents=1_000_000, blend=POTENTIAL_ONLY,
                                              max_increase=0.0))
    quota = by_rep(result, "quota_cents")
    assert quota["r0"] == 10_000 and quota["r1"] == 20_000
    assert quota["r2"] == 1_000_000 - 30_000
    assert by_rep(result, "binding")["r2"] == ""


def test_ceiling_with_caps_names_every_limited_rep() -> None:
    reps = rep_table([100.0, 200.0, 300.0], [100.0, 200.0, float("nan")])
    scenario = QuotaScenario(target_cents=100_000, blend=POTENTIAL_ONLY, max_increase=0.0,
                             ceiling_cents=40_000)
    with pytest.raises(QuotaInfeasibleError) as caught:
        solve_quotas(reps, scenario)
    assert sorted(caught.value.binding) == ["r0", "r1", "r2"]
    assert caught.value.shortfall_cents == 100_000 - (10_000 + 20_000 + 40_000)
    # a rep without a last quota: no cap can reach the total, so no cap is suggested
    assert caught.value.suggestion is None


def test_floors_above_the_total_name_the_floored_reps() -> None:
    reps = rep_table([100.0, 200.0, 300.0], [500.0, 400.0, float("nan")],
                     ids=["A", "B", "C"])
    scenario = QuotaScenario(target_cents=80_000, blend=POTENTIAL_ONLY, max_decrease=0.0)
    with pytest.raises(QuotaInfeasibleError) as caught:
        solve_quotas(reps, scenario)
    error = caught.value
    assert sorted(error.binding) == ["A", "B"]  # C has no last quota, so no floor
    assert error.shortfall_cents == -(90_000 - 80_000)
    assert "The floors are above" in str(error) and "100.00 over" in str(error)


def test_a_floor_above_the_total_names_every_rep() -> None:
    reps = rep_table([100.0, 200.0, 300.0, 400.0], [float("nan")] * 4)
    with pytest.raises(QuotaInfeasibleError) as caught:
        solve_quotas(reps, QuotaScenario(target_cents=100_000, blend=POTENTIAL_ONLY,
                                         floor_cents=30_000))
    assert sorted(caught.value.binding) == ["r0", "r1", "r2", "r3"]
    assert caught.value.shortfall_cents == -20_000


def test_floor_binds_and_is_explained() -> None:
    reps = rep_table([10.0, 200.0, 790.0], [float("nan")] * 3)
    result = solve_quotas(reps, QuotaScenario(target_cents=100_000, blend=POTENTIAL_ONLY,
                                              floor_cents=5_000))
    quota = by_rep(result, "quota_cents")
    assert quota["r0"] == 5_000
    assert result.total_cents == 100_000
    assert by_rep(result, "binding")["r0"] == "floor"
    assert "raised to the floor" in by_rep(result, "explanation")["r0"]


def test_a_floor_above_a_reps_cap_is_named() -> None:
    reps = rep_table([100.0, 200.0, 300.0], [100.0, float("nan"), float("nan")])
    scenario = QuotaScenario(target_cents=100_000, blend=POTENTIAL_ONLY, max_increase=0.5,
                             floor_cents=20_000)  # r0: at least 200, at most 150
    with pytest.raises(RevPlanError) as caught:
        solve_quotas(reps, scenario)
    assert isinstance(caught.value, QuotaInfeasibleError), str(caught.value)
    assert caught.value.binding == ["r0"]


# --- overrides ------------------------------------------------------------------------------

def test_an_override_is_kept_exactly_and_the_rest_rebalance() -> None:
    reps, scenario = random_case(4, 17, True)
    plain = solve_quotas(reps, scenario)
    row = plain.allocation.iloc[3]
    rep = row["rep_id"]
    amount = int(row["low_cents"] + 0.9 * (row["high_cents"] - row["low_cents"]))
    assert amount != row["quota_cents"]
    overridden = solve_quotas(reps, replace(scenario, overrides={rep: amount}))
    quota = by_rep(overridden, "quota_cents")
    assert quota[rep] == amount
    assert overridden.total_cents == scenario.total_cents
    assert by_rep(overridden, "binding")[rep] == "override"
    assert "set by hand (override)" in by_rep(overridden, "explanation")[rep]
    others = overridden.allocation[overridden.allocation["rep_id"] != rep]
    assert (others["quota_cents"] >= others["low_cents"]).all()
    assert (others["quota_cents"] <= others["high_cents"].fillna(np.inf)).all()
    assert overridden.report()["scenario"]["overrides"] == {rep: amount / 100}


def test_overrides_outside_the_caps_or_for_unknown_reps_are_refused() -> None:
    reps = rep_table([100.0, 200.0, 700.0], [100.0, 200.0, 400.0], ids=["A", "B", "C"])
    base = {"target_cents": 100_000, "blend": POTENTIAL_ONLY, "max_increase": 0.5}
    with pytest.raises(RevPlanError, match="outside their limits"):
        solve_quotas(reps, QuotaScenario(**base, overrides={"A": 15_001}))
    with pytest.raises(RevPlanError, match="Override for unknown rep"):
        solve_quotas(reps, QuotaScenario(**base, overrides={"Z": 1_000}))
    # right at the cap is allowed
    result = solve_quotas(reps, QuotaScenario(**base, overrides={"A": 15_000}))
    quota = by_rep(result, "quota_cents")
    assert quota["A"] == 15_000 and quota["C"] == 60_000 and quota["B"] == 25_000


def test_a_refused_override_names_the_rep_and_shows_money_compactly() -> None:
    reps = rep_table([100.0, 200.0, 700.0], [40_000.0, 200_000.0, 400_000.0],
                     ids=["005000000000000003", "B", "C"]).assign(
        name=["Harper Garcia", "Ada Lopez", None])
    base = {"target_cents": 100_000_000, "blend": POTENTIAL_ONLY, "max_increase": 0.475}
    with pytest.raises(RevPlanError) as caught:
        solve_quotas(reps, QuotaScenario(**base, overrides={"005000000000000003": 2_079_000_00}))
    assert str(caught.value) == (
        "Override of $2.08M for Harper Garcia (005000000000000003) is outside their limits "
        "($0–$59K); widen the caps or choose another amount.")
    with pytest.raises(RevPlanError, match=r"for rep C is outside their limits \(\$0–\$590K\)"):
        solve_quotas(reps, QuotaScenario(**base, overrides={"C": 600_000_00}))
    uncapped = {**base, "max_increase": None, "floor_cents": 500_000_00}
    with pytest.raises(RevPlanError, match=r"Override of \$456K for Ada Lopez \(B\) is outside "
                       r"their limits \(at least \$500K\)"):
        solve_quotas(reps, QuotaScenario(**uncapped, overrides={"B": 456_000_00}))


# --- fixed team totals ----------------------------------------------------------------------

def test_fixed_team_totals_keep_each_team_at_its_fair_share() -> None:
    rng = np.random.default_rng(21)
    n = 24
    teams = ["East"] * 8 + ["West"] * 8 + ["Central"] * 8
    potential = rng.uniform(50_000, 150_000, n)
    # a few reps per team are held well below fair share by their caps; others are uncapped
    last = np.full(n, np.nan)
    for start in (0, 8):
        last[start:start + 3] = 20_000.0
    reps = rep_table(list(potential), list(last), teams=teams)
    base = {"target_cents": int(potential.sum() * 100), "blend": POTENTIAL_ONLY,
            "max_increase": 0.1}
    fixed = solve_quotas(reps, QuotaScenario(**base, team_totals="fixed")).allocation
    free = solve_quotas(reps, QuotaScenario(**base)).allocation
    for allocation in (fixed, free):
        assert int(allocation["quota_cents"].sum()) == base["target_cents"]
    for team in ("East", "West", "Central"):
        members = fixed["team"] == team
        assert abs(int(fixed.loc[members, "quota_cents"].sum())
                   - int(fixed.loc[members, "fair_cents"].sum())) <= members.sum()
    # with free teams the capped teams hand their shortfall to Central: the constraint bites
    central = free["team"] == "Central"
    assert (free.loc[central, "quota_cents"].sum()
            - free.loc[central, "fair_cents"].sum()) > 100_000


def test_fixed_team_totals_infeasible_within_a_team() -> None:
    reps = rep_table([100.0, 100.0, 100.0, 100.0], [50.0, 50.0, float("nan"), float("nan")],
                     teams=["East", "East", "West", "West"])
    scenario = QuotaScenario(target_cents=40_000, blend=POTENTIAL_ONLY, max_increase=0.0,
                             team_totals="fixed")
    with pytest.raises(QuotaInfeasibleError) as caught:
        solve_quotas(reps, scenario)
    assert "team East" in str(caught.value)
    assert sorted(caught.value.binding) == ["r0", "r1"]
    assert caught.value.shortfall_cents == 20_000 - 10_000
    assert suggested_cap(str(caught.value)) >= 1.0
    # free teams: West takes up the slack
    free = solve_quotas(reps, QuotaScenario(target_cents=40_000, blend=POTENTIAL_ONLY,
                                            max_increase=0.0))
    assert by_rep(free, "quota_cents") == {"r0": 5_000, "r1": 5_000, "r2": 15_000,
                                           "r3": 15_000}


# --- the lexicographic optimum against an independent bisection -----------------------------

def smallest_max_deviation(fair: np.ndarray, low: np.ndarray, high: np.ndarray,
                           total: float) -> float:
    """The least z for which some allocation within [low, high] adding up to `total` has
    every |quota − fair| ≤ z × fair: bisection on the interval test."""
    def feasible(z: float) -> bool:
        bottom = np.maximum(low, fair - z * fair)
        top = np.minimum(high, fair + z * fair)
        return bool((bottom <= top).all() and bottom.sum() <= total <= top.sum())

    lo, hi = 0.0, 1.0
    while not feasible(hi):
        hi *= 2
    for _ in range(200):
        middle = (lo + hi) / 2
        if feasible(middle):
            hi = middle
        else:
            lo = middle
    return hi


@pytest.mark.parametrize("seed", [31, 32, 33, 34])
def test_first_stage_is_the_smallest_largest_deviation(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 7
    potential = rng.uniform(60, 140, n).round(2)
    last = rng.uniform(60, 140, n).round(2)
    last[rng.integers(n)] = np.nan
    reps = rep_table(list(potential), list(last))
    total_cents = int(np.nansum(potential) * 100 * rng.uniform(1.0, 1.3))
    scenario = QuotaScenario(target_cents=total_cents, blend=POTENTIAL_ONLY, max_increase=0.15,
                             max_decrease=0.1, floor_cents=6_000)
    result = solve_quotas(reps, scenario)

    total = total_cents / 100
    fair = total * potential / potential.sum()
    known = ~np.isnan(last)
    low = np.where(known, np.maximum(60.0, last * 0.9), 60.0)
    high = np.where(known, last * 1.15, np.inf)
    z_star = smallest_max_deviation(fair, low, high, total)
    assert z_star > 0.01  # the limits force a deviation
    assert result.objective == pytest.approx(z_star, abs=1e-6)
    # the delivered cents achieve it, up to the rounding: capped reps are floored to whole
    # cents under their caps and the uncapped rep takes up those cents (at most one each)
    quota = result.allocation["quota_cents"].to_numpy() / 100
    deviation = np.abs(quota - fair) / fair
    assert abs(deviation.max() - z_star) <= 0.01 * n / fair.min()
    # second stage: the reported total deviation is that of the delivered quotas
    assert result.total_deviation == pytest.approx(
        float((np.abs(quota - fair) / fair).sum()), abs=1e-3)


# --- whole cents and quarters ---------------------------------------------------------------

def test_whole_cents_hands_leftover_cents_to_the_largest_remainders() -> None:
    dollars = np.array([1.004, 2.006, 3.99])  # 100.4, 200.6, 399.0 cents
    cents = whole_cents(dollars, 700, np.zeros(3), np.full(3, np.inf))
    assert cents.tolist() == [100, 201, 399]
    assert cents.dtype == np.int64


def test_whole_cents_skips_reps_without_room_and_takes_back_below_the_floor() -> None:
    cents = whole_cents(np.array([1.004, 2.006, 3.99]), 701, np.zeros(3),
                        np.array([np.inf, 2.00, np.inf]))
    assert cents.tolist() == [101, 200, 400]
    # the first is raised to its low of 1.00, so the others give the excess back
    cents = whole_cents(np.array([0.5, 5.0]), 550, np.array([1.0, 0.0]),
                        np.array([np.inf, np.inf]))
    assert cents.tolist() == [100, 450]


def test_whole_cents_refuses_limits_that_cannot_reach_the_total() -> None:
    with pytest.raises(RevPlanError, match="no room"):
        whole_cents(np.array([1.0, 1.0]), 500, np.zeros(2), np.array([2.0, 2.0]))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_whole_cents_on_random_amounts(seed: int) -> None:
    rng = np.random.default_rng(seed)
    dollars = rng.uniform(0, 10_000, 200)
    total = int(round(dollars.sum() * 100))
    cents = whole_cents(dollars, total, np.zeros(200), np.full(200, np.inf))
    assert int(cents.sum()) == total
    assert np.abs(cents - dollars * 100).max() < 1.0 + 1e-6


def test_split_by_quarter_adds_up_each_row() -> None:
    annual = np.array([100, 7, 0, 1_000_001, 3], dtype=np.int64)
    quarters = split_by_quarter(annual, (0.1, 0.2, 0.3, 0.4))
    assert quarters[0].tolist() == [10, 20, 30, 40]
    assert quarters[1].tolist() == [1, 1, 2, 3]  # 0.7, 1.4, 2.1, 2.8: remainders .8, .7 win
    assert quarters[2].tolist() == [0, 0, 0, 0]
    assert (quarters.sum(axis=1) == annual).all()
    assert np.abs(quarters - annual[:, None] * np.array([0.1, 0.2, 0.3, 0.4])).max() < 1


def test_quarters_add_up_for_any_accepted_seasonality() -> None:
    reps = rep_table([100.0, 200.0, 300.0], [float("nan")] * 3)
    for seasonality in ((0.25, 0.25, 0.25, 0.2499995), (0.25, 0.25, 0.25, 0.2500005)):
        result = solve_quotas(reps, QuotaScenario(target_cents=10**11, blend=POTENTIAL_ONLY,
                                                  seasonality=seasonality))
        frame = result.allocation
        assert (frame[QUARTERS].sum(axis=1) == frame["quota_cents"]).all()


# --- scenario validation --------------------------------------------------------------------

@pytest.mark.parametrize(("changes", "message"), [
    ({"blend": {"potential": 0.5, "history": 0.3}}, "add up to 1"),
    ({"blend": {"potential": 1.2, "history": -0.2}}, "blend weight potential 1.2 is out of range"),
    ({"blend": {"potential": 0.5, "revenue": 0.5}}, "Unknown blend measure"),
    ({"over_assign": -0.1}, "over-assignment -0.1 is out of range"),
    ({"over_assign": 1.5}, "over-assignment 1.5 is out of range"),
    ({"target_cents": 0}, "target 0.00 is out of range"),
    ({"max_increase": -0.1}, "max increase -0.1 is out of range"),
    ({"max_decrease": 1.5}, "max decrease 1.5 is out of range"),
    ({"team_totals": "locked"}, "team totals"),
    ({"floor_cents": 500, "ceiling_cents": 400}, "floor is above the ceiling"),
    ({"seasonality": (0.5, 0.5, 0.1, -0.1)}, "seasonality share of Q4 -0.1 is out of range"),
    ({"seasonality": (0.3, 0.3, 0.3, 0.3)}, "Seasonality"),
])
def test_scenario_validation(changes: dict, message: str) -> None:
    with pytest.raises(RevPlanError, match=message):
        QuotaScenario(**{"target_cents": 100_000, **changes})


def test_a_valid_scenario_and_its_total() -> None:
    scenario = QuotaScenario(target_cents=4_000_000_000, over_assign=0.1)
    assert scenario.total_cents == 4_400_000_000
    assert QuotaScenario(target_cents=101, over_assign=0.5).total_cents == 152  # 151.5 rounds


def test_input_problems_are_named() -> None:
    reps = rep_table([100.0, 200.0], [float("nan")] * 2)
    with pytest.raises(RevPlanError, match="miss column"):
        solve_quotas(reps.drop(columns="ramp"), QuotaScenario(target_cents=100))
    with pytest.raises(RevPlanError, match="appears twice"):
        solve_quotas(reps.assign(rep_id="same"), QuotaScenario(target_cents=100))
    with pytest.raises(RevPlanError, match="ramp -0.5 must be a number from 0 to 1 "):
        solve_quotas(reps.assign(ramp=-0.5), QuotaScenario(target_cents=100))
    with pytest.raises(RevPlanError, match="ramp 1.5 must be a number from 0 to 1 "):
        solve_quotas(reps.assign(ramp=1.5), QuotaScenario(target_cents=100))
    with pytest.raises(RevPlanError, match="No rep has any history"):
        solve_quotas(reps, QuotaScenario(target_cents=100))  # the default blend uses history
    with pytest.raises(RevPlanError, match="no reps"):
        solve_quotas(reps.iloc[:0], QuotaScenario(target_cents=100))
