"""Forecast calls (commit and best case) and their overrides.

Calls are rows of `forecast_snapshots` that are only ever inserted: an override is a new row
pointing at the call it overrides, with the manager's reason, so every number anyone submitted
stays on record with the model's view at that moment.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from planning import audit
from planning.access.policy import AccessDeniedError, Action, require
from planning.access.roles import Role
from planning.access.users import User, same_email
from planning.clock import now_utc
from planning.errors import RevPlanError
from planning.overview import format_money
from planning.periods import FiscalQuarter, fiscal_quarter_of
from planning.pipeline.forecast import (
    DEFAULT_DRAWS,
    DEFAULT_SEED,
    QuarterForecast,
    SubjectForecast,
    quarter_forecast,
)
from planning.pipeline.forecast_history import Call, call_from, forecast_history
from planning.pipeline.forecast_scope import (
    COMPANY,
    Level,
    as_of_day,
    check_level,
    forecast_levels,
)
from planning.store import Workspace
from planning.store import forecasts as repo
from planning.store.kpis import fiscal_year_start_month

MAX_COMMENT = 2_000


@dataclass(frozen=True)
class CallTarget:
    """A level and subject someone may submit a call for."""

    level: Level
    subject_id: str
    name: str


@dataclass(frozen=True)
class SubjectCall:
    """A call together with the subject it is for."""

    target: CallTarget
    call: Call


def _managed_teams(workspace: Workspace, user: User) -> list[str]:
    """Teams of the people below a user in the reporting lines (all teams for a
    workspace-wide user)."""
    if user.sees_everything:
        return workspace.read(repo.team_names)
    below = sorted((user.deal_owner_ids or frozenset()) - {user.rep_id})
    if not below:
        return []
    people = workspace.read(lambda cur: repo.reps(cur, below))
    return sorted({str(t) for t in people["team"].dropna()})


def call_targets(workspace: Workspace, user: User, level: Level | None = None) -> list[CallTarget]:
    """Where a user may submit a call: a seller for their own book, a manager for their team,
    a sales leader for the company or any team. Optionally only at one level."""
    if user is None or not user.has_any({Role.SALES_LEADER, Role.MANAGER, Role.REP}):
        return []
    require(user, Action.OPEN_WORKSPACE, workspace.name)
    targets: list[CallTarget] = []
    if user.has_any({Role.SALES_LEADER}):
        targets.append(CallTarget("company", COMPANY, "Company"))
    if user.has_any({Role.SALES_LEADER, Role.MANAGER}):
        targets += [CallTarget("team", team, team) for team in _managed_teams(workspace, user)]
    if user.rep_id is not None:
        me = workspace.read(lambda cur: repo.reps(cur, [user.rep_id]))
        name = str(me["name"].iat[0]) if len(me) and pd.notna(me["name"].iat[0]) else user.name
        targets.append(CallTarget("rep", user.rep_id, name))
    return [t for t in targets if level is None or t.level == level]


def _checked_money(commit_cents: int, best_case_cents: int) -> tuple[int, int]:
    for label, value in (("Commit", commit_cents), ("Best case", best_case_cents)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer):
            raise RevPlanError(f"{label} must be a whole number of cents, not {value!r}.")
        if value < 0:
            raise RevPlanError(f"{label} cannot be negative.")
    if best_case_cents < commit_cents:
        raise RevPlanError(
            f"Best case ({format_money(best_case_cents, compact=False)}) must be at least the "
            f"commit ({format_money(commit_cents, compact=False)})."
        )
    return int(commit_cents), int(best_case_cents)


def _check_open_quarter(quarter: FiscalQuarter, today: dt.date) -> None:
    if quarter.end < today:
        raise RevPlanError(
            f"{quarter.label} ended on {quarter.end:%d %b %Y}; calls are for the current "
            "quarter or a later one."
        )


def _role_name(user: User) -> str | None:
    role = user.primary_role
    return None if role is None else role.value


def _snapshot_row(
    user: User, quarter: FiscalQuarter, level: Level, subject: SubjectForecast,
    forecast: QuarterForecast, commit: int, best: int,
) -> dict[str, object]:
    return {
        "submitted_at": now_utc(), "submitted_by": user.email, "submitted_role": _role_name(user),
        "quarter_label": quarter.label, "quarter_start": quarter.start,
        "quarter_end": quarter.end, "level": level, "subject_id": subject.subject_id,
        "commit_cents": commit, "best_case_cents": best,
        "closed_won_cents": subject.closed_won_cents, "model_p10_cents": subject.p10_cents,
        "model_p50_cents": subject.p50_cents, "model_p90_cents": subject.p90_cents,
        "model_id": forecast.model_id,
    }


def _audit_view(row: dict[str, object]) -> dict[str, object]:
    keys = ("quarter_label", "level", "subject_id", "commit_cents", "best_case_cents",
            "closed_won_cents", "model_p10_cents", "model_p50_cents", "model_p90_cents",
            "model_id", "comment", "overrides_snapshot_id")
    return {k: row.get(k) for k in keys}


def submit_call(
    workspace: Workspace, user: User, quarter: FiscalQuarter, level: Level, subject_id: str,
    commit_cents: int, best_case_cents: int, comment: str | None = None, *,
    today: dt.date | None = None, draws: int = DEFAULT_DRAWS, seed: int = DEFAULT_SEED,
) -> int:
    """Record a call (commit and best case) for a subject and quarter; returns its snapshot id.

    A rep calls for themselves, a manager for themselves or their team, a sales leader for the
    company or a team. The row keeps the model's P10/P50/P90 and the closed-won amount of that
    moment, and an audit event is written in the same transaction.
    """
    require(user, Action.SUBMIT_CALL)
    today = today or as_of_day(workspace)
    _check_open_quarter(quarter, today)
    commit, best = _checked_money(commit_cents, best_case_cents)
    allowed = {(t.level, t.subject_id) for t in call_targets(workspace, user)}
    if (level, subject_id) not in allowed:
        raise AccessDeniedError(
            f"You may not submit a {level} call for {subject_id!r}: reps call for themselves, "
            "managers for themselves or their team, sales leaders for the company or a team."
        )
    text = (comment or "").strip() or None
    if text is not None and len(text) > MAX_COMMENT:
        raise RevPlanError(f"The comment is longer than {MAX_COMMENT:,} characters.")
    forecast = quarter_forecast(workspace, user, quarter, level, draws, seed, today)
    subject = _find_subject(forecast, subject_id)
    row = _snapshot_row(user, quarter, level, subject, forecast, commit, best) | {"comment": text}

    def store(cur) -> int:
        new_id = repo.insert_snapshot(cur, row)
        audit.record(cur, actor=user.email, actor_role=_role_name(user),
                     action="forecast.submit_call", entity="forecast_snapshot",
                     entity_id=str(new_id), after=_audit_view(row))
        return new_id

    return workspace.write(store)


def _find_subject(forecast: QuarterForecast, subject_id: str) -> SubjectForecast:
    """The subject's forecast; a permitted subject without reps or deals forecasts zero."""
    try:
        return forecast.subject(subject_id)
    except KeyError:
        return SubjectForecast(
            level=forecast.level, subject_id=subject_id, name=subject_id, closed_won_cents=0,
            closed_won_deals=0, pipeline_cents=0, pipeline_deals=0, expected_open_cents=0,
            p10_cents=0, p50_cents=0, p90_cents=0, mean_cents=0, rep_call=None,
            manager_call=None,
        )


