"""What people read about customer health: renewals at risk and one account's health.

Both read the active churn model's stored scores (`planning.health.training.score_accounts`)
and are scoped like deals: a rep sees the accounts they own, a manager their team's, the
workspace-wide roles (customer success, RevOps, finance...) every account.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field

import pandas as pd

from planning.access.policy import AccessDeniedError, Action, readable_owner_ids, require
from planning.access.users import User
from planning.errors import RevPlanError
from planning.health import scoring
from planning.health.training import COMPARE_DAYS, NoChurnModelError
from planning.store import Workspace
from planning.store import health as repo

RISK_BANDS: dict[str, tuple[float, float]] = {
    "high": (0.3, 1.01), "medium": (0.15, 0.3), "low": (0.0, 0.15)}
"""Churn-probability bands the page filters by: [low, high)."""

RENEWAL_COLUMNS = ["account_id", "account_name", "owner_id", "owner_name", "segment",
                   "renewal_date", "days_to_renewal", "arr_cents", "churn_probability",
                   "arr_at_risk_cents", "health_score", "risk", "top_reasons", "reason_codes",
                   "model_id", "as_of"]


class UnknownAccountError(RevPlanError):
    """An account id the workspace does not hold, or one without a health score."""


def risk_band(probability: float) -> str:
    """The band ('high', 'medium', 'low') a churn probability falls in."""
    for name, (low, high) in RISK_BANDS.items():
        if low <= probability < high:
            return name
    return "low"


def _active_model_id(cur) -> str | None:
    entry = repo.active_model(cur)
    return None if entry is None else entry[0]


def _latest_moment(cur, model_id: str, as_of: dt.datetime | None) -> dt.datetime | None:
    moments = repo.scored_moments(cur, model_id)
    if as_of is not None:
        moments = [m for m in moments if m <= as_of]
    return moments[0] if moments else None


def renewals_at_risk(
    workspace: Workspace, user: User | None, within_days: int = 90, *,
    owner_ids: list[str] | None = None, segments: list[str] | None = None,
    risks: list[str] | None = None, as_of: dt.datetime | None = None,
) -> pd.DataFrame:
    """Accounts in the user's scope renewing within `within_days` after the scoring moment,
    riskiest ARR first (columns RENEWAL_COLUMNS; money in cents; top_reasons the reasons'
    texts, strongest first, reason_codes their codes).

    Reads the newest scores of the active model (at or before `as_of` when given). Filters:
    `owner_ids` (each must be in the user's scope), `segments`, `risks` (RISK_BANDS names).
    `user` None is a system caller, which reads every account. NoChurnModelError before any
    model or scores exist.
    """
    scope = readable_owner_ids(user, workspace.name)
    if user is not None:
        require(user, Action.VIEW_HEALTH)
    for owner in owner_ids or []:
        if scope is not None and owner not in scope:
            raise AccessDeniedError(f"Owner {owner} is outside your team; pick one of yours.")
    owners = sorted(owner_ids) if owner_ids else (None if scope is None else sorted(scope))

    def read(cur) -> tuple[pd.DataFrame, dt.datetime | None]:
        model_id = _active_model_id(cur)
        if model_id is None:
            return pd.DataFrame(), None
        moment = _latest_moment(cur, model_id, as_of)
        if moment is None:
            return pd.DataFrame(), None
        return repo.scores_at(cur, model_id, moment, owners), moment

    frame, moment = workspace.read_snapshot(read)
    if moment is None:
        raise NoChurnModelError("No health scores yet: train the churn model (`revplan health "
                                "train-workspace`) or score the accounts first.")
    if frame.empty:
        return pd.DataFrame(columns=RENEWAL_COLUMNS)
    renewal = pd.to_datetime(frame["renewal_date"])
    frame["days_to_renewal"] = (renewal - pd.Timestamp(moment).normalize()).dt.days
    frame = frame[(frame["days_to_renewal"] >= 0) & (frame["days_to_renewal"] <= within_days)]
    if segments:
        frame = frame[frame["segment"].isin(segments)]
    frame = frame.assign(risk=frame["churn_probability"].map(risk_band))
    if risks:
        frame = frame[frame["risk"].isin(risks)]
    parsed = frame["reasons_json"].map(json.loads)
    frame = frame.assign(
        arr_at_risk_cents=(frame["arr_cents"] * frame["churn_probability"]).round().astype(
            "int64"),
        top_reasons=parsed.map(lambda rs: [r["text"] for r in rs]),
        reason_codes=parsed.map(lambda rs: [r["code"] for r in rs]),
        renewal_date=renewal[frame.index].dt.date,
    )
    return (frame.sort_values(["arr_at_risk_cents", "account_id"], ascending=[False, True],
                              kind="stable")[RENEWAL_COLUMNS].reset_index(drop=True))


@dataclass
class AccountHealth:
    """One account's health at the newest scoring moment, with what changed in a week and
    the timelines behind it."""

    account_id: str
    account_name: str
    segment: str | None
    owner_id: str | None
    owner_name: str | None
    as_of: dt.datetime
    model_id: str
    renewal_date: dt.date | None
    subscription_id: str | None
    arr_cents: int
    health_score: int
    components: dict[str, int | None]
    """Component name -> 0-100 (None when its measure is missing), see scoring.COMPONENT_WEIGHTS."""
    measures: dict[str, float | None]
    """The raw point-in-time measures (features) behind the components."""
    churn_probability: float
    reasons: list[dict[str, object]]
    """{code, component, text, effect}, strongest first; codes from scoring.REASON_CODES."""
    previous: dict[str, object] | None
    """The score COMPARE_DAYS earlier (health_score, churn_probability, components, reasons,
    as_of), None when none is stored."""
    changes: list[str] = field(default_factory=list)
    """What changed since the previous score, in words."""
    usage: pd.DataFrame = field(default_factory=pd.DataFrame)
    """month, active_users, events for months ended by as_of."""
    tickets: pd.DataFrame = field(default_factory=pd.DataFrame)
    """ticket_id, opened_at, closed_at (as known then), priority, open."""
    invoices: pd.DataFrame = field(default_factory=pd.DataFrame)
    """invoice_id, subscription_id, issued_on, due_on, paid_on (as known then), amount_cents."""

    @property
    def arr_at_risk_cents(self) -> int:
        """ARR renewing next times its churn probability."""
        return round(self.arr_cents * self.churn_probability)


def _score_dict(row: pd.Series) -> dict[str, object]:
    return {"health_score": int(row["health_score"]),
            "churn_probability": float(row["churn_probability"]),
            "components": json.loads(row["components_json"]),
            "reasons": json.loads(row["reasons_json"]),
            "as_of": pd.Timestamp(row["as_of"]).to_pydatetime()}


def account_health(workspace: Workspace, user: User | None, account_id: str, *,
                   as_of: dt.datetime | None = None) -> AccountHealth:
    """The health of one account the user may see, at the active model's newest scoring
    moment (at or before `as_of` when given): components, reasons, changes since the score a
    week earlier, and its usage, ticket and billing timelines as known then."""
    readable_owner_ids(user, workspace.name)
    if user is not None:
        require(user, Action.VIEW_HEALTH)

    def read(cur):
        details = repo.account_details(cur, account_id)
        model_id = _active_model_id(cur)
        scores = (pd.DataFrame() if model_id is None or details is None
                  else repo.account_scores(cur, model_id, account_id))
        return details, model_id, scores

    details, model_id, scores = workspace.read_snapshot(read)
    if details is None:
        raise UnknownAccountError(f"Account {account_id!r} is not in workspace "
                                  f"{workspace.name!r}.")
    if user is not None:
        require(user, Action.VIEW_HEALTH, details["owner_id"])
    if model_id is None:
        raise NoChurnModelError("No churn model is trained yet: train it first.")
    if as_of is not None and not scores.empty:
        scores = scores[pd.to_datetime(scores["as_of"]) <= pd.Timestamp(as_of)]
    if scores.empty:
        raise UnknownAccountError(
            f"Account {details['account_name']} has no health score: it has no live "
            "subscription at the scoring date, or the accounts were not scored since.")
    current = scores.iloc[0]
    moment = pd.Timestamp(current["as_of"]).to_pydatetime()
    earlier = scores[pd.to_datetime(scores["as_of"])
                     <= pd.Timestamp(moment) - pd.Timedelta(days=COMPARE_DAYS - 1)]
    previous = None if earlier.empty else _score_dict(earlier.iloc[0])
    now = _score_dict(current)

    def timelines(cur):
        return (repo.usage_timeline(cur, account_id, moment),
                repo.ticket_timeline(cur, account_id, moment),
                repo.invoice_timeline(cur, account_id, moment))

    usage, tickets, invoices = workspace.read_snapshot(timelines)
    days = COMPARE_DAYS if previous is None else max(
        (moment - previous["as_of"]).days, 1)
    return AccountHealth(
        account_id=account_id, account_name=details["account_name"],
        segment=details["segment"], owner_id=details["owner_id"],
        owner_name=details["owner_name"], as_of=moment, model_id=model_id,
        renewal_date=None if pd.isna(current["renewal_date"])
        else pd.Timestamp(current["renewal_date"]).date(),
        subscription_id=current["subscription_id"], arr_cents=int(current["arr_cents"]),
        health_score=now["health_score"], components=now["components"],
        measures=json.loads(current["features_json"]),
        churn_probability=now["churn_probability"], reasons=now["reasons"],
        previous=previous, changes=scoring.changes(now, previous, days),
        usage=usage, tickets=tickets, invoices=invoices)
