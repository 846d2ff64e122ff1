"""Renewals at risk and one account's health: scoped like deals, explained in words, with what
changed since last week."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from planning.access.policy import AccessDeniedError
from planning.access.roles import Role
from planning.health import scoring
from planning.health.accounts import account_health, renewals_at_risk
from planning.health.training import NoChurnModelError, train_health_model
from planning.store import Workspace
from tests.conftest import DEMO_AS_OF
from tests.views.test_pages import demo_user

AS_OF = dt.datetime.combine(DEMO_AS_OF + dt.timedelta(days=1), dt.time())


@pytest.fixture
def trained(demo_copy: Workspace) -> Workspace:
    train_health_model(demo_copy, "operator", as_of=AS_OF)
    return demo_copy


def test_reasons_are_worded_with_their_codes() -> None:
    row = {"usage_trend": -0.38, "active_users_recent": 31.0, "seat_utilisation": 0.31,
           "account_seats": 100.0, "tickets_window": 6.0, "severe_tickets_window": 3.0,
           "open_tickets": 3.0, "open_severe_tickets": 3.0, "overdue_invoices": 2.0,
           "mean_days_late": 34.0, "activities_window": 0.0, "days_since_activity": 90.0,
           "nps": 4.0}
    matrix = pd.DataFrame([row])
    found = scoring.reasons(matrix, pd.DataFrame(index=matrix.index), 60)[0]
    texts = {r["code"]: r["text"] for r in found}
    assert texts == {
        "usage_decline": "active users down 38% in 60 days",
        "low_seat_utilisation": "31% of seats in use (31 of 100)",
        "support_load": "6 tickets in 60 days",
        "severe_tickets": "3 urgent or high tickets open",
        "billing_delay": "2 invoices overdue, 34 days late on average",
        "low_engagement": "no activity with the account in 60 days",
        "low_nps": "NPS 4 of 10",
    }
    assert set(texts) == set(scoring.REASON_CODES)


def test_health_score_is_the_weighted_mean_of_the_components_present() -> None:
    parts = pd.DataFrame({"usage_trend": [100.0, 0.0], "seat_utilisation": [100.0, 100.0],
                          "support": [100.0, 100.0], "billing": [100.0, 100.0],
                          "engagement": [100.0, 100.0], "nps": [np.nan, np.nan]})
    assert scoring.health_scores(parts).tolist() == [100, round(100 * (1 - 0.2 / 0.9))]
    assert sum(scoring.COMPONENT_WEIGHTS.values()) == pytest.approx(1.0)


def test_renewals_at_risk_lists_the_window_riskiest_arr_first(trained: Workspace) -> None:
    renewals = renewals_at_risk(trained, demo_user(trained, Role.CS), within_days=90)
    assert len(renewals) > 20
    assert renewals["days_to_renewal"].between(0, 90).all()
    assert renewals["arr_at_risk_cents"].is_monotonic_decreasing
    assert (renewals["arr_at_risk_cents"]
            == (renewals["arr_cents"] * renewals["churn_probability"]).round()).all()
    assert renewals["health_score"].between(0, 100).all()
    codes = {code for codes in renewals["reason_codes"] for code in codes}
    assert codes <= set(scoring.REASON_CODES) and codes
    high = renewals_at_risk(trained, None, within_days=180, risks=["high"])
    assert (high["churn_probability"] >= 0.3).all()


def test_a_rep_sees_only_their_accounts_and_not_another_reps(trained: Workspace) -> None:
    rep = demo_user(trained, Role.REP)
    manager = demo_user(trained, Role.MANAGER)
    everyone = renewals_at_risk(trained, None, within_days=365)
    mine = renewals_at_risk(trained, rep, within_days=365)
    team = renewals_at_risk(trained, manager, within_days=365)
    assert set(mine["owner_id"]) <= {rep.rep_id}
    assert set(team["owner_id"]) <= set(manager.deal_owner_ids)
    assert len(mine) < len(team) < len(everyone)
    other = everyone[~everyone["owner_id"].isin(manager.deal_owner_ids)].iloc[0]
    with pytest.raises(AccessDeniedError, match="outside your team"):
        account_health(trained, rep, other["account_id"])
    with pytest.raises(AccessDeniedError, match="outside your team"):
        account_health(trained, manager, other["account_id"])
    with pytest.raises(AccessDeniedError, match="outside your team"):
        renewals_at_risk(trained, rep, owner_ids=[other["owner_id"]])
    with pytest.raises(AccessDeniedError, match="health.view"):
        renewals_at_risk(trained, demo_user(trained, Role.VIEWER))


def test_account_health_explains_and_says_what_changed(trained: Workspace) -> None:
    renewals = renewals_at_risk(trained, None, within_days=365)
    account = renewals.iloc[0]["account_id"]
    health = account_health(trained, demo_user(trained, Role.CS), account)
    assert health.account_name == renewals.iloc[0]["account_name"]
    assert set(health.components) == set(scoring.COMPONENT_WEIGHTS)
    assert 0 <= health.health_score <= 100 and 0 < health.churn_probability < 1
    assert health.reasons and all(r["code"] in scoring.REASON_CODES for r in health.reasons)
    assert health.previous is not None
    assert (health.as_of - health.previous["as_of"]).days == 7
    assert isinstance(health.changes, list)
    assert not health.usage.empty and health.usage["month"].max() < pd.Timestamp(health.as_of)
    assert (pd.to_datetime(health.tickets["opened_at"]) <= pd.Timestamp(health.as_of)).all()
    assert not health.invoices.empty


def test_changes_since_last_week_are_worded() -> None:
    before = {"health_score": 72, "churn_probability": 0.12,
              "components": {"usage_trend": 100, "support": 90},
              "reasons": [{"code": "low_engagement", "text": "no activity"}]}
    now = {"health_score": 58, "churn_probability": 0.31,
           "components": {"usage_trend": 40, "support": 90},
           "reasons": [{"code": "usage_decline", "text": "active users down 30% in 60 days"}]}
    assert scoring.changes(now, before) == [
        "health score down 14 points (72 → 58) in 7 days",
        "churn risk up 19 points (12% → 31%)",
        "usage trend worsened (100 → 40)",
        "new: active users down 30% in 60 days",
        "resolved: no activity",
    ]


def test_health_before_any_model_says_how_to_train(demo_copy: Workspace) -> None:
    with pytest.raises(NoChurnModelError, match="train"):
        renewals_at_risk(demo_copy, None)