def _may_override(user: User, original: dict[str, object], teams: list[str]) -> bool:
    """True when the call's subject lies in the user's scope (`teams`: the teams they lead)
    and the call is not their own."""
    if same_email(str(original["submitted_by"]), user.email):
        return False
    level, subject = str(original["level"]), str(original["subject_id"])
    if level not in forecast_levels(user):
        return False
    if level == "rep":
        return user.sees_everything or subject in (user.deal_owner_ids or frozenset())
    if level == "team":
        return subject in teams
    return user.sees_everything


def override_call(
    workspace: Workspace, manager: User, snapshot_id: int, commit_cents: int,
    best_case_cents: int, reason: str, *, today: dt.date | None = None,
    draws: int = DEFAULT_DRAWS, seed: int = DEFAULT_SEED,
) -> int:
    """Override someone's call with the manager's numbers and reason; returns the new id.

    The original row stays as it was: the override is a new row pointing at it, with the
    model's view at this moment, and an audit event in the same transaction.
    """
    require(manager, Action.OVERRIDE_CALL)
    today = today or as_of_day(workspace)
    reason_text = (reason or "").strip()
    if not reason_text:
        raise RevPlanError("Say why you override the call: a reason is required.")
    if len(reason_text) > MAX_COMMENT:
        raise RevPlanError(f"The reason is longer than {MAX_COMMENT:,} characters.")
    commit, best = _checked_money(commit_cents, best_case_cents)
    original = workspace.read(lambda cur: repo.snapshot(cur, int(snapshot_id)))
    if original is None:
        raise RevPlanError(f"There is no forecast call #{snapshot_id}.")
    if not _may_override(manager, original, _managed_teams(workspace, manager)):
        raise AccessDeniedError(
            f"Call #{snapshot_id} is outside what you may override: only calls of people or "
            "teams in your scope, and never your own."
        )
    quarter = fiscal_quarter_of(original["quarter_start"],
                                workspace.read(fiscal_year_start_month))
    _check_open_quarter(quarter, today)
    level = check_level(manager, str(original["level"]))
    forecast = quarter_forecast(workspace, manager, quarter, level, draws, seed, today)
    subject = _find_subject(forecast, str(original["subject_id"]))
    row = _snapshot_row(manager, quarter, level, subject, forecast, commit, best) | {
        "overrides_snapshot_id": int(snapshot_id), "override_reason": reason_text,
    }

    def store(cur) -> int:
        new_id = repo.insert_snapshot(cur, row)
        audit.record(cur, actor=manager.email, actor_role=_role_name(manager),
                     action="forecast.override_call", entity="forecast_snapshot",
                     entity_id=str(new_id), before=_audit_view(original),
                     after=_audit_view(row), reason=reason_text)
        return new_id

    return workspace.write(store)


def overridable_calls(
    workspace: Workspace, user: User, quarter: FiscalQuarter
) -> list[SubjectCall]:
    """The latest own call of each subject the user may override in a quarter, newest first."""
    if user is None or not user.has_any({Role.SALES_LEADER, Role.MANAGER}):
        return []
    history = forecast_history(workspace, user, quarter)
    own = history[~history["is_override"]].drop_duplicates(["level", "subject_id"], keep="last")
    teams = _managed_teams(workspace, user)
    result = []
    for row in own.iloc[::-1].to_dict("records"):
        if _may_override(user, row, teams):
            target = CallTarget(row["level"], str(row["subject_id"]), str(row["subject_name"]))
            result.append(SubjectCall(target, call_from(row)))
    return result
