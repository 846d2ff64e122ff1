"""The churn model on the small demo: held out by time it ranks churn well and beats the base
rate; the leakage guard names a planted column; quality is measured on renewals resolved
after training."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pytest

from planning.access.policy import AccessDeniedError, system_principal
from planning.access.roles import Role
from planning.audit import audit_events
from planning.health import model as cm
from planning.health.training import (
    churn_model_cards,
    measure_model_quality,
    model_quality,
    read_health_input,
    train_health_model,
)
from planning.store import Workspace
from tests.conftest import DEMO_AS_OF
from tests.views.test_pages import demo_user

AS_OF = dt.datetime.combine(DEMO_AS_OF + dt.timedelta(days=1), dt.time())


def test_held_out_auc_and_brier_beat_the_base_rate_on_the_demo(demo_copy: Workspace) -> None:
    report = train_health_model(demo_copy, "operator", as_of=AS_OF)
    metrics = report.card.metrics
    assert metrics["auc"] >= 0.75
    assert metrics["brier"] < metrics["base_rate_brier"]
    assert report.card.rows_test >= 150 and report.card.churned_test >= 15
    assert report.card.test_from > report.card.train_to  # held out by time
    assert report.accounts_scored > 400
    cards = churn_model_cards(demo_copy)
    assert cards["is_active"].tolist() == [True]
    stored = json.loads(cards["card_json"].iat[0])
    assert stored["metrics"]["auc"] == pytest.approx(metrics["auc"])
    assert {"health_score_auc", "health_score_brier"} <= set(stored["metrics"])
    quality = model_quality(demo_copy)
    assert quality["kind"].tolist() == ["held_out"]
    assert quality["auc"].iat[0] == pytest.approx(metrics["auc"])
    events = audit_events(demo_copy, system_principal(demo_copy.name))
    assert events["action"].tolist()[0] == "health.train"


def test_the_leakage_guard_names_a_planted_leaking_column(demo_copy: Workspace) -> None:
    data = read_health_input(demo_copy, as_of=AS_OF)
    labels = data.training.rows["churned"].to_numpy(dtype=int)
    matrix = data.training.matrix.assign(
        invoiced_at_renewal=(1 - labels).astype(float))  # known only once the renewal happened
    fitted = cm.fit(matrix, labels, 60, groups=data.training.rows["account_id"].to_numpy())
    leaked = {leak.feature: leak for leak in fitted.leaks}
    assert "invoiced_at_renewal" in leaked
    assert "invoiced_at_renewal" in leaked["invoiced_at_renewal"].message
    assert "churned from renewed subscriptions" in leaked["invoiced_at_renewal"].message
    assert "invoiced_at_renewal" not in fitted.features
    assert "seat_utilisation" in fitted.features


def test_quality_is_measured_on_renewals_resolved_since_training(demo_copy: Workspace) -> None:
    earlier = AS_OF - dt.timedelta(days=120)
    report = train_health_model(demo_copy, "operator", as_of=earlier)
    results = measure_model_quality(demo_copy, "operator", as_of=AS_OF)
    assert [r.model_id for r in results] == [report.model_id]
    found = results[0]
    assert found.period_from >= earlier.date() and found.renewals > 50
    assert found.churned > 0 and found.auc is not None and 0.5 < found.auc <= 1.0
    assert found.brier is not None and np.isfinite(found.base_rate_brier)
    assert model_quality(demo_copy)["kind"].tolist() == ["held_out", "resolved"]


def test_training_needs_the_right_to_train(demo_copy: Workspace) -> None:
    rep = demo_user(demo_copy, Role.REP)
    with pytest.raises(AccessDeniedError, match="health.train"):
        train_health_model(demo_copy, rep, as_of=AS_OF)


def test_too_few_renewals_is_refused_in_words(workspace: Workspace) -> None:
    with pytest.raises(cm.ChurnTrainingError, match="renewals"):
        train_health_model(workspace, "operator")
