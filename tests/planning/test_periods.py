"""Fiscal quarters: boundaries, labels (named by the year the fiscal year ends), navigation."""

from __future__ import annotations

import datetime as dt

import pytest

from planning.periods import (
    FiscalQuarter,
    fiscal_quarter_of,
    fiscal_year_of,
    previous_quarter,
    recent_quarters,
    same_point_in_quarter,
    validate_start_month,
)

D = dt.date


@pytest.mark.parametrize(
    ("day", "start_month", "label", "start", "end"),
    [
        (D(2026, 11, 16), 1, "FY2026 Q4", D(2026, 10, 1), D(2026, 12, 31)),
        (D(2026, 1, 1), 1, "FY2026 Q1", D(2026, 1, 1), D(2026, 3, 31)),
        (D(2026, 3, 31), 1, "FY2026 Q1", D(2026, 1, 1), D(2026, 3, 31)),
        # February start: FY2027 runs 1 Feb 2026 - 31 Jan 2027 and is named by its end year.
        (D(2026, 2, 1), 2, "FY2027 Q1", D(2026, 2, 1), D(2026, 4, 30)),
        (D(2026, 1, 31), 2, "FY2026 Q4", D(2025, 11, 1), D(2026, 1, 31)),
        (D(2026, 11, 16), 2, "FY2027 Q4", D(2026, 11, 1), D(2027, 1, 31)),
        # July start (US federal-style shifted): FY2027 runs Jul 2026 - Jun 2027.
        (D(2026, 7, 1), 7, "FY2027 Q1", D(2026, 7, 1), D(2026, 9, 30)),
        (D(2026, 6, 30), 7, "FY2026 Q4", D(2026, 4, 1), D(2026, 6, 30)),
        # October start: FY2027 runs Oct 2026 - Sep 2027.
        (D(2026, 12, 31), 10, "FY2027 Q1", D(2026, 10, 1), D(2026, 12, 31)),
        (D(2027, 1, 1), 10, "FY2027 Q2", D(2027, 1, 1), D(2027, 3, 31)),
        # December start: Q1 straddles the calendar year.
        (D(2026, 12, 5), 12, "FY2027 Q1", D(2026, 12, 1), D(2027, 2, 28)),
        (D(2028, 2, 29), 12, "FY2028 Q1", D(2027, 12, 1), D(2028, 2, 29)),
    ],
)
def test_fiscal_quarter_of(
    day: dt.date, start_month: int, label: str, start: dt.date, end: dt.date
) -> None:
    quarter = fiscal_quarter_of(day, start_month)
    assert (quarter.label, quarter.start, quarter.end) == (label, start, end)
    assert quarter.contains(day)


@pytest.mark.parametrize("start_month", range(1, 13))
def test_quarters_tile_the_calendar(start_month: int) -> None:
    """Every day of three years lands in exactly one quarter; consecutive quarters touch."""
    day = D(2025, 1, 1)
    seen: list[FiscalQuarter] = []
    while day < D(2028, 1, 1):
        quarter = fiscal_quarter_of(day, start_month)
        assert quarter.start <= day <= quarter.end
        if not seen or seen[-1] != quarter:
            if seen:
                assert quarter.start == seen[-1].end + dt.timedelta(days=1)
                assert quarter == seen[-1].next()
                assert quarter.previous() == seen[-1]
            seen.append(quarter)
        day += dt.timedelta(days=1)
    assert all(89 <= q.days <= 92 for q in seen)
    assert all(q.start.month in {(start_month - 1 + 3 * k) % 12 + 1 for k in range(4)}
               for q in seen)
    q1s = [q for q in seen if q.quarter == 1]
    assert all(q.start.month == start_month for q in q1s)


def test_fiscal_year_named_by_end_year() -> None:
    assert fiscal_year_of(D(2026, 5, 1), 1) == 2026
    assert fiscal_year_of(D(2026, 5, 1), 5) == 2027
    assert fiscal_year_of(D(2026, 4, 30), 5) == 2026


def test_previous_and_next_cross_fiscal_years() -> None:
    q1 = fiscal_quarter_of(D(2026, 2, 10), 2)
    assert q1.label == "FY2027 Q1"
    before = q1.previous()
    assert (before.label, before.start, before.end) == (
        "FY2026 Q4", D(2025, 11, 1), D(2026, 1, 31))
    assert before.next() == q1
    assert previous_quarter(D(2026, 1, 15), 1).label == "FY2025 Q4"
    assert q1.shifted(0) == q1
    assert q1.shifted(-4).label == "FY2026 Q1"
    assert q1.shifted(5).label == "FY2028 Q2"


def test_recent_quarters_oldest_first() -> None:
    labels = [q.label for q in recent_quarters(D(2026, 11, 16), 8, 1)]
    assert labels == [
        "FY2025 Q1", "FY2025 Q2", "FY2025 Q3", "FY2025 Q4",
        "FY2026 Q1", "FY2026 Q2", "FY2026 Q3", "FY2026 Q4",
    ]
    with pytest.raises(ValueError):
        recent_quarters(D(2026, 11, 16), 0)


def test_day_positions_and_same_point() -> None:
    q4 = fiscal_quarter_of(D(2026, 11, 23), 1)
    assert q4.day_number(D(2026, 10, 1)) == 1
    assert q4.day_number(D(2026, 11, 23)) == 54
    assert same_point_in_quarter(D(2026, 11, 23), q4.previous(), 1) == D(2026, 8, 23)
    # Day 92 of a 92-day quarter maps to the last day of a 90-day quarter.
    assert same_point_in_quarter(D(2026, 12, 31), fiscal_quarter_of(D(2026, 2, 1)), 1) == D(
        2026, 3, 31)
    with pytest.raises(ValueError):
        q4.day_number(D(2026, 9, 30))
    with pytest.raises(ValueError):
        q4.day_at(0)


@pytest.mark.parametrize("bad", [0, 13, -1, "1", 1.0, True])
def test_invalid_start_month(bad: object) -> None:
    with pytest.raises(ValueError):
        validate_start_month(bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        fiscal_quarter_of(D(2026, 1, 1), bad)  # type: ignore[arg-type]
