"""Point-in-time account features for renewals: what was known N days before each renewal.

A subscription renews on every anniversary of its renewal date back to its start (its
`renewal_date` is the next or, for a churned one, the final renewal). Every past anniversary
before the as-of moment is a training row: renewed, except the final renewal of a churned
subscription. Each row's features are the account's measures as of `horizon_days` before the
renewal (`planning.store.health`), so nothing recorded later can reach them. Scoring takes the
measures of each account with a live subscription at the as-of moment, for its next renewal.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from planning.health import scoring
from planning.store import Workspace
from planning.store import health as repo

HORIZON_DAYS = 60
"""Default: features are taken this many days before each renewal (workspace setting
`health_horizon_days`)."""
WINDOW_DAYS = 60
"""Tickets, activities and the recent usage are counted over this window before a moment."""
PREVIOUS_USAGE_DAYS = 90
"""The usage trend compares the recent window with this many days before it."""
BILLING_LOOKBACK_DAYS = 365
NPS_LOOKBACK_DAYS = 365
MIN_TERM_DAYS = 180
"""An anniversary closer than this to the subscription's start is not a renewal."""

NUMERIC_FEATURES = (
    "usage_trend", "active_users_recent", "seat_utilisation", "account_seats", "usage_months",
    "tickets_window", "severe_tickets_window", "open_tickets", "open_severe_tickets",
    "overdue_invoices", "mean_days_late", "activities_window", "days_since_activity", "nps",
    "renewal_number", "log_arr", "seats",
)
COMPONENT_FEATURES = tuple(f"score_{name}" for name in scoring.COMPONENT_WEIGHTS)
"""The health score's 0-100 components (`planning.health.scoring`) as model inputs too: their
floors and caps capture where a measure stops mattering."""
CATEGORICAL_FEATURES = ("segment", "product_id")
FEATURES = NUMERIC_FEATURES + COMPONENT_FEATURES + CATEGORICAL_FEATURES

FEATURE_SOURCES: dict[str, str] = {
    "usage_trend": "usage.active_users", "active_users_recent": "usage.active_users",
    "seat_utilisation": "usage.active_users", "usage_months": "usage.month",
    "account_seats": "subscriptions.seats", "seats": "subscriptions.seats",
    "tickets_window": "tickets.opened_at", "severe_tickets_window": "tickets.priority",
    "open_tickets": "tickets.closed_at", "open_severe_tickets": "tickets.closed_at",
    "overdue_invoices": "invoices.paid_on", "mean_days_late": "invoices.paid_on",
    "activities_window": "activities.occurred_at",
    "days_since_activity": "activities.occurred_at",
    "nps": "nps_responses.score", "renewal_number": "subscriptions.start_date",
    "log_arr": "subscriptions.arr_cents", "segment": "accounts.segment",
    "product_id": "subscriptions.product_id",
    "score_usage_trend": "usage.active_users", "score_seat_utilisation": "usage.active_users",
    "score_support": "tickets.opened_at", "score_billing": "invoices.paid_on",
    "score_engagement": "activities.occurred_at", "score_nps": "nps_responses.score",
}
"""The workspace field each feature is computed from: when the leakage guard finds one feature
of a field giving the outcome away, every feature of that field is left out with it."""


@dataclass(frozen=True)
class FeatureWindows:
    """How far back each measure looks (days)."""

    horizon_days: int = HORIZON_DAYS
    window_days: int = WINDOW_DAYS
    previous_usage_days: int = PREVIOUS_USAGE_DAYS

    @property
    def recent_months(self) -> int:
        """Complete usage months in the recent window."""
        return max(1, round(self.window_days / 30))

    @property
    def previous_months(self) -> int:
        """Complete usage months in the comparison window."""
        return max(1, round(self.previous_usage_days / 30))


