"""The one ramp rule (`planning.ramp`) and both its users: territory capacity on the plan's day
and quota productive share over the fiscal year."""

from __future__ import annotations

import datetime as dt

import pytest

from planning.quota.workspace import productive_share
from planning.ramp import DAYS_PER_MONTH, average_ramp_share, ramp_share
from planning.store import Workspace
from planning.territory.workspace import workspace_territory

DAY = dt.date(2027, 3, 15)


def test_a_rep_hired_in_the_future_has_no_capacity() -> None:
    assert ramp_share(dt.date(2027, 4, 1), 6, DAY) == 0.0
    assert ramp_share(dt.date(2027, 4, 1), 0, DAY) == 0.0
    assert ramp_share(DAY, 6, DAY) == 0.0


def test_a_rep_hired_mid_month_ramps_linearly() -> None:
    hired = DAY - dt.timedelta(days=45)
    assert ramp_share(hired, 6, DAY) == pytest.approx(45 / DAYS_PER_MONTH / 6)
    assert ramp_share(hired, 3, DAY) == pytest.approx(45 / DAYS_PER_MONTH / 3)
    assert 0.24 < ramp_share(hired, 6, DAY) < 0.25


def test_a_rep_hired_long_ago_or_without_a_hire_date_is_fully_ramped() -> None:
    assert ramp_share(dt.date(2015, 1, 1), 6, DAY) == 1.0
    assert ramp_share(None, 6, DAY) == 1.0
    assert ramp_share(float("nan"), 6, DAY) == 1.0
    assert ramp_share(DAY - dt.timedelta(days=1), 0, DAY) == 1.0
    assert ramp_share(DAY - dt.timedelta(days=1), float("nan"), DAY) == 1.0


def test_the_quota_year_average_uses_the_same_rule() -> None:
    first = dt.date(2027, 1, 1)
    assert average_ramp_share(dt.date(2028, 6, 1), 6, first) == 0.0
    assert average_ramp_share(dt.date(2020, 1, 1), 6, first) == 1.0
    assert productive_share(first, 12, 0.5, first) == pytest.approx(
        0.5 * average_ramp_share(first, 12, first))
    middle = first + dt.timedelta(days=DAYS_PER_MONTH * 5.5)
    assert average_ramp_share(first, 12, first, months=12) == pytest.approx(
        sum(ramp_share(first, 12, first + dt.timedelta(days=DAYS_PER_MONTH * (k + 0.5)))
            for k in range(12)) / 12)
    assert ramp_share(first, 12, middle) == pytest.approx(5.5 / 12, abs=0.01)


def test_territory_capacity_follows_the_rule_and_leaves_future_hires_out(
        demo_copy: Workspace) -> None:
    """One rep hired mid-ramp gets FTE × ramp share; one hired after the plan's day is left
    out and their accounts count as without a rep."""
    reps = demo_copy.read(lambda cur: cur.execute(
        """SELECT rep_id, capacity FROM reps WHERE is_active AND role = 'rep'
           AND home_lat IS NOT NULL ORDER BY rep_id LIMIT 2""").fetchall())
    (ramping, fte), (future, _) = reps
    demo_copy.write(lambda cur: cur.execute(
        "UPDATE reps SET hire_date = ?, ramp_months = 6 WHERE rep_id = ?",
        [DAY - dt.timedelta(days=45), ramping]))
    demo_copy.write(lambda cur: cur.execute(
        "UPDATE reps SET hire_date = ? WHERE rep_id = ?", [DAY + dt.timedelta(days=30), future]))
    territory = workspace_territory(demo_copy, "accounts", respect_segments=False, today=DAY)
    capacity = dict(zip(territory.reps["rep_id"], territory.reps["capacity"], strict=True))
    assert capacity[ramping] == pytest.approx(fte * ramp_share(DAY - dt.timedelta(days=45), 6,
                                                              DAY))
    assert future not in capacity
    assert not (territory.units["current_rep_id"] == future).any()
