"""The deal risk models on the medium demo company: quality, calibration, stored cards, reasons.

Training on the medium company takes about a minute; it is done once for the module.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest

from planning.demo import DEMO_SIZES, generate_demo_workspace
from planning.pipeline.training import (
    EXPLAINED_FEATURES,
    TrainingReport,
    score_open_deals,
    train_deal_models,
)
from planning.store import Workspace, close_all_workspaces, open_workspace
from tests.conftest import DEMO_AS_OF

MOMENT = dt.datetime.combine(DEMO_AS_OF, dt.time(12))


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Workspace, TrainingReport]]:
    base = tmp_path_factory.mktemp("medium-model")
    generate_demo_workspace("medium", size=DEMO_SIZES["medium"], seed=5, as_of=DEMO_AS_OF,
                            base=base)
    workspace = open_workspace("medium", base=base)
    report = train_deal_models(workspace, as_of=MOMENT, actor="tester")
    score_open_deals(workspace, as_of=MOMENT)
    yield workspace, report
    close_all_workspaces()


def test_win_model_beats_the_stage_baseline_on_held_out_deals(trained) -> None:
    _, report = trained
    metrics = report.win.metrics
    assert metrics["auc"] >= 0.75
    assert metrics["brier"] < metrics["baseline_brier"]
    assert report.win.rows_test > 5_000
    assert report.win.test_from >= report.win.train_to - dt.timedelta(days=1)


def test_slip_model_beats_its_stage_baseline(trained) -> None:
    _, report = trained
    assert report.slip.metrics["auc"] >= 0.7
    assert report.slip.metrics["brier"] < report.slip.metrics["baseline_brier"]


def test_win_probabilities_are_calibrated(trained) -> None:
    _, report = trained
    curve = report.win.reliability
    gaps = np.abs(np.array(curve["predicted"]) - np.array(curve["observed"]))
    assert len(gaps) >= 8
    assert gaps.max() < 0.08


def test_models_are_stored_active_and_audited(trained) -> None:
    workspace, report = trained
    rows = workspace.read(lambda cur: cur.execute(
        "SELECT model_id, target, rows_train, metrics_json FROM model_versions "
        "WHERE is_active ORDER BY target").fetchall())
    assert [(r[0], r[1]) for r in rows] == [(report.slip_model_id, "slip"),
                                            (report.win_model_id, "win")]
    assert json.loads(rows[1][3])["auc"] == pytest.approx(report.win.metrics["auc"])
    event = workspace.read(lambda cur: cur.execute(
        "SELECT actor, entity_id FROM audit_events WHERE action = 'model.train'").fetchall())
    assert event == [("tester", report.win_model_id)]


def test_every_open_deal_is_scored_with_reasons_that_match_its_data(trained) -> None:
    workspace, report = trained
    scored = workspace.read(lambda cur: cur.execute(
        """SELECT s.opportunity_id, s.win_probability, s.slip_probability, s.reasons_json,
                  date_diff('day', (SELECT max(a.occurred_at) FROM activities a
                                    WHERE a.opportunity_id = o.opportunity_id
                                      AND a.occurred_at <= ?), ?) AS quiet_days,
                  (SELECT count(*) FROM opportunity_history h
                   WHERE h.opportunity_id = o.opportunity_id AND h.field = 'close_date'
                     AND CAST(h.new_value AS DATE) > CAST(h.old_value AS DATE)) AS pushes
           FROM opportunities o JOIN deal_scores s USING (opportunity_id)
           WHERE o.status = 'open' AND s.model_id = ?""",
        [MOMENT, MOMENT, report.win_model_id]).df())
    open_deals = workspace.read(lambda cur: cur.execute(
        "SELECT count(*) FROM opportunities WHERE status = 'open'").fetchone()[0])
    assert len(scored) == open_deals > 1_000
    assert scored["win_probability"].between(0, 1).all()
    assert scored["slip_probability"].between(0, 1).all()
    with_reasons = 0
    checked = 0
    for row in scored.itertuples():
        reasons = json.loads(row.reasons_json)
        with_reasons += bool(reasons)
        for reason in reasons:
            assert reason["feature"] in EXPLAINED_FEATURES
            quiet = re.fullmatch(r"no activity for (\d+) days", reason["text"])
            if quiet and not pd.isna(row.quiet_days):
                assert abs(int(quiet.group(1)) - row.quiet_days) <= 1
                checked += 1
            pushed = re.fullmatch(r"close date pushed (\d+) times", reason["text"])
            if pushed:
                assert int(pushed.group(1)) == row.pushes
                checked += 1
    assert with_reasons / len(scored) > 0.8
    assert checked > 50


def test_the_leakage_guard_drops_no_feature_of_the_healthy_demo(trained) -> None:
    workspace, report = trained
    assert report.win.leaks == [] and report.slip.leaks == []
    assert len(report.win.features) == len(report.slip.features) == 21
    stored = workspace.read(lambda cur: cur.execute(
        "SELECT metrics_json FROM model_versions WHERE is_active").fetchall())
    assert [json.loads(row[0])["leaks"] for row in stored] == [[], []]