def renewal_events(subscriptions: pd.DataFrame, as_of: dt.datetime) -> pd.DataFrame:
    """Every resolved renewal before `as_of`: one row per subscription anniversary.

    Columns: the subscription's columns, renewal_on (date), renewal_number (1 for the first
    anniversary), churned (1 at the final renewal of a churned subscription, else 0). The final
    renewal date of a subscription still marked active is not resolved and left out.
    """
    cutoff = pd.Timestamp(as_of)
    start = pd.to_datetime(subscriptions["start_date"])
    final = pd.to_datetime(subscriptions["renewal_date"])
    churned = (subscriptions["status"] == "churned").to_numpy()
    parts = []
    back = 0
    while True:
        on = final - pd.DateOffset(years=back)
        term = ((on - start).dt.days >= MIN_TERM_DAYS).to_numpy()
        if not term.any():
            break
        keep = term & (on < cutoff).to_numpy() & ((back > 0) | churned)
        parts.append(pd.DataFrame({
            "subscription_id": subscriptions["subscription_id"].to_numpy()[keep],
            "renewal_on": on.to_numpy()[keep],
            "churned": ((back == 0) & churned[keep]).astype(int)}))
        back += 1
    events = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        {"subscription_id": pd.Series(dtype=str), "renewal_on": pd.Series(dtype="datetime64[ns]"),
         "churned": pd.Series(dtype=int)})
    events = events.merge(subscriptions, on="subscription_id")
    events["renewal_number"] = _renewal_number(events)
    return events.sort_values(["renewal_on", "subscription_id"], kind="stable").reset_index(
        drop=True)


def _renewal_number(rows: pd.DataFrame) -> pd.Series:
    days = (pd.to_datetime(rows["renewal_on"]) - pd.to_datetime(rows["start_date"])).dt.days
    return np.maximum(np.round(days / 365.25), 1).astype(int)


def next_renewals(subscriptions: pd.DataFrame, as_of: dt.datetime) -> pd.DataFrame:
    """Each account with a subscription live at `as_of`, with its next renewal after it.

    Columns: the renewing subscription's columns (the largest ARR when several renew the same
    day), renewal_on, renewal_number, and renewing_arr_cents (ARR of every live subscription of
    the account renewing that day).
    """
    moment = pd.Timestamp(as_of)
    live = subscriptions[(pd.to_datetime(subscriptions["start_date"]) <= moment)
                         & (pd.to_datetime(subscriptions["renewal_date"]) > moment)].copy()
    if live.empty:
        return live.assign(renewal_on=pd.Series(dtype="datetime64[ns]"),
                           renewal_number=pd.Series(dtype=int),
                           renewing_arr_cents=pd.Series(dtype="int64"))
    final = pd.to_datetime(live["renewal_date"])
    years_ahead = np.floor((final - moment).dt.days / 365.25).astype(int)
    upcoming = [f - pd.DateOffset(years=int(y)) for f, y in zip(final, years_ahead, strict=True)]
    upcoming = [u if u > moment else u + pd.DateOffset(years=1) for u in upcoming]
    live["renewal_on"] = pd.to_datetime(pd.Series(upcoming, index=live.index)).dt.normalize()
    live["renewal_number"] = _renewal_number(live)
    first = live.groupby("account_id")["renewal_on"].transform("min")
    renewing = live[live["renewal_on"] == first]
    arr = renewing.groupby("account_id")["arr_cents"].sum().rename("renewing_arr_cents")
    chosen = (renewing.sort_values(["arr_cents", "subscription_id"], ascending=[False, True],
                                   kind="stable")
              .drop_duplicates("account_id"))
    return (chosen.merge(arr, left_on="account_id", right_index=True)
            .sort_values(["renewal_on", "account_id"], kind="stable").reset_index(drop=True))


