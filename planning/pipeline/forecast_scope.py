"""Who may forecast what: the levels of a forecast (company, team, rep), the ones a user may
see, and the as-of day forecasts and calls default to."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from planning.access.policy import AccessDeniedError
from planning.access.roles import Role
from planning.access.users import User
from planning.asof import resolve_as_of
from planning.errors import RevPlanError
from planning.store import Workspace

Level = Literal["company", "team", "rep"]
LEVELS: tuple[Level, ...] = ("company", "team", "rep")
COMPANY = "company"
"""The subject id of the company-level forecast and calls."""
NO_TEAM = "No team"
"""The team subject of deals whose owner has no team in the CRM data."""


def as_of_day(workspace: Workspace) -> dt.date:
    """The workspace's as-of day, the default "today" of forecasts (see `planning.asof`)."""
    return resolve_as_of(workspace).day


def forecast_levels(user: User | None) -> tuple[Level, ...]:
    """The levels a user may forecast at: the company and teams need a workspace-wide view,
    teams a manager's, and everyone with a scope may see reps."""
    if user is None or user.sees_everything:
        return LEVELS
    if Role.MANAGER in user.roles:
        return ("team", "rep")
    return ("rep",)


def natural_level(user: User | None) -> Level:
    """The level a user looks at first: the company for workspace-wide roles, the team for a
    manager, the rep's own book for a rep."""
    return forecast_levels(user)[0]


def check_level(user: User | None, level: str) -> Level:
    """The level named, refused with one clear line when it is unknown or outside the user's
    scope (see `forecast_levels`)."""
    if level not in LEVELS:
        raise RevPlanError(f"Unknown forecast level {level!r}; use one of {', '.join(LEVELS)}.")
    if level not in forecast_levels(user):
        raise AccessDeniedError(
            f"The {level} forecast covers deals outside your scope; you may view: "
            f"{', '.join(forecast_levels(user))}."
        )
    return level  # type: ignore[return-value]
