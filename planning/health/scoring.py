"""The health score 0-100, its components, and the reasons behind a churn risk in words.

Each component is a 0-100 sub-score of one point-in-time measure (`planning.health.features`):

- usage_trend: active users of the last 60 days against the 90 before; 100 when flat or
  growing, 0 when down 50 % or more.
- seat_utilisation: active users / live seats; 100 at 80 % or more, 0 at 20 % or less.
- support: 100 less 8 per ticket opened in 60 days, 5 more per urgent or high one of those,
  and 20 per urgent or high ticket open now.
- billing: 100 less 25 per invoice overdue now and 2 per day late on average over the last
  year.
- engagement: 20 per activity on the account or its deals in 60 days (100 from 5 on).
- nps: 10 per point of the mean NPS answer (0-10) of the last year.

The health score is the weighted mean of the components present (COMPONENT_WEIGHTS: usage trend
20 %, seat utilisation 25 %, support 20 %, billing 15 %, engagement 10 %, NPS 10 %); a missing
component (no usage rows, no NPS survey) leaves its weight to the others. The churn probability
comes from the model; the score is the plain account of where a customer stands, and serves as
the model card's baseline.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

COMPONENT_WEIGHTS: dict[str, float] = {
    "usage_trend": 0.20, "seat_utilisation": 0.25, "support": 0.20, "billing": 0.15,
    "engagement": 0.10, "nps": 0.10,
}
COMPONENT_NAMES: dict[str, str] = {
    "usage_trend": "usage trend", "seat_utilisation": "seat utilisation",
    "support": "support load", "billing": "billing", "engagement": "engagement", "nps": "NPS",
}

REASON_CODES = ("usage_decline", "low_seat_utilisation", "support_load", "severe_tickets",
                "billing_delay", "low_engagement", "low_nps")
REASON_FEATURES: dict[str, tuple[str, ...]] = {
    "usage_decline": ("usage_trend", "active_users_recent", "score_usage_trend"),
    "low_seat_utilisation": ("seat_utilisation", "score_seat_utilisation"),
    "support_load": ("tickets_window", "open_tickets", "score_support"),
    "severe_tickets": ("open_severe_tickets", "severe_tickets_window"),
    "billing_delay": ("overdue_invoices", "mean_days_late", "score_billing"),
    "low_engagement": ("activities_window", "days_since_activity", "score_engagement"),
    "low_nps": ("nps", "score_nps"),
}
"""The model features whose effect on the churn probability orders each reason."""
REASON_COMPONENT: dict[str, str] = {
    "usage_decline": "usage_trend", "low_seat_utilisation": "seat_utilisation",
    "support_load": "support", "severe_tickets": "support", "billing_delay": "billing",
    "low_engagement": "engagement", "low_nps": "nps",
}
USAGE_DECLINE = -0.15
LOW_UTILISATION = 0.5
SUPPORT_LOAD_TICKETS = 5
LATE_DAYS = 7.0
LOW_NPS = 6.0
SEVERE = "urgent or high ticket"


def _clip(values: np.ndarray) -> np.ndarray:
    return np.clip(values, 0.0, 100.0)


def components(matrix: pd.DataFrame) -> pd.DataFrame:
    """The 0-100 components of each row (NaN where the measure is missing)."""
    value = {c: matrix[c].to_numpy(dtype=float) for c in (
        "usage_trend", "seat_utilisation", "tickets_window", "severe_tickets_window",
        "open_severe_tickets", "overdue_invoices", "mean_days_late", "activities_window",
        "nps")}
    late = np.nan_to_num(value["mean_days_late"])
    return pd.DataFrame({
        "usage_trend": _clip(100 + 200 * np.minimum(value["usage_trend"], 0)),
        "seat_utilisation": _clip((value["seat_utilisation"] - 0.2) / 0.6 * 100),
        "support": _clip(100 - 8 * value["tickets_window"] - 5 * value["severe_tickets_window"]
                         - 20 * value["open_severe_tickets"]),
        "billing": _clip(100 - 25 * value["overdue_invoices"] - 2 * late),
        "engagement": _clip(20 * value["activities_window"]),
        "nps": _clip(10 * value["nps"]),
    }, index=matrix.index)


def health_scores(parts: pd.DataFrame) -> np.ndarray:
    """The weighted mean of the components present, rounded to a whole 0-100 score."""
    weights = np.array([COMPONENT_WEIGHTS[c] for c in parts.columns])
    values = parts.to_numpy(dtype=float)
    present = np.isfinite(values)
    total = (np.where(present, values, 0) * weights).sum(axis=1)
    weight = (present * weights).sum(axis=1)
    return np.round(np.where(weight > 0, total / np.maximum(weight, 1e-9), 50)).astype(int)


def _plural(count: float, word: str) -> str:
    return f"{count:.0f} {word}{'' if round(count) == 1 else 's'}"


def _reason_texts(row: dict[str, float], window_days: int) -> dict[str, str]:
    """The reasons that apply to one row, worded, by code."""
    out: dict[str, str] = {}

    def present(name: str) -> bool:
        return row.get(name) is not None and np.isfinite(row[name])

    if present("usage_trend") and row["usage_trend"] <= USAGE_DECLINE:
        out["usage_decline"] = (f"active users down {-100 * row['usage_trend']:.0f}% in "
                                f"{window_days} days")
    if present("seat_utilisation") and row["seat_utilisation"] < LOW_UTILISATION:
        out["low_seat_utilisation"] = (
            f"{row['seat_utilisation']:.0%} of seats in use "
            f"({row['active_users_recent']:.0f} of {row['account_seats']:.0f})")
    if row["tickets_window"] >= SUPPORT_LOAD_TICKETS:
        out["support_load"] = f"{_plural(row['tickets_window'], 'ticket')} in {window_days} days"
    if row["open_severe_tickets"] >= 1:
        out["severe_tickets"] = f"{_plural(row['open_severe_tickets'], SEVERE)} open"
    elif row["severe_tickets_window"] >= 2:
        out["severe_tickets"] = (f"{_plural(row['severe_tickets_window'], SEVERE)}"
                                 f" in {window_days} days")
    late = row["mean_days_late"] if present("mean_days_late") else 0.0
    if row["overdue_invoices"] >= 1:
        out["billing_delay"] = (f"{_plural(row['overdue_invoices'], 'invoice')} overdue, "
                                f"{late:.0f} days late on average")
    elif late >= LATE_DAYS:
        out["billing_delay"] = f"invoices paid {late:.0f} days late on average"
    if row["activities_window"] == 0:
        out["low_engagement"] = f"no activity with the account in {window_days} days"
    if present("nps") and row["nps"] <= LOW_NPS:
        out["low_nps"] = f"NPS {row['nps']:.0f} of 10"
    return out


def reasons(matrix: pd.DataFrame, effects: pd.DataFrame, window_days: int) -> list[list[dict]]:
    """Per row, every reason that applies ({code, component, text, effect}), the one raising the
    churn probability most first; `effects` are the model's per-feature effects
    (`ChurnModel.effects`), a reason's effect the sum over its features."""
    out = []
    records = matrix.to_dict("records")
    for i, row in enumerate(records):
        found = []
        for code, text in _reason_texts(row, window_days).items():
            effect = sum(float(effects[f].iat[i]) for f in REASON_FEATURES[code]
                         if f in effects.columns)
            found.append({"code": code, "component": REASON_COMPONENT[code], "text": text,
                          "effect": round(effect, 4)})
        found.sort(key=lambda r: (-r["effect"], REASON_CODES.index(r["code"])))
        out.append(found)
    return out


