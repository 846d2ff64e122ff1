"""`revplan health train-workspace|score|quality` on a workspace."""

from __future__ import annotations

import json

import pytest

from planning.access.roles import Role
from planning.cli import main
from planning.store import Workspace, close_all_workspaces
from tests.views.test_pages import member_emails


def test_score_before_training_says_how_to_train(demo_copy: Workspace,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    close_all_workspaces()
    assert main(["health", "score", "--workspace", "demo"]) == 2
    assert "train-workspace" in capsys.readouterr().err


def test_train_then_score_prints_the_riskiest_renewals(
        demo_copy: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    close_all_workspaces()
    assert main(["health", "train-workspace", "--workspace", "demo", "--as-of",
                 "2026-11-16"]) == 0
    trained = capsys.readouterr().out
    assert "held-out AUC" in trained and "base-rate Brier" in trained
    assert main(["health", "score", "--workspace", "demo", "--as-of", "2026-11-16",
                 "--json"]) == 0
    scored = json.loads(capsys.readouterr().out.split("\n", 1)[1])
    assert scored["accounts"] > 400 and scored["renewals"]
    first = scored["renewals"][0]
    assert {"account_name", "churn_probability", "arr_at_risk_cents", "top_reasons"} <= set(
        first)
    assert main(["health", "score", "--workspace", "demo", "--as-of", "2026-11-16",
                 "--top", "3"]) == 0
    assert "Riskiest renewals in the next 90 days" in capsys.readouterr().out


def test_a_member_without_the_right_cannot_train(demo_copy: Workspace,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    rep = member_emails(demo_copy)[Role.REP]
    close_all_workspaces()
    assert main(["health", "train-workspace", "--workspace", "demo", "--as", rep]) == 2
    assert "health.train" in capsys.readouterr().err
