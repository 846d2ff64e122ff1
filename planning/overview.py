"""The workspace at a glance: the KPIs and small series the Home page shows.

Amounts stay integer cents here; `format_money` turns them into dollars for display only.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from planning.access.policy import readable_owner_ids
from planning.access.users import User
from planning.asof import AsOf, describe_span, read_as_of
from planning.clock import now_utc
from planning.periods import (
    FiscalQuarter,
    fiscal_quarter_of,
    recent_quarters,
    same_point_in_quarter,
)
from planning.store import Workspace
from planning.store import asof as asof_queries
from planning.store import kpis as kpi_queries

if TYPE_CHECKING:
    from duckdb import DuckDBPyConnection

BOOKINGS_QUARTERS = 8


@dataclass(frozen=True)
class QuarterBookings:
    """Won bookings closing in one fiscal quarter; `to_date` marks the unfinished current one."""

    quarter: FiscalQuarter
    cents: int
    deals: int
    to_date: bool


@dataclass(frozen=True)
class StagePipeline:
    """Open pipeline sitting in one stage."""

    stage: str
    cents: int
    deals: int


@dataclass(frozen=True)
class WorkspaceKpis:
    """Headline numbers of a workspace on a given day, with the series for the Home charts.

    Bookings count won deals by close date. "Same point" values cover the previous quarter up
    to the same day position as today holds in the current quarter, for a fair comparison.
    Win rates are by deal count over deals won or lost with a close date in the quarter.
    `today` is the workspace's as-of day (see `planning.asof`), described by `as_of`.
    `data_as_of` is when data were last imported; `newest_record_at` is the newest moment a
    CRM record carries, and `record_age` how long before now that was (the data's freshness).
    """

    workspace: str
    today: dt.date
    fiscal_year_start_month: int
    current_quarter: FiscalQuarter
    last_quarter: FiscalQuarter
    open_pipeline_cents: int
    open_pipeline_deals: int
    bookings_qtd_cents: int
    bookings_qtd_deals: int
    bookings_last_quarter_cents: int
    bookings_last_quarter_deals: int
    last_quarter_same_point: dt.date
    bookings_last_quarter_same_point_cents: int
    won_last_quarter: int
    lost_last_quarter: int
    win_rate_last_quarter: float | None
    win_rate_quarter_before: float | None
    accounts: int
    active_reps: int
    data_as_of: dt.datetime | None
    data_age: dt.timedelta | None
    bookings_by_quarter: tuple[QuarterBookings, ...]
    pipeline_by_stage: tuple[StagePipeline, ...]
    as_of: AsOf | None = None
    newest_record_at: dt.datetime | None = None
    record_age: dt.timedelta | None = None
    open_deals_without_amount: int = 0

    @property
    def day_of_quarter(self) -> int:
        """Today's 1-based position in the current quarter."""
        return self.current_quarter.day_number(self.today)

    @property
    def has_data(self) -> bool:
        """True once any CRM record has been imported."""
        return self.data_as_of is not None or self.newest_record_at is not None

    @property
    def bookings_qtd_change(self) -> float | None:
        """Relative change of bookings to date against last quarter at the same point."""
        return relative_change(self.bookings_qtd_cents, self.bookings_last_quarter_same_point_cents)

    @property
    def bookings_last_quarter_change(self) -> float | None:
        """Relative change of last quarter's bookings against the quarter before it."""
        before = self.bookings_by_quarter[-3].cents if len(self.bookings_by_quarter) > 2 else 0
        return relative_change(self.bookings_last_quarter_cents, before)

    @property
    def win_rate_change(self) -> float | None:
        """Last quarter's win rate minus the quarter before's, in fraction points."""
        if self.win_rate_last_quarter is None or self.win_rate_quarter_before is None:
            return None
        return self.win_rate_last_quarter - self.win_rate_quarter_before


def relative_change(current: int, baseline: int) -> float | None:
    """(current - baseline) / baseline, or None when the baseline is zero."""
    if baseline == 0:
        return None
    return (current - baseline) / baseline


def win_rate(won: int, lost: int) -> float | None:
    """Share of closed deals that were won, or None when none closed."""
    closed = won + lost
    return won / closed if closed else None


def workspace_kpis(
    workspace: Workspace, today: dt.date | None = None, *, now: dt.datetime | None = None,
    viewer: User | None = None, as_of: AsOf | None = None,
) -> WorkspaceKpis:
    """Compute the Home KPIs of a workspace as of a day.

    The day is `today` when given, else the `as_of` given, else the UTC date of an explicit
    `now`, else the workspace's own as-of day (its setting or its newest record, see
    `planning.asof`), so an export that ended years ago still shows its own quarters.
    `now` (UTC; naive values are read as UTC) sets the clock for the data's age; it defaults
    to the current time. With a `viewer`, deal figures, accounts and reps cover only what that
    user may read (a manager's team, a rep's own book); without one, the whole workspace (the
    command line and system jobs). Everything is read in one transaction so the numbers agree
    with each other even while an import is writing.
    """
    clock_given = now is not None
    now = _as_utc(now_utc() if now is None else now)
    owners = readable_owner_ids(viewer, workspace.name)

    def read(cur: DuckDBPyConnection) -> WorkspaceKpis:
        if today is not None:
            resolved = read_as_of(cur, today, now.date())
        elif as_of is not None:
            resolved = as_of
        else:
            resolved = read_as_of(cur, None, now.date())
            if clock_given:
                resolved = replace(resolved, day=now.date(), source="clock")
        return _compute(cur, workspace.name, resolved, now, owners)

    return workspace.read_snapshot(read)


def _compute(
    cur: DuckDBPyConnection, name: str, as_of: AsOf, now: dt.datetime,
    owners: kpi_queries.OwnerScope,
) -> WorkspaceKpis:
    today = as_of.day
    start_month = kpi_queries.fiscal_year_start_month(cur)
    current = fiscal_quarter_of(today, start_month)
    last = current.previous()
    before = last.previous()
    same_point = same_point_in_quarter(today, last, start_month)
    series = recent_quarters(today, BOOKINGS_QUARTERS, start_month)
    periods = [(q.start, min(q.end, today)) for q in series]
    periods += [(last.start, same_point)]
    totals = kpi_queries.won_bookings(cur, periods, owners)
    by_quarter = tuple(
        QuarterBookings(q, t.cents, t.deals, to_date=q == current)
        for q, t in zip(series, totals[:BOOKINGS_QUARTERS], strict=True)
    )
    qtd, last_full, last_same = totals[-2], totals[-3], totals[-1]
    last_result = kpi_queries.win_loss(cur, last.start, last.end, owners)
    before_result = kpi_queries.win_loss(cur, before.start, before.end, owners)
    pipeline = kpi_queries.open_pipeline(cur, owners)
    stages = tuple(
        StagePipeline(s.stage, s.cents, s.deals)
        for s in kpi_queries.open_pipeline_by_stage(cur, owners)
    )
    loaded = kpi_queries.latest_loaded_at(cur)
    loaded_at = None if loaded is None else _as_utc(loaded)
    age = None if loaded_at is None else max(now - loaded_at, dt.timedelta(0))
    newest = asof_queries.newest_record_at(cur, now.date())
    newest_at = None if newest is None else _as_utc(newest)
    record_age = None if newest_at is None else max(now - newest_at, dt.timedelta(0))
    return WorkspaceKpis(
        workspace=name,
        today=today,
        fiscal_year_start_month=start_month,
        current_quarter=current,
        last_quarter=last,
        open_pipeline_cents=pipeline.cents,
        open_pipeline_deals=pipeline.deals,
        bookings_qtd_cents=qtd.cents,
        bookings_qtd_deals=qtd.deals,
        bookings_last_quarter_cents=last_full.cents,
        bookings_last_quarter_deals=last_full.deals,
        last_quarter_same_point=same_point,
        bookings_last_quarter_same_point_cents=last_same.cents,
        won_last_quarter=last_result.won,
        lost_last_quarter=last_result.lost,
        win_rate_last_quarter=win_rate(*last_result),
        win_rate_quarter_before=win_rate(*before_result),
        accounts=kpi_queries.account_count(cur, owners),
        active_reps=kpi_queries.active_rep_count(cur, owners),
        data_as_of=loaded_at,
        data_age=age,
        bookings_by_quarter=by_quarter,
        pipeline_by_stage=stages,
        as_of=as_of,
        newest_record_at=newest_at,
        record_age=record_age,
        open_deals_without_amount=kpi_queries.open_deals_without_amount(cur, owners),
    )


def _as_utc(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)


def _three_digits(value: float) -> str:
    decimals = 0 if value >= 99.95 else 1 if value >= 9.995 else 2
    text = f"{value:.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def format_quantity(value: float) -> str:
    """A large plain number for cards: "830", "12.4K", "6.89M", "68.9T"."""
    sign = "-" if value < 0 else ""
    amount = abs(float(value))
    if amount < 999.5:
        return f"{sign}{amount:,.0f}"
    for threshold, suffix in ((1e3, "K"), (1e6, "M"), (1e9, "B"), (1e12, "T")):
        text = _three_digits(amount / threshold)
        if float(text) < 1000 or suffix == "T":
            return f"{sign}{text}{suffix}"
    raise AssertionError("unreachable")


def format_money(cents: int, *, compact: bool = True) -> str:
    """Dollars for display: "$1.24M", "$830K", "$950" (compact) or "$1,240,000" (full)."""
    sign = "-" if cents < 0 else ""
    dollars = abs(cents) / 100
    if not compact or dollars < 999.5:
        return f"{sign}${dollars:,.0f}"
    for threshold, suffix in ((1e3, "K"), (1e6, "M"), (1e9, "B")):
        text = _three_digits(dollars / threshold)
        if float(text) < 1000 or suffix == "B":
            return f"{sign}${text}{suffix}"
    raise AssertionError("unreachable")


def format_percent(fraction: float | None, *, signed: bool = False) -> str:
    """A fraction as a percentage with one decimal ("41.7%"), or "n/a" when unknown."""
    if fraction is None:
        return "n/a"
    return f"{fraction * 100:+.1f}%" if signed else f"{fraction * 100:.1f}%"


def describe_age(age: dt.timedelta) -> str:
    """How long ago, in words: "just now", "5 minutes ago", "2 days ago", "2 years 1 month ago"."""
    seconds = int(age.total_seconds())
    if age.days >= 31:
        return f"{describe_span(age.days)} ago"
    if seconds < 60:
        return "just now"
    for unit_seconds, unit in ((86400, "day"), (3600, "hour"), (60, "minute")):
        if seconds >= unit_seconds:
            count = seconds // unit_seconds
            return f"{count} {unit}{'' if count == 1 else 's'} ago"
    return "just now"
