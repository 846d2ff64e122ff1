"""The workspace summary `revplan summary` prints: the Home KPIs, readable by people and scripts.

Bookings cover every fiscal quarter with deals up to the as-of day (at least the last eight),
so an export that ended years ago shows its own quarters. Money stays integer cents; the JSON
form also gives dollars.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import duckdb

from planning.asof import AsOf, format_day, quarters_between, read_as_of
from planning.overview import (
    BOOKINGS_QUARTERS,
    QuarterBookings,
    WorkspaceKpis,
    format_money,
    format_percent,
    win_rate,
    workspace_kpis,
)
from planning.periods import recent_quarters
from planning.store import Workspace
from planning.store import asof as asof_queries
from planning.store import kpis as kpi_queries
from planning.store import locations as location_queries

PRECISION_NAMES = {
    "given": "coordinates in the export",
    "zip": "postal code",
    "city": "city",
    "region": "state or region",
    "country": "country centroid",
    "none": "not located",
}


@dataclass(frozen=True)
class WorkspaceSummary:
    """The Home KPIs of a workspace at its as-of day, with bookings of every quarter with data.

    `bookings` runs oldest first and ends with the as-of's quarter (to date). `won` and `lost`
    count deals closed in those quarters up to the as-of day; `located` maps a location
    precision to its number of accounts.
    """

    kpis: WorkspaceKpis
    as_of: AsOf
    bookings: tuple[QuarterBookings, ...]
    won: int
    lost: int
    located: dict[str, int]

    @property
    def win_rate(self) -> float | None:
        """Deals won ÷ deals won or lost over the quarters shown."""
        return win_rate(self.won, self.lost)

    def to_dict(self) -> dict[str, Any]:
        """Machine-readable form: money in cents and dollars, dates ISO."""
        kpis = self.kpis
        return {
            "workspace": kpis.workspace,
            **self.as_of.to_dict(),
            "current_quarter": kpis.current_quarter.label,
            "open_pipeline": {**_money(kpis.open_pipeline_cents),
                              "deals": kpis.open_pipeline_deals,
                              "deals_without_amount": kpis.open_deals_without_amount},
            "bookings_by_quarter": [
                {"quarter": q.quarter.label, "start": q.quarter.start.isoformat(),
                 "end": q.quarter.end.isoformat(), **_money(q.cents), "deals": q.deals,
                 "to_date": q.to_date}
                for q in self.bookings
            ],
            "win_rate": {"won": self.won, "lost": self.lost, "rate": self.win_rate,
                         "last_quarter": kpis.win_rate_last_quarter,
                         "last_quarter_label": kpis.last_quarter.label},
            "accounts": kpis.accounts,
            "active_reps": kpis.active_reps,
            "newest_record_at": _iso(kpis.newest_record_at),
            "last_import_at": _iso(kpis.data_as_of),
            "located_accounts": dict(self.located),
        }

    def to_text(self) -> str:
        """Lines for people."""
        kpis, as_of = self.kpis, self.as_of
        lines = [
            f"Workspace {kpis.workspace}: as of {as_of.day.isoformat()} ({as_of.source_text}).",
            as_of.sentence + ".",
            f"Open pipeline: {format_money(kpis.open_pipeline_cents, compact=False)} in "
            f"{_deals(kpis.open_pipeline_deals)}"
            + (f" ({kpis.open_deals_without_amount:,} without an amount)."
               if kpis.open_deals_without_amount else "."),
            f"Win rate: {format_percent(self.win_rate)} ({self.won:,} won, {self.lost:,} lost "
            f"from {self.bookings[0].quarter.label} to {self.bookings[-1].quarter.label}); "
            f"{kpis.last_quarter.label}: {format_percent(kpis.win_rate_last_quarter)}.",
            f"Accounts: {kpis.accounts:,}. Active reps: {kpis.active_reps:,}.",
            "Bookings by fiscal quarter (won deals by close date):",
        ]
        width = max(len(format_money(q.cents, compact=False)) for q in self.bookings)
        for q in self.bookings:
            note = f" (to {format_day(kpis.today)})" if q.to_date else ""
            lines.append(f"  {q.quarter.label}  {format_money(q.cents, compact=False):>{width}}"
                         f"  {_deals(q.deals):>11}{note}")
        if self.located:
            parts = [f"{count:,} {PRECISION_NAMES.get(key, key)}"
                     for key, count in self.located.items()]
            lines.append("Accounts by location precision: " + ", ".join(parts) + ".")
        return "\n".join(lines)


def _deals(count: int) -> str:
    return f"{count:,} deal{'' if count == 1 else 's'}"


def _money(cents: int) -> dict[str, Any]:
    return {"cents": int(cents), "dollars": round(cents / 100, 2)}


def _iso(moment: dt.datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def workspace_summary(workspace: Workspace, as_of: dt.date | None = None) -> WorkspaceSummary:
    """Summarise a workspace as of a day (default: its own as-of day, see `planning.asof`)."""

    def read(cur: duckdb.DuckDBPyConnection) -> tuple[AsOf, list, tuple, dict[str, int]]:
        resolved = read_as_of(cur, as_of)
        start_month = kpi_queries.fiscal_year_start_month(cur)
        day = resolved.day
        quarters = quarters_between(asof_queries.oldest_deal_day(cur) or day, day, start_month)
        if len(quarters) < BOOKINGS_QUARTERS:
            quarters = recent_quarters(day, BOOKINGS_QUARTERS, start_month)[::-1]
        quarters = quarters[::-1]
        totals = kpi_queries.won_bookings(cur, [(q.start, min(q.end, day)) for q in quarters])
        bookings = [QuarterBookings(q, t.cents, t.deals, to_date=q.contains(day))
                    for q, t in zip(quarters, totals, strict=True)]
        result = kpi_queries.win_loss(cur, quarters[0].start, day)
        return resolved, bookings, tuple(result), location_queries.located_accounts_by_precision(
            cur)

    resolved, bookings, (won, lost), located = workspace.read_snapshot(read)
    kpis = workspace_kpis(workspace, as_of=resolved)
    return WorkspaceSummary(kpis, resolved, tuple(bookings), won, lost, located)
