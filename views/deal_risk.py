"""Deal risk model (admin, revops): the active models' cards, earlier versions, retraining, and
what became of the recommendations the risk alerts made."""

from __future__ import annotations

import json

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from planning.access.policy import AccessDeniedError, Action
from planning.access.users import User
from planning.overview import format_percent
from planning.pipeline.exceptions import recommendation_attribution
from planning.pipeline.model_jobs import start_training, training_progress
from planning.pipeline.training import model_cards
from planning.store import Workspace
from planning.telemetry import timed
from views.common import (
    allowed,
    current_workspace,
    model_training_notice,
    require_page,
    show_failure,
)

TARGETS = {"win": "Win probability", "slip": "Slip risk"}
TARGET_HELP = {
    "win": "Chance that an open deal is won, from what the CRM shows about it today.",
    "slip": "Chance that a deal expected to close this fiscal quarter closes later or not at "
            "all.",
}
RESULT_KEY = "deal_risk_last_run"
IMPORTANCE_COLOR = "#1f4e79"
CURVE_COLOR = "#2e7d6b"
CHART_CONFIG = {"displaylogo": False, "modeBarButtonsToRemove": ["lasso2d", "select2d"]}
DATE_FORMAT = "%d %b %Y"
VERSION_COLUMNS = {
    "model_id": st.column_config.TextColumn("Model"),
    "target": st.column_config.TextColumn("Predicts"),
    "trained_at": st.column_config.DatetimeColumn("Trained (UTC)", format="YYYY-MM-DD HH:mm"),
    "trained_by": st.column_config.TextColumn("By"),
    "rows_train": st.column_config.NumberColumn("Training rows", format="%d"),
    "rows_test": st.column_config.NumberColumn("Test rows", format="%d"),
    "auc": st.column_config.NumberColumn("AUC", format="%.3f"),
    "brier": st.column_config.NumberColumn("Brier", format="%.4f"),
    "baseline_brier": st.column_config.NumberColumn("Stage baseline Brier", format="%.4f"),
}
ATTRIBUTION_COLUMNS = {
    "kind": st.column_config.TextColumn("Recommendation"),
    "shown": st.column_config.NumberColumn("Shown", format="%d"),
    "accepted": st.column_config.NumberColumn("Accepted", format="%d"),
    "overridden": st.column_config.NumberColumn("Overridden", format="%d"),
    "pending": st.column_config.NumberColumn("Not yet answered", format="%d"),
    "accepted_closed": st.column_config.NumberColumn("Accepted, closed", format="%d"),
    "win_rate_accepted": st.column_config.NumberColumn(
        "Win rate when accepted", format="percent",
        help="Won ÷ closed among deals whose recommendation was accepted."),
    "overridden_closed": st.column_config.NumberColumn("Overridden, closed", format="%d"),
    "win_rate_overridden": st.column_config.NumberColumn(
        "Win rate when overridden", format="percent",
        help="Won ÷ closed among deals whose recommendation was overridden."),
}


def card_metrics(row: pd.Series) -> dict[str, object]:
    """A stored card's metrics (AUC, Brier, baseline, base rate, importance) as numbers."""
    return json.loads(row["metrics_json"])


def importance_chart(importance: dict[str, float], target: str) -> go.Figure:
    """Horizontal bars of the AUC each feature's shuffling costs, most important at the top."""
    names = list(importance)
    figure = go.Figure(go.Bar(
        orientation="h", y=[n.replace("_", " ") for n in names],
        x=[importance[n] for n in names], marker_color=IMPORTANCE_COLOR,
        name="AUC lost when shuffled",
        hovertemplate="%{y}: AUC drops by %{x:.4f} when shuffled<extra></extra>",
    ))
    figure.update_layout(
        title={"text": f"{TARGETS[target]}: permutation importance on held-out deals"},
        xaxis={"title": {"text": "AUC lost when the feature is shuffled"}},
        yaxis={"title": {"text": "Feature"}, "autorange": "reversed"},
        height=max(320, 24 * len(names) + 120), showlegend=False,
    )
    return figure


