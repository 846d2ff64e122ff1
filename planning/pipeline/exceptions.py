"""Deal risk exceptions: alerts for big deals the model gives little chance, routed to the
owner's manager as inbox items with a recommendation, and what became of the recommendations.

`raise_risk_alerts` reads the active win model's scores and the workspace thresholds
(`risk_alert_min_amount_cents`, `risk_alert_max_win_probability`), opens one item per deal that
has no open item yet and logs the recommendation shown. `resolve_item` lets the assignee act on
or dismiss an item; the recommendation is then accepted or overridden. Attribution compares
the win rates of deals whose recommendations were accepted with those overridden.
`retrain_and_rescore` and `rescore_and_alert` run the whole cycle (train, score, alert, refresh
outcomes) for the app and the command line alike.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

import numpy as np
import pandas as pd

from planning import audit
from planning.access.acting import acting_identity
from planning.access.policy import AccessDeniedError, Action, require
from planning.access.users import User, canonical_email, same_email
from planning.clock import now_utc
from planning.errors import RevPlanError
from planning.overview import format_money
from planning.pipeline.scores import shown_probability
from planning.pipeline.training import TrainingReport, score_open_deals, train_deal_models
from planning.progress import ProgressCallback, no_progress
from planning.store import Workspace
from planning.store import inbox as repo

RESOLUTIONS = {"acted": "accepted", "dismissed": "overridden"}
"""Inbox resolution -> what it means for the recommendation behind the item."""

REASON_KINDS = {
    "days_since_activity": "re_engage",
    "activities_30d": "re_engage",
    "has_next_step": "set_next_step",
    "next_step_overdue_days": "set_next_step",
    "pushes": "review_close_date",
    "days_to_close": "review_close_date",
    "deal_age_days": "review_close_date",
    "size_vs_segment": "review_amount",
    "amount_change_ratio": "review_amount",
    "stage_age_days": "review_stage",
}
"""Explained feature -> the recommendation it calls for; other features get `review_deal`."""
DEFAULT_KIND = "review_deal"

RECOMMENDATION_TEXTS = {
    "re_engage": "Re-engage the buyer on {deal} ({reason}): book a meeting with the decision "
                 "maker this week, or qualify the deal out.",
    "set_next_step": "Agree a dated next step with the buyer on {deal} ({reason}) and record "
                     "it in the CRM.",
    "review_close_date": "Review the close date of {deal} with {owner} ({reason}): confirm "
                         "the buyer's timeline or move the date.",
    "review_amount": "Review the amount and scope of {deal} with {owner} ({reason}): size it "
                     "to what the buyer has agreed to.",
    "review_stage": "Check with {owner} what {deal} needs to leave {stage} ({reason}).",
    "review_deal": "Review {deal} with {owner}: the model gives it little chance ({reason}).",
}
NO_REASON = "no single factor stands out"


def _text(value: object) -> str | None:
    """A text cell, None for missing values."""
    return value if isinstance(value, str) and value else None


def top_risk_reason(reasons_json: str | None) -> tuple[str | None, str]:
    """The strongest reason lowering a deal's win probability: (feature, words).

    Falls back to the strongest reason of any sign, then to (None, NO_REASON).
    """
    reasons = json.loads(reasons_json) if isinstance(reasons_json, str) else []
    lowering = [r for r in reasons if r.get("effect", 0) < 0]
    chosen = (lowering or reasons or [None])[0]
    if chosen is None:
        return None, NO_REASON
    return chosen["feature"], chosen["text"]


def recommendation_for(feature: str | None, reason: str, deal: str, owner: str,
                       stage: str) -> tuple[str, str]:
    """The recommendation kind and its text in words for a deal's top risk reason."""
    kind = REASON_KINDS.get(feature or "", DEFAULT_KIND)
    text = RECOMMENDATION_TEXTS[kind].format(deal=deal, owner=owner, stage=stage, reason=reason)
    return kind, text