def explained_features() -> tuple[str, ...]:
    """The model features the reasons are ordered by."""
    return tuple(dict.fromkeys(f for features in REASON_FEATURES.values() for f in features))


def changes(current: dict[str, object], previous: dict[str, object] | None,
            days: int = 7) -> list[str]:
    """What changed between two scores of one account, in words (nothing without an earlier
    score). Each is a dict with health_score, churn_probability, components (dict) and
    reasons (list of {code, text})."""
    if previous is None:
        return []
    lines = []
    step = int(current["health_score"]) - int(previous["health_score"])
    if step:
        lines.append(f"health score {'up' if step > 0 else 'down'} {abs(step)} points "
                     f"({previous['health_score']} → {current['health_score']}) in {days} days")
    risk = float(current["churn_probability"]) - float(previous["churn_probability"])
    if abs(risk) >= 0.01:
        lines.append(f"churn risk {'up' if risk > 0 else 'down'} {abs(100 * risk):.0f} points "
                     f"({float(previous['churn_probability']):.0%} → "
                     f"{float(current['churn_probability']):.0%})")
    before, after = previous["components"], current["components"]
    for name, label in COMPONENT_NAMES.items():
        old, new = _number(before.get(name)), _number(after.get(name))
        if old is None or new is None or abs(new - old) < 5:
            continue
        lines.append(f"{label} {'improved' if new > old else 'worsened'} "
                     f"({old:.0f} → {new:.0f})")
    old_codes = {r["code"]: r["text"] for r in previous["reasons"]}
    new_codes = {r["code"]: r["text"] for r in current["reasons"]}
    lines += [f"new: {text}" for code, text in new_codes.items() if code not in old_codes]
    lines += [f"resolved: {text}" for code, text in old_codes.items() if code not in new_codes]
    return lines


def _number(value: object) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if np.isfinite(number) else None


def components_json(parts: pd.DataFrame) -> list[str]:
    """Each row's components as JSON (missing ones as null), rounded to whole points."""
    rounded = parts.round(0)
    return [json.dumps({k: (None if not np.isfinite(v) else int(v)) for k, v in row.items()})
            for row in rounded.to_dict("records")]