def reliability_chart(reliability: dict[str, list[float]], target: str) -> go.Figure:
    """Observed rate against predicted probability per bin, with the diagonal of perfect
    calibration."""
    figure = go.Figure()
    figure.add_scatter(x=[0, 1], y=[0, 1], mode="lines", name="Perfect calibration",
                       line={"dash": "dash", "color": "#888888"}, hoverinfo="skip")
    figure.add_scatter(
        x=reliability.get("predicted", []), y=reliability.get("observed", []),
        mode="lines+markers", name="Model", marker_color=CURVE_COLOR,
        customdata=reliability.get("rows", []),
        hovertemplate="predicted %{x:.0%}, observed %{y:.0%} (%{customdata:,} rows)"
        "<extra></extra>",
    )
    figure.update_layout(
        title={"text": f"{TARGETS[target]}: reliability on held-out deals"},
        xaxis={"title": {"text": "Predicted probability"}, "range": [0, 1],
               "tickformat": ".0%"},
        yaxis={"title": {"text": "Observed rate"}, "range": [0, 1], "tickformat": ".0%"},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "right", "x": 1},
        margin={"t": 90},
    )
    return figure


def window_text(row: pd.Series) -> str:
    """Training and test windows with their row counts."""
    def span(start: pd.Timestamp, end: pd.Timestamp) -> str:
        if pd.isna(start) or pd.isna(end):
            return "no dates"
        return f"{start:{DATE_FORMAT}} – {end:{DATE_FORMAT}}"

    rows = "deals" if card_metrics(row).get("note") else "point-in-time rows of deals"
    return (f"Trained on {row['rows_train']:,} {rows} closing "
            f"{span(row['train_from'], row['train_to'])}; tested on {row['rows_test']:,} rows "
            f"of deals closing {span(row['test_from'], row['test_to'])}.")


def show_card(row: pd.Series) -> None:
    """One active model's card: metrics, windows, provenance, importance and reliability."""
    target = row["target"]
    metrics = card_metrics(row)
    st.caption(f"{TARGET_HELP.get(target, '')} Model `{row['model_id']}`, trained "
               f"{row['trained_at']:%d %b %Y, %H:%M} UTC by {row['trained_by']}.")
    auc, brier, baseline, rate = st.columns(4)
    auc.metric("Held-out AUC", f"{metrics['auc']:.3f}", border=True,
               help="Chance the model ranks a random positive above a random negative "
                    "held-out row (0.5 is a coin toss).")
    change = metrics["brier"] - metrics["baseline_brier"]
    basis = "base rate" if metrics.get("note") else "stage"
    brier.metric("Brier score", f"{metrics['brier']:.4f}", delta=f"{change:+.4f} vs {basis}",
                 delta_color="inverse", border=True,
                 help="Mean squared error of the probabilities on held-out rows; lower is "
                      "better.")
    baseline.metric(f"{basis.capitalize()} baseline Brier", f"{metrics['baseline_brier']:.4f}",
                    border=True,
                    help="The training win rate for every deal." if metrics.get("note") else
                    "The classic forecast: each stage's win rate in the training rows.")
    rate.metric("Base rate", format_percent(metrics["base_rate"]), border=True,
                help="Share of held-out rows where the outcome happened.")
    st.caption(window_text(row))
    if metrics.get("note"):
        st.info(f"This model was {metrics['note']}. Import the opportunity field history "
                "for a model that sees each deal's stage, pushes and activity over time.")
    for leak in metrics.get("leaks") or []:
        st.warning(f"Left out by the leakage guard: {leak['message']}.")
    importance = metrics.get("importance") or {}
    left, right = st.columns(2)
    with left:
        if importance:
            st.plotly_chart(importance_chart(importance, target), config=CHART_CONFIG,
                            alt=f"Bar chart of permutation importance of the "
                                f"{len(importance)} features of the {target} model.")
        else:
            st.info("No feature importance was recorded for this model.")
        st.caption(f"Features: {', '.join(str(f) for f in row['features'])}.")
    with right:
        st.plotly_chart(reliability_chart(json.loads(row["reliability_json"]), target),
                        config=CHART_CONFIG,
                        alt=f"Reliability curve of the {target} model: observed rate "
                            "against predicted probability, with the diagonal.")