def _alert(row: dict) -> dict[str, object]:
    """Assignee, title, recommendation and detail of one risky deal."""
    deal = _text(row["name"]) or _text(row["account_name"]) or row["opportunity_id"]
    owner = _text(row["owner_name"]) or row["owner_id"]
    feature, reason = top_risk_reason(row["reasons_json"])
    kind, text = recommendation_for(feature, reason, deal, owner, row["stage"])
    if _text(row["manager_id"]) is not None:
        assignee_id, assignee_email = row["manager_id"], _text(row["manager_email"])
    else:
        assignee_id, assignee_email = row["owner_id"], _text(row["owner_email"])
    probability = float(row["win_probability"])
    amount = int(row["amount_cents"])
    title = (f"{deal} ({owner}): {format_money(amount)} at "
             f"{shown_probability(probability):.0%} win probability, {reason}")
    reasons = json.loads(row["reasons_json"]) if _text(row["reasons_json"]) else []
    close_date = row["close_date"]
    return {
        "assignee_rep_id": assignee_id,
        "assignee_email": None if assignee_email is None else canonical_email(assignee_email),
        "title": title, "kind": kind, "text": text,
        "detail": {
            "opportunity_id": row["opportunity_id"], "deal_name": deal,
            "account_name": _text(row["account_name"]), "owner_id": row["owner_id"],
            "owner_name": owner, "stage": row["stage"], "amount_cents": amount,
            "close_date": None if pd.isna(close_date) else str(pd.Timestamp(close_date).date()),
            "win_probability": round(probability, 4), "model_id": row["model_id"],
            "reasons": [r["text"] for r in reasons], "top_reason_feature": feature,
            "recommendation_kind": kind,
        },
    }


ALERT_RULE = (
    "A deal raises an alert when its expected loss, (1 − win probability) × amount, is at "
    "least the workspace's `risk_alert_min_expected_loss_cents` (by default the 90th "
    "percentile of the expected loss of scored open deals), its amount is at least "
    "`risk_alert_min_amount_cents` ($50,000) and its win probability at most "
    "`risk_alert_max_win_probability` (25 %). Each manager gets at most "
    "`risk_alert_max_per_week` (5) new alerts in 7 days, largest expected loss first."
)
"""The alert rule in words, for page help."""


def raise_risk_alerts(workspace: Workspace, actor: str = "system", *,
                      actor_role: str | None = None) -> int:
    """Open an inbox item for scored open deals over the alert thresholds (`ALERT_RULE`) that
    have no open item yet; returns how many opened.

    Each item goes to the owner's manager (the owner when they have none) and logs the
    recommendation shown; at most `risk_alert_max_per_week` items per assignee in 7 days,
    largest expected loss first, so a manager gets a handful a week. Items, recommendations and
    their audit events commit together.
    """
    def work(cur) -> int:
        min_amount, max_probability = repo.alert_thresholds(cur)
        min_loss, per_week = repo.alert_budget(cur)
        deals = repo.risky_deals_without_open_item(cur, min_amount, max_probability)
        deals = deals[deals["expected_loss_cents"] >= min_loss]
        now = now_utc()
        sent = repo.alerts_since(cur, now - dt.timedelta(days=7))
        raised = 0
        for row in deals.to_dict("records"):
            alert = _alert(row)
            assignee = alert["assignee_rep_id"] or alert["assignee_email"]
            if sent.get(assignee, 0) >= per_week:
                continue
            sent[assignee] = sent.get(assignee, 0) + 1
            raised += 1
            recommendation_id = repo.insert_recommendation(
                cur, row["model_id"], row["opportunity_id"], alert["kind"], alert["text"],
                alert["assignee_email"], now)
            detail = {**alert["detail"], "recommendation_id": recommendation_id,
                      "min_amount_cents": min_amount, "max_win_probability": max_probability,
                      "expected_loss_cents": int(row["expected_loss_cents"]),
                      "min_expected_loss_cents": min_loss}
            item_id = repo.insert_item(
                cur, repo.DEAL_RISK, repo.OPPORTUNITY, row["opportunity_id"],
                alert["assignee_rep_id"], alert["assignee_email"], now, alert["title"],
                json.dumps(detail))
            audit.record(
                cur, actor=actor, actor_role=actor_role, action="inbox.risk_alert",
                entity="inbox_item", entity_id=str(item_id),
                after={"opportunity_id": row["opportunity_id"],
                       "assignee_email": alert["assignee_email"],
                       "assignee_rep_id": alert["assignee_rep_id"],
                       "recommendation_id": recommendation_id,
                       "recommendation_kind": alert["kind"], "model_id": row["model_id"],
                       "amount_cents": detail["amount_cents"],
                       "win_probability": detail["win_probability"]},
            )
        return raised

    return workspace.write(work)


