"""What changed in the pipeline between two moments: deals created, won, lost, pushed out of or
pulled into a quarter, amounts raised or cut, stages advanced or moved back, and the same in
words."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import NamedTuple

import pandas as pd

from planning.access.policy import readable_owner_ids
from planning.access.users import User
from planning.errors import RevPlanError
from planning.overview import format_money
from planning.periods import FiscalQuarter, fiscal_quarter_of
from planning.store import Workspace
from planning.store import forecasts as repo
from planning.store.kpis import fiscal_year_start_month


class Tally(NamedTuple):
    """A number of deals and an amount in cents."""

    deals: int
    cents: int


@dataclass(frozen=True)
class DealChanges:
    """What happened to the deals in scope between two moments."""

    since: dt.datetime
    until: dt.datetime
    quarter: FiscalQuarter
    """The quarter that pushes and pull-ins refer to (the one containing `until`)."""
    created: Tally
    won: Tally
    lost: Tally
    pushed_out: Tally
    pulled_in: Tally
    increased: Tally
    """Deals whose amount went up, and by how much in total."""
    cut: Tally
    """Deals whose amount went down, and by how much in total (a positive number)."""
    advanced: int
    moved_back: int


def _as_utc_naive(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(dt.UTC).replace(tzinfo=None)


def deal_changes(
    workspace: Workspace, viewer: User | None, since: dt.datetime, until: dt.datetime
) -> DealChanges:
    """Counts and amounts of what happened to deals in scope in [since, until): created, won,
    lost, pushed out of or pulled into the quarter containing `until`, amount raised or cut,
    stage advanced or moved back.

    Moves compare a deal's value before its first change in the window with the value after
    its last one, for deals still open at `until`; amounts of created, pushed and pulled deals
    are their current amounts.
    """
    since, until = _as_utc_naive(since), _as_utc_naive(until)
    if until <= since:
        raise RevPlanError("The end of the period must come after its start.")
    owners = readable_owner_ids(viewer, workspace.name)
    scope = None if owners is None else sorted(owners)

    def read(cur):
        return (
            fiscal_year_start_month(cur), repo.created_deals(cur, since, until, scope),
            repo.closed_deals(cur, since, until, scope),
            repo.field_moves(cur, "close_date", since, until, scope),
            repo.field_moves(cur, "amount", since, until, scope),
            repo.field_moves(cur, "stage", since, until, scope), repo.stage_ranks(cur),
        )

    start_month, created, closed, dates, amounts, stages, ranks = workspace.read_snapshot(read)
    quarter = fiscal_quarter_of(until.date(), start_month)
    old_date = pd.to_datetime(dates["old_value"], errors="coerce").dt.date
    new_date = pd.to_datetime(dates["new_value"], errors="coerce").dt.date
    known = old_date.notna() & new_date.notna()
    pushed = known & (old_date <= quarter.end) & (new_date > quarter.end)
    pulled = known & (old_date > quarter.end) & (new_date <= quarter.end)
    old_amount = pd.to_numeric(amounts["old_value"], errors="coerce")
    new_amount = pd.to_numeric(amounts["new_value"], errors="coerce")
    delta = (new_amount - old_amount).fillna(0)
    old_rank = stages["old_value"].map(ranks)
    new_rank = stages["new_value"].map(ranks)
    return DealChanges(
        since=since, until=until, quarter=quarter, created=Tally(*created),
        won=Tally(*closed["won"]), lost=Tally(*closed["lost"]),
        pushed_out=Tally(int(pushed.sum()), int(dates.loc[pushed, "amount_cents"].sum())),
        pulled_in=Tally(int(pulled.sum()), int(dates.loc[pulled, "amount_cents"].sum())),
        increased=Tally(int((delta > 0).sum()), int(delta[delta > 0].sum())),
        cut=Tally(int((delta < 0).sum()), int(-delta[delta < 0].sum())),
        advanced=int((new_rank > old_rank).sum()), moved_back=int((new_rank < old_rank).sum()),
    )


def _deals(count: int) -> str:
    return f"{count:,} deal{'' if count == 1 else 's'}"


def _verb(count: int) -> str:
    return "was" if count == 1 else "were"


def describe_changes(changes: DealChanges) -> list[str]:
    """The changes as short sentences (new, won, lost, pushed, pulled, amounts, stages);
    empty when nothing changed."""
    lines = []
    q = changes.quarter.label
    if changes.created.deals:
        lines.append(f"{changes.created.deals:,} new "
                     f"deal{'' if changes.created.deals == 1 else 's'} worth "
                     f"{format_money(changes.created.cents)} {_verb(changes.created.deals)} "
                     "created")
    if changes.won.deals:
        lines.append(f"{_deals(changes.won.deals)} worth {format_money(changes.won.cents)} "
                     f"{_verb(changes.won.deals)} won")
    if changes.lost.deals:
        lines.append(f"{_deals(changes.lost.deals)} ({format_money(changes.lost.cents)}) "
                     f"{_verb(changes.lost.deals)} lost")
    if changes.pushed_out.deals:
        lines.append(f"{_deals(changes.pushed_out.deals)} "
                     f"({format_money(changes.pushed_out.cents)}) pushed out of {q}")
    if changes.pulled_in.deals:
        lines.append(f"{_deals(changes.pulled_in.deals)} "
                     f"({format_money(changes.pulled_in.cents)}) pulled into {q}")
    if changes.increased.deals:
        lines.append(f"{_deals(changes.increased.deals)} grew by "
                     f"{format_money(changes.increased.cents)} in total")
    if changes.cut.deals:
        lines.append(f"{_deals(changes.cut.deals)} {_verb(changes.cut.deals)} cut by "
                     f"{format_money(changes.cut.cents)} in total")
    if changes.advanced:
        lines.append(f"{_deals(changes.advanced)} advanced to a later stage")
    if changes.moved_back:
        lines.append(f"{_deals(changes.moved_back)} moved back to an earlier stage")
    return lines


def changes_since(
    workspace: Workspace, viewer: User | None, since: dt.datetime, until: dt.datetime
) -> list[str]:
    """What changed in the viewer's deals between two moments, in words, e.g. "3 deals worth
    $1.2M were won" and "2 deals ($450K) pushed out of FY2026 Q4"."""
    return describe_changes(deal_changes(workspace, viewer, since, until))