def show_active(cards: pd.DataFrame, training: bool) -> None:
    """The active model of each target in its own tab (`training`: a training is under way)."""
    active = cards[cards["is_active"]]
    if active.empty and training:
        st.info("The first models' cards appear here when the training above ends.")
        return
    if active.empty:
        st.info("No deal risk model is trained yet. Retrain below once the workspace holds "
                "closed deals with their stage history.")
        return
    rows = [active[active["target"] == t].iloc[0] for t in TARGETS
            if (active["target"] == t).any()]
    for tab, row in zip(st.tabs([TARGETS[r["target"]] for r in rows]), rows, strict=True):
        with tab:
            show_card(row)


def show_versions(cards: pd.DataFrame) -> None:
    """Earlier, inactive model versions with their headline metrics."""
    st.subheader("Previous versions")
    earlier = cards[~cards["is_active"]]
    if earlier.empty:
        st.caption("No earlier versions: every trained model is the active one.")
        return
    metrics = [card_metrics(row) for _, row in earlier.iterrows()]
    table = earlier.assign(
        auc=[m.get("auc") for m in metrics], brier=[m.get("brier") for m in metrics],
        baseline_brier=[m.get("baseline_brier") for m in metrics],
    )[list(VERSION_COLUMNS)]
    st.dataframe(table, hide_index=True, column_config=VERSION_COLUMNS)


def retrain(workspace: Workspace, user: User) -> None:
    """Queue the training as a job (the rows are read here, the fit runs in a job process);
    the progress bar at the top of the page follows it."""
    with timed(workspace, "train", "retrain_rescore", user.email) as event:
        try:
            with st.spinner("Reading the closed and open deals to train on…"):
                job_id = start_training(workspace, user)
        except Exception as exc:  # noqa: BLE001 - shown in words; unexpected ones logged
            event.outcome = "refused" if isinstance(exc, AccessDeniedError) else "error"
            show_failure(exc, "retrain the deal risk models")
            return
        event.detail = {"job": job_id}
    st.session_state[RESULT_KEY] = job_id
    st.rerun()


def show_retrain(workspace: Workspace, user: User) -> None:
    """The retrain button for those allowed, and the last run's summary."""
    if not allowed(user, Action.TRAIN_MODEL):
        st.caption("Retraining needs the admin or revops role.")
        return
    if st.button("Retrain and rescore", type="primary", icon=":material/model_training:",
                 help="Train new win and slip models on the closed deals, score every open "
                      "deal and send risk alerts to the owners' managers."):
        retrain(workspace, user)
    job_id = st.session_state.get(RESULT_KEY)
    found = training_progress(workspace) if job_id is not None else None
    if found is not None and found.job_id == job_id and found.status == "done":
        st.success("The new models are active and every open deal is scored with them; risk "
                   "alerts went to the managers' inboxes.")


def show_attribution(workspace: Workspace) -> None:
    """Recommendations per kind: shown, accepted, overridden, and win rates after each."""
    st.subheader("Recommendations and outcomes")
    frame = recommendation_attribution(workspace)
    if frame.empty:
        st.info("No recommendations yet: risk alerts log one each time they reach a manager.")
        return
    st.caption("Risk alerts recommend one action each. Acting on an inbox item accepts its "
               "recommendation, dismissing it overrides it; win rates count deals closed since.")
    st.dataframe(frame.assign(kind=frame["kind"].str.replace("_", " "))[
        list(ATTRIBUTION_COLUMNS)], hide_index=True, column_config=ATTRIBUTION_COLUMNS)


def main() -> None:
    """Draw the Deal risk model page."""
    user = require_page("deal-risk")
    workspace = current_workspace()
    st.title("Deal risk model")
    training = model_training_notice(workspace)
    show_retrain(workspace, user)
    try:
        cards = model_cards(workspace)
    except Exception as exc:  # noqa: BLE001 - shown in words; unexpected ones are logged
        show_failure(exc, "read the model cards")
        return
    show_active(cards, training)
    show_versions(cards)
    show_attribution(workspace)


main()