def _addressed_to(item: dict, user: User) -> bool:
    email = _text(item.get("assignee_email"))
    if email is not None and same_email(email, user.email):
        return True
    return user.rep_id is not None and item.get("assignee_rep_id") == user.rep_id


def inbox(workspace: Workspace, user: User) -> pd.DataFrame:
    """The items addressed to the user (by email or their CRM rep id), open ones first.

    Besides the stored columns and the owner's team now: the deal's name, owner (id and
    name), amount (cents), close
    date, win probability, expected loss (cents; empty for items raised before it was kept)
    and reasons when the item was raised, and the note given on resolving it.
    """
    require(user, Action.OPEN_WORKSPACE, workspace.name)
    frame = workspace.read(lambda cur: repo.items_for(cur, user.email, user.rep_id))
    details = [json.loads(text) if isinstance(text, str) else {}
               for text in frame["detail_json"]]
    frame["deal_name"] = [d.get("deal_name") for d in details]
    frame["owner_name"] = [d.get("owner_name") for d in details]
    frame["amount_cents"] = pd.array([d.get("amount_cents") for d in details], dtype="Int64")
    frame["win_probability"] = np.array([d.get("win_probability", np.nan) for d in details],
                                        dtype=float)
    frame["expected_loss_cents"] = pd.array(
        [d.get("expected_loss_cents") for d in details], dtype="Int64")
    frame["close_date"] = pd.to_datetime(pd.Series([d.get("close_date") for d in details],
                                                   dtype=object), errors="coerce")
    frame["owner_id"] = [d.get("owner_id") for d in details]
    frame["reasons"] = [d.get("reasons", []) for d in details]
    frame["note"] = [d.get("resolution_note") for d in details]
    return frame


def resolve_item(workspace: Workspace, user: User, item_id: int, action: str,
                 note: str | None = None) -> None:
    """Mark an open item addressed to the user as acted on or dismissed, with an optional note
    (a dismissal needs one); its recommendation becomes accepted or overridden. Audited."""
    require(user, Action.OPEN_WORKSPACE, workspace.name)
    require(user, Action.RESOLVE_INBOX)
    if action not in RESOLUTIONS:
        raise RevPlanError(f"Unknown inbox action {action!r}; use acted or dismissed.")
    note = (note or "").strip() or None
    if action == "dismissed" and note is None:
        raise RevPlanError("Say why you dismiss the alert: the note is kept with the "
                           "overridden recommendation.")

    def work(cur) -> None:
        found = repo.item(cur, int(item_id))
        if found is None:
            raise RevPlanError(f"There is no inbox item {item_id}.")
        if not _addressed_to(found, user):
            raise AccessDeniedError("This inbox item is addressed to someone else; only its "
                                    "assignee may act on it or dismiss it.")
        if found["status"] != "open":
            raise RevPlanError(f"Inbox item {item_id} is already {found['status']}.")
        now = now_utc()
        detail = json.loads(found["detail_json"]) if _text(found["detail_json"]) else {}
        detail["resolution_note"] = note
        repo.resolve_item(cur, int(item_id), action, now, user.email, json.dumps(detail))
        recommendation_action = None
        if found["recommendation_id"] is not None and not pd.isna(found["recommendation_id"]):
            recommendation_action = RESOLUTIONS[action]
            repo.record_action(cur, int(found["recommendation_id"]), recommendation_action, now,
                               user.email)
        role = user.primary_role
        audit.record(
            cur, actor=user.email, actor_role=None if role is None else role.value,
            action="inbox.resolve", entity="inbox_item", entity_id=str(item_id),
            before={"status": "open"},
            after={"status": action, "opportunity_id": found["entity_id"],
                   "recommendation_id": None if recommendation_action is None
                   else int(found["recommendation_id"]),
                   "recommendation_action": recommendation_action},
            reason=note,
        )

    workspace.write(work)


