"""Fiscal quarters derived from the workspace's fiscal-year start month.

Naming convention: a fiscal year is named by the calendar year in which it ends. With a
February start, FY2027 runs from 1 February 2026 to 31 January 2027; with a January start the
fiscal year equals the calendar year. Quarters are three whole months, Q1 beginning on the
first day of the start month.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

QUARTER_MONTHS = 3


def validate_start_month(start_month: int) -> int:
    """Return the month (1-12) that starts the fiscal year, or raise ValueError."""
    if isinstance(start_month, bool) or not isinstance(start_month, int):
        raise ValueError(f"Fiscal year start month must be an integer, not {start_month!r}.")
    if not 1 <= start_month <= 12:
        raise ValueError(f"Fiscal year start month must be 1-12, not {start_month}.")
    return start_month


def _add_months(year: int, month: int, months: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + months
    return index // 12, index % 12 + 1


def _quarter_bounds(start_year: int, start_month: int) -> tuple[dt.date, dt.date]:
    start = dt.date(start_year, start_month, 1)
    next_year, next_month = _add_months(start_year, start_month, QUARTER_MONTHS)
    return start, dt.date(next_year, next_month, 1) - dt.timedelta(days=1)


@dataclass(frozen=True, order=True)
class FiscalQuarter:
    """One fiscal quarter: its fiscal year, number (1-4) and first and last day (inclusive)."""

    fiscal_year: int
    quarter: int
    start: dt.date
    end: dt.date

    @property
    def label(self) -> str:
        """Short display name such as "FY2026 Q4"."""
        return f"FY{self.fiscal_year} Q{self.quarter}"

    @property
    def days(self) -> int:
        """Number of calendar days in the quarter."""
        return (self.end - self.start).days + 1

    def contains(self, day: dt.date) -> bool:
        """True when the day falls inside the quarter."""
        return self.start <= day <= self.end

    def day_number(self, day: dt.date) -> int:
        """1-based position of a day inside the quarter (day 1 is the first day)."""
        if not self.contains(day):
            raise ValueError(f"{day.isoformat()} is not in {self.label}.")
        return (day - self.start).days + 1

    def day_at(self, day_number: int) -> dt.date:
        """The date at a 1-based day position, capped at the quarter's last day.

        Capping keeps "to the same day of the quarter" comparisons inside the quarter when
        quarters differ in length (89 to 92 days).
        """
        if day_number < 1:
            raise ValueError(f"Day number must be at least 1, not {day_number}.")
        return min(self.start + dt.timedelta(days=day_number - 1), self.end)

    def previous(self) -> FiscalQuarter:
        """The quarter immediately before this one."""
        year, month = _add_months(self.start.year, self.start.month, -QUARTER_MONTHS)
        start, end = _quarter_bounds(year, month)
        if self.quarter == 1:
            return FiscalQuarter(self.fiscal_year - 1, 4, start, end)
        return FiscalQuarter(self.fiscal_year, self.quarter - 1, start, end)

    def next(self) -> FiscalQuarter:
        """The quarter immediately after this one."""
        year, month = _add_months(self.start.year, self.start.month, QUARTER_MONTHS)
        start, end = _quarter_bounds(year, month)
        if self.quarter == 4:
            return FiscalQuarter(self.fiscal_year + 1, 1, start, end)
        return FiscalQuarter(self.fiscal_year, self.quarter + 1, start, end)

    def shifted(self, quarters: int) -> FiscalQuarter:
        """The quarter a number of quarters later (positive) or earlier (negative)."""
        quarter = self
        step = FiscalQuarter.next if quarters > 0 else FiscalQuarter.previous
        for _ in range(abs(quarters)):
            quarter = step(quarter)
        return quarter


def fiscal_year_of(day: dt.date, start_month: int = 1) -> int:
    """The fiscal year containing a day, named by the calendar year in which it ends."""
    validate_start_month(start_month)
    start_year = day.year if day.month >= start_month else day.year - 1
    return start_year if start_month == 1 else start_year + 1


def fiscal_quarter_of(day: dt.date, start_month: int = 1) -> FiscalQuarter:
    """The fiscal quarter containing a day, for a fiscal year starting in `start_month`."""
    validate_start_month(start_month)
    months_into_year = (day.month - start_month) % 12
    quarter = months_into_year // QUARTER_MONTHS + 1
    year, month = _add_months(day.year, day.month, -(months_into_year % QUARTER_MONTHS))
    start, end = _quarter_bounds(year, month)
    return FiscalQuarter(fiscal_year_of(day, start_month), quarter, start, end)


def previous_quarter(day: dt.date, start_month: int = 1) -> FiscalQuarter:
    """The fiscal quarter before the one containing a day."""
    return fiscal_quarter_of(day, start_month).previous()


def recent_quarters(day: dt.date, count: int, start_month: int = 1) -> list[FiscalQuarter]:
    """The `count` quarters ending with the one containing a day, oldest first."""
    if count < 1:
        raise ValueError(f"Quarter count must be at least 1, not {count}.")
    current = fiscal_quarter_of(day, start_month)
    return [current.shifted(-offset) for offset in range(count - 1, -1, -1)]


def same_point_in_quarter(day: dt.date, quarter: FiscalQuarter, start_month: int = 1) -> dt.date:
    """The date in `quarter` at the same day position as `day` holds in its own quarter.

    Used for fair quarter-to-date comparisons: day 54 of this quarter maps to day 54 of the
    other quarter, capped at its last day.
    """
    own = fiscal_quarter_of(day, start_month)
    return quarter.day_at(own.day_number(day))
