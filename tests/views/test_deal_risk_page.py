"""The Deal risk model page: the active models' cards as stored, earlier versions, the
recommendation table, and the retrain button (which trains for real)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd

from planning.access.roles import Role
from planning.ingest import import_files
from planning.jobs import wait_for_job
from planning.overview import format_percent
from planning.pipeline.creation_model import NOTE
from planning.pipeline.exceptions import (
    inbox,
    raise_risk_alerts,
    recommendation_attribution,
    refresh_recommendation_outcomes,
    resolve_item,
)
from planning.pipeline.model_jobs import training_progress
from planning.pipeline.training import model_cards, train_deal_models
from planning.store import Workspace
from tests.planning.pipeline.test_creation_model import flat_exports
from tests.views.test_pages import (
    chart_specs,
    demo_user,
    element_types,
    page_app,
    run_page,
    workspace_admin,
)
from views.registry import page_by_path

PAGE = page_by_path("views/deal_risk.py")
RETRAIN_SECONDS = 900
"""Retraining on the small demo takes a quarter of a minute on a quiet machine."""


def _tab_metrics(tab) -> dict[str, str]:
    return {metric.label: metric.value for metric in tab.metric}


def test_revops_sees_each_active_models_card_as_stored(scored_demo_copy: Workspace) -> None:
    cards = model_cards(scored_demo_copy).set_index("target")

    app = run_page(PAGE, demo_user(scored_demo_copy, Role.REVOPS))

    assert not app.exception and not app.error
    assert [t.value for t in app.title] == ["Deal risk model"]
    assert [tab.label for tab in app.tabs] == ["Win probability", "Slip risk"]
    for tab, target in zip(app.tabs, ("win", "slip"), strict=True):
        card = cards.loc[target]
        metrics = json.loads(card["metrics_json"])
        assert _tab_metrics(tab) == {
            "Held-out AUC": f"{metrics['auc']:.3f}",
            "Brier score": f"{metrics['brier']:.4f}",
            "Stage baseline Brier": f"{metrics['baseline_brier']:.4f}",
            "Base rate": format_percent(metrics["base_rate"]),
        }
        brier = next(m for m in tab.metric if m.label == "Brier score")
        assert brier.proto.delta == f"{metrics['brier'] - metrics['baseline_brier']:+.4f} " \
                                    "vs stage"
        captions = " ".join(c.value for c in tab.caption)
        assert f"`{card['model_id']}`" in captions and "by system" in captions
        assert f"Trained on {card['rows_train']:,} point-in-time rows" in captions
        assert f"tested on {card['rows_test']:,} rows" in captions
        assert f"{card['train_from']:%d %b %Y} – {card['train_to']:%d %b %Y}" in captions

    importance_win, reliability_win, importance_slip, reliability_slip = chart_specs(app)
    win = json.loads(cards.loc["win", "metrics_json"])["importance"]
    assert list(importance_win["data"][0]["x"]) == list(win.values())
    assert list(importance_win["data"][0]["y"]) == [n.replace("_", " ") for n in win]
    for spec, target in ((reliability_win, "win"), (reliability_slip, "slip")):
        diagonal, curve = spec["data"]
        assert (diagonal["x"], diagonal["y"]) == ([0, 1], [0, 1])
        stored = json.loads(cards.loc[target, "reliability_json"])
        assert list(curve["x"]) == stored["predicted"]
        assert list(curve["y"]) == stored["observed"]
    assert importance_slip["layout"]["title"]["text"].startswith("Slip risk")
    assert [b.label for b in app.button] == ["Retrain and rescore"]
    assert any("No earlier versions" in c.value for c in app.caption)
    assert any(i.value.startswith("No recommendations yet") for i in app.info)


def test_the_recommendation_table_shows_the_attribution(scored_demo_copy: Workspace) -> None:
    raise_risk_alerts(scored_demo_copy)
    manager = demo_user(scored_demo_copy, Role.MANAGER)
    first, second = (int(i) for i in inbox(scored_demo_copy, manager)["item_id"].iloc[:2])
    resolve_item(scored_demo_copy, manager, first, "acted", "called")
    resolve_item(scored_demo_copy, manager, second, "dismissed", "not needed")
    refresh_recommendation_outcomes(scored_demo_copy)
    expected = recommendation_attribution(scored_demo_copy)

    app = run_page(PAGE, demo_user(scored_demo_copy, Role.ADMIN))

    assert not app.exception and not app.error
    shown = app.dataframe[-1].value
    assert shown["kind"].tolist() == expected["kind"].str.replace("_", " ").tolist()
    for column in ("shown", "accepted", "overridden", "pending"):
        assert shown[column].tolist() == expected[column].tolist()
    assert shown["accepted"].sum() == 1 and shown["overridden"].sum() == 1
    assert shown["shown"].sum() == scored_demo_copy.read(lambda cur: cur.execute(
        "SELECT count(*) FROM inbox_items").fetchone()[0])


def test_a_manager_is_refused(scored_demo_copy: Workspace) -> None:
    app = run_page(PAGE, demo_user(scored_demo_copy, Role.MANAGER))

    assert not app.exception
    assert element_types(app.main) == ["error", "caption"]
    assert "open to: admin, revops" in app.error[0].value


def test_without_models_the_page_says_so(demo_copy: Workspace) -> None:
    app = run_page(PAGE, demo_user(demo_copy, Role.REVOPS))

    assert not app.exception and not app.error
    assert app.info[0].value.startswith("No deal risk model is trained yet")
    assert not app.tabs and not app.get("plotly_chart")


def test_retrain_trains_as_a_job_then_rescores_and_alerts(scored_demo_copy: Workspace) -> None:
    """The button queues the training as a job and shows its progress; the page that sees it
    done stores new active models, rescores, raises alerts and records telemetry."""
    revops = demo_user(scored_demo_copy, Role.REVOPS)
    before = model_cards(scored_demo_copy)
    app = page_app(PAGE, revops)
    app.default_timeout = RETRAIN_SECONDS
    app.run()

    app.button[0].click().run()

    assert not app.exception, [e.value for e in app.exception]
    assert not app.error, [e.value for e in app.error]
    running = training_progress(scored_demo_copy)
    assert running is not None and running.running
    assert len(model_cards(scored_demo_copy)) == len(before)  # nothing stored while it runs
    wait_for_job(scored_demo_copy, running.job_id, RETRAIN_SECONDS)
    app.run()

    assert not app.exception, [e.value for e in app.exception]
    after = model_cards(scored_demo_copy)
    assert len(after) == len(before) + 2
    active = after[after["is_active"]]
    assert set(active["target"]) == {"win", "slip"}
    assert not set(active["model_id"]) & set(before["model_id"])
    assert set(active["trained_by"]) == {revops.email}
    items = scored_demo_copy.read(lambda cur: cur.execute(
        "SELECT count(*) FROM inbox_items").fetchone()[0])
    assert items > 0
    assert app.success[0].value.startswith("The new models are active")
    versions = app.dataframe[0].value
    assert sorted(versions["model_id"]) == sorted(before["model_id"])
    telemetry = scored_demo_copy.read(lambda cur: cur.execute(
        "SELECT user_email, outcome, detail_json FROM telemetry_events WHERE kind = 'train'"
    ).df())
    assert telemetry[["user_email", "outcome"]].values.tolist() == [[revops.email, "ok"]]
    assert json.loads(telemetry["detail_json"].iloc[0])["job"] == running.job_id
    trained = scored_demo_copy.read(lambda cur: cur.execute(
        "SELECT actor, actor_role FROM audit_events WHERE action = 'model.train' "
        "ORDER BY seq DESC LIMIT 1").fetchone())
    assert trained == (revops.email, "revops")
    tabs = {tab.label: _tab_metrics(tab) for tab in app.tabs}
    new_win = json.loads(active.set_index("target").loc["win", "metrics_json"])
    assert tabs["Win probability"]["Held-out AUC"] == f"{new_win['auc']:.3f}"
    assert pd.notna(new_win["auc"]) and new_win["auc"] > 0.7


def test_a_model_without_field_history_says_so_and_names_its_leaks(
    workspace: Workspace, tmp_path: Path
) -> None:
    import_files(workspace, flat_exports(tmp_path, 900, booked=True))
    train_deal_models(workspace, as_of=dt.datetime(2025, 1, 16))

    app = run_page(PAGE, workspace_admin(workspace))

    assert not app.exception and not app.error
    assert [tab.label for tab in app.tabs] == ["Win probability"]
    assert [info.value for info in app.info][0].startswith(f"This model was {NOTE}.")
    warnings = [w.value for w in app.warning]
    assert any(w.startswith("Left out by the leakage guard: amount is 0 on 100% of lost deals")
               for w in warnings)
    assert "Base rate baseline Brier" in _tab_metrics(app.tabs[0])