def refresh_recommendation_outcomes(workspace: Workspace, actor: str = "system") -> int:
    """Fill each recommendation's outcome from its deal's status (open, won or lost); returns
    how many outcomes changed. Audited when any did."""
    def work(cur) -> int:
        changed = repo.refresh_outcomes(cur)
        if changed:
            audit.record(cur, actor=actor, action="recommendation.refresh_outcomes",
                         entity="recommendation", after={"changed": changed})
        return changed

    return workspace.write(work)


def _rate(won: pd.Series, closed: pd.Series) -> pd.Series:
    return (won / closed.where(closed > 0)).astype(float)


def recommendation_attribution(workspace: Workspace) -> pd.DataFrame:
    """Per recommendation kind: how many were shown, accepted, overridden and pending, and for
    deals now closed the win rate after an accepted vs an overridden recommendation (NaN when
    none closed). Outcomes are as of the last `refresh_recommendation_outcomes`."""
    frame = workspace.read(repo.attribution)
    frame["win_rate_accepted"] = _rate(frame["accepted_won"], frame["accepted_closed"])
    frame["win_rate_overridden"] = _rate(frame["overridden_won"], frame["overridden_closed"])
    return frame


@dataclass
class RescoreResult:
    """What a retrain-and-rescore (or a rescore alone) did."""

    training: TrainingReport | None
    scored_deals: int
    alerts: int
    outcomes_changed: int

    def to_text(self) -> str:
        """A few lines for people."""
        lines = [self.training.to_text()] if self.training is not None else []
        lines.append(f"Scored {self.scored_deals:,} open deals; {self.alerts:,} new risk "
                     f"alert{'' if self.alerts == 1 else 's'} sent to managers' inboxes.")
        return "\n".join(lines)


def rescore_and_alert(workspace: Workspace, actor: User | str = "system", *,
                      as_of: dt.datetime | None = None,
                      progress: ProgressCallback = no_progress) -> RescoreResult:
    """Score open deals with the active models, raise risk alerts and refresh the outcomes of
    earlier recommendations. A user needs the right to retrain the models."""
    name, role = acting_identity(workspace, actor, Action.TRAIN_MODEL)
    scoring = score_open_deals(workspace, as_of=as_of,
                               progress=lambda f, m: progress(0.9 * f, f"Scoring: {m}"))
    return alert_after_scoring(workspace, name, role, None, scoring.deals,
                               progress=lambda f, m: progress(0.9 + 0.1 * f, m))


def alert_after_scoring(workspace: Workspace, name: str, role: str | None,
                        training: TrainingReport | None, scored_deals: int, *,
                        progress: ProgressCallback = no_progress) -> RescoreResult:
    """Once open deals carry fresh scores: raise risk alerts and refresh the outcomes of
    earlier recommendations, on behalf of `name`."""
    progress(0.0, "Raising risk alerts")
    alerts = raise_risk_alerts(workspace, name, actor_role=role)
    progress(0.5, "Refreshing recommendation outcomes")
    changed = refresh_recommendation_outcomes(workspace, name)
    progress(1.0, "Done")
    return RescoreResult(training, scored_deals, alerts, changed)


def retrain_and_rescore(workspace: Workspace, actor: User | str = "system", *,
                        as_of: dt.datetime | None = None,
                        progress: ProgressCallback = no_progress) -> RescoreResult:
    """Train new win and slip models and score the open deals with them, in this process
    (the app runs training as a job: `planning.pipeline.model_jobs`), then raise alerts and
    refresh outcomes. A user needs TRAIN_MODEL; a name (the command line's operator) is
    recorded as given."""
    name, role = acting_identity(workspace, actor, Action.TRAIN_MODEL)
    training = train_deal_models(workspace, actor=name, actor_role=role, as_of=as_of,
                                 progress=lambda f, m: progress(0.9 * f, f"Training: {m}"))
    return alert_after_scoring(workspace, name, role, training, training.scored_deals,
                               progress=lambda f, m: progress(0.9 + 0.1 * f, m))
