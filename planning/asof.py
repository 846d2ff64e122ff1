"""The workspace's own "as of" date: the day every page and command measures periods from.

A CRM export can end years before today; measuring quarters from the wall clock would show
nothing. The as-of day is, in order of precedence: a session override (the sidebar's *Plan as
of*, a command's `--as-of`), the workspace setting `as_of`, the date of the newest CRM record
(never later than today), and today's UTC date for a workspace without data.

Timestamps of when something was done (audit events, telemetry, training and scoring runs)
stay on the wall clock; only the periods the figures cover follow the as-of day.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

import duckdb

from planning import audit
from planning.access.policy import Action, require
from planning.access.users import User
from planning.clock import now_utc, today_utc
from planning.errors import RevPlanError
from planning.periods import FiscalQuarter, fiscal_quarter_of
from planning.store import Workspace
from planning.store import asof as asof_queries
from planning.store import kpis as kpi_queries

AsOfSource = Literal["session", "workspace", "data", "clock"]

SOURCE_TEXT: dict[str, str] = {
    "session": "chosen for this session",
    "workspace": "workspace setting",
    "data": "newest record",
    "clock": "today, no data yet",
}
"""How each source reads in a sentence."""


class AsOfError(RevPlanError):
    """An as-of date that cannot be used; the message says what to change."""


@dataclass(frozen=True)
class AsOf:
    """The day a workspace's figures are measured from, where it came from, and the data's end.

    `newest_record` is the newest date any CRM record carries (None without data);
    `newest_close` the newest close date of a won or lost deal.
    """

    day: dt.date
    source: AsOfSource
    newest_record: dt.date | None = None
    newest_close: dt.date | None = None

    @property
    def source_text(self) -> str:
        """The source in words, e.g. "newest record"."""
        return SOURCE_TEXT[self.source]

    @property
    def sentence(self) -> str:
        """A plain sentence for pages, e.g. "Data as of 31 Dec 2017 (newest record); ..."."""
        text = f"Data as of {format_day(self.day)} ({self.source_text})"
        if self.newest_close is not None:
            text += f"; newest deal closed {format_day(self.newest_close)}"
        elif self.newest_record is not None and self.source != "data":
            text += f"; newest record {format_day(self.newest_record)}"
        return text

    def age(self, today: dt.date | None = None) -> dt.timedelta | None:
        """How long before `today` (UTC today by default) the newest record is, or None."""
        if self.newest_record is None:
            return None
        return max((today or today_utc()) - self.newest_record, dt.timedelta(0))

    def to_dict(self) -> dict[str, str | None]:
        """Machine-readable form with ISO dates."""
        return {
            "as_of": self.day.isoformat(),
            "source": self.source,
            "newest_record": None if self.newest_record is None else self.newest_record.isoformat(),
            "newest_close": None if self.newest_close is None else self.newest_close.isoformat(),
        }


def format_day(day: dt.date) -> str:
    """A date for people: "31 Dec 2017"."""
    return f"{day.day} {day:%b %Y}"


def describe_span(days: int) -> str:
    """A length of time in words: "3 days", "5 months", "2 years 11 months"."""
    if days < 31:
        return f"{days} day{'' if days == 1 else 's'}"
    months = round(days / 30.4375)
    years, months = divmod(months, 12)
    parts = []
    if years:
        parts.append(f"{years} year{'' if years == 1 else 's'}")
    if months:
        parts.append(f"{months} month{'' if months == 1 else 's'}")
    return " ".join(parts) or "1 month"


def parse_day(text: str) -> dt.date:
    """An ISO date (YYYY-MM-DD) given by a person, or AsOfError saying the expected form."""
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise AsOfError(
            f"As-of date {text!r} is not a date; write it as YYYY-MM-DD, e.g. 2017-12-31."
        ) from None


def read_as_of(
    cur: duckdb.DuckDBPyConnection, override: dt.date | None = None,
    today: dt.date | None = None,
) -> AsOf:
    """Resolve the as-of day on an open cursor (see `resolve_as_of`)."""
    today = today or today_utc()
    newest_at = asof_queries.newest_record_at(cur, today)
    newest = None if newest_at is None else newest_at.date()
    newest_close = asof_queries.newest_close_day(cur, today)
    if override is not None:
        return AsOf(override, "session", newest, newest_close)
    stored = asof_queries.stored_as_of(cur)
    if stored is not None:
        try:
            day = dt.date.fromisoformat(stored)
        except ValueError:
            raise AsOfError(
                f"Workspace setting as_of is {stored!r}; it must be a date (YYYY-MM-DD). "
                "Set it again with `revplan as-of --set DATE` or clear it with `--clear`."
            ) from None
        return AsOf(day, "workspace", newest, newest_close)
    if newest is not None:
        return AsOf(newest, "data", newest, newest_close)
    return AsOf(today, "clock", None, None)


def resolve_as_of(workspace: Workspace, override: dt.date | None = None) -> AsOf:
    """The as-of day of a workspace: the override, else its setting, else its data, else today."""
    return workspace.read_snapshot(lambda cur: read_as_of(cur, override))


def set_workspace_as_of(workspace: Workspace, actor: User | str, day: dt.date | None) -> AsOf:
    """Store (or with None clear) the workspace's as-of date, audited in the same transaction.

    A signed-in user must hold the right to change workspace settings (admin, RevOps); a plain
    name is the command line's operator, who holds the file itself, recorded
    with the role "operator" as imports do. Returns the as-of that now applies.
    """
    if isinstance(actor, User):
        require(actor, Action.OPEN_WORKSPACE, workspace.name)
        require(actor, Action.CHANGE_SETTINGS)
        role = actor.primary_role
        name, role_name = actor.email, None if role is None else role.value
    else:
        name, role_name = actor, "operator"

    def work(cur: duckdb.DuckDBPyConnection) -> None:
        before = asof_queries.stored_as_of(cur)
        after = None if day is None else day.isoformat()
        asof_queries.store_as_of(cur, day)
        audit.record(cur, actor=name, actor_role=role_name,
                     action="workspace.set_as_of" if day else "workspace.clear_as_of",
                     entity="workspace_settings", entity_id=asof_queries.AS_OF_KEY,
                     before=before, after=after)

    workspace.write(work)
    return resolve_as_of(workspace)


def quarters_between(first: dt.date, last: dt.date, start_month: int) -> list[FiscalQuarter]:
    """Every fiscal quarter from the one holding `first` to the one holding `last`, newest first."""
    quarter = fiscal_quarter_of(last, start_month)
    oldest = fiscal_quarter_of(min(first, last), start_month)
    quarters = [quarter]
    while quarter != oldest:
        quarter = quarter.previous()
        quarters.append(quarter)
    return quarters


def quarters_with_data(workspace: Workspace, as_of: dt.date) -> list[FiscalQuarter]:
    """Fiscal quarters from the oldest deal's creation or close date up to the as-of's quarter.

    Newest first; only the as-of's quarter for a workspace without deals. Quarter pickers offer
    these, so an export that ended years ago is still reachable.
    """
    def read(cur: duckdb.DuckDBPyConnection) -> tuple[int, dt.date | None]:
        return kpi_queries.fiscal_year_start_month(cur), asof_queries.oldest_deal_day(cur)

    start_month, oldest = workspace.read_snapshot(read)
    return quarters_between(oldest or as_of, as_of, start_month)


def fiscal_years_with_data(workspace: Workspace, as_of: dt.date) -> list[int]:
    """Fiscal years from the oldest deal's to the as-of's year plus the next, newest first."""
    quarters = quarters_with_data(workspace, as_of)
    years = sorted({q.fiscal_year for q in quarters} | {quarters[0].fiscal_year + 1})
    return years[::-1]


def as_of_moment(workspace: Workspace, now: dt.datetime | None = None) -> dt.datetime:
    """The moment (UTC, naive) models train and score at by default: the as-of day's end.

    When the as-of day is today or later, the current time instead, so nothing recorded later
    today is treated as known.
    """
    now = now or now_utc()
    day = resolve_as_of(workspace).day
    if day >= now.date():
        return now
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time())