def measures(workspace: Workspace, moments: pd.DataFrame, windows: FeatureWindows
             ) -> pd.DataFrame:
    """The raw point-in-time measures of each (row_id, account_id, moment), by row_id."""
    moments = moments.assign(row_id=moments["row_id"].astype("int64"),
                             account_id=moments["account_id"].astype(str),
                             moment=pd.to_datetime(moments["moment"]))

    def read(cur) -> list[pd.DataFrame]:
        return [
            repo.usage_at(cur, moments, windows.recent_months, windows.previous_months),
            repo.tickets_at(cur, moments, windows.window_days),
            repo.invoices_at(cur, moments, BILLING_LOOKBACK_DAYS),
            repo.activities_at(cur, moments, windows.window_days),
            repo.nps_at(cur, moments, NPS_LOOKBACK_DAYS),
        ]

    out = moments[["row_id"]].copy()
    for part in workspace.read_snapshot(read):
        out = out.merge(part, on="row_id", how="left")
    return out


def feature_matrix(rows: pd.DataFrame, raw: pd.DataFrame) -> pd.DataFrame:
    """Model inputs from renewal rows (subscription columns, renewal_number) and their measures
    (merged by position: raw row i belongs to rows row i)."""
    raw = raw.reset_index(drop=True).astype({c: float for c in raw.columns if c != "row_id"})
    previous = raw["active_previous"]
    seats = raw["account_seats"]
    matrix = pd.DataFrame({
        "usage_trend": np.where(previous > 0, raw["active_recent"] / previous - 1, np.nan),
        "active_users_recent": raw["active_recent"],
        "seat_utilisation": np.where(seats > 0, raw["active_recent"] / seats, np.nan),
        "account_seats": seats,
        "usage_months": raw["usage_months"],
        "tickets_window": raw["tickets_window"],
        "severe_tickets_window": raw["severe_tickets_window"],
        "open_tickets": raw["open_tickets"],
        "open_severe_tickets": raw["open_severe_tickets"],
        "overdue_invoices": raw["overdue_invoices"],
        "mean_days_late": raw["mean_days_late"],
        "activities_window": raw["activities_window"],
        "days_since_activity": raw["days_since_activity"].clip(upper=365),
        "nps": raw["nps"],
        "renewal_number": rows["renewal_number"].to_numpy(dtype=float),
        "log_arr": np.log1p(rows["arr_cents"].to_numpy(dtype=float).clip(min=0) / 100),
        "seats": rows["seats"].to_numpy(dtype=float),
    })
    for name, values in scoring.components(matrix).items():
        matrix[f"score_{name}"] = values
    for column in CATEGORICAL_FEATURES:
        matrix[column] = rows[column].fillna("").astype(str).to_numpy()
    return matrix


@dataclass
class RenewalRows:
    """Renewal rows with their features: training rows (with `churned`) or accounts to score."""

    rows: pd.DataFrame
    matrix: pd.DataFrame
    moments: pd.Series
    """The moment each row's features describe."""


def training_rows(workspace: Workspace, as_of: dt.datetime, windows: FeatureWindows,
                  subscriptions: pd.DataFrame | None = None) -> RenewalRows:
    """Past renewals before `as_of` with features as of `horizon_days` before each."""
    subs = workspace.read(repo.subscriptions) if subscriptions is None else subscriptions
    events = renewal_events(subs, as_of)
    moments = pd.to_datetime(events["renewal_on"]) - pd.Timedelta(days=windows.horizon_days)
    frame = pd.DataFrame({"row_id": np.arange(len(events)), "account_id": events["account_id"],
                          "moment": moments})
    raw = measures(workspace, frame, windows)
    return RenewalRows(events, feature_matrix(events, raw), moments)


def scoring_rows(workspace: Workspace, as_of: dt.datetime, windows: FeatureWindows,
                 subscriptions: pd.DataFrame | None = None) -> RenewalRows:
    """Each account with a live subscription at `as_of`, for its next renewal, with features
    as of `as_of`."""
    subs = workspace.read(repo.subscriptions) if subscriptions is None else subscriptions
    upcoming = next_renewals(subs, as_of)
    moments = pd.Series(pd.Timestamp(as_of), index=upcoming.index)
    frame = pd.DataFrame({"row_id": np.arange(len(upcoming)),
                          "account_id": upcoming["account_id"], "moment": moments})
    raw = measures(workspace, frame, windows)
    return RenewalRows(upcoming, feature_matrix(upcoming, raw), moments)
