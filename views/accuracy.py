"""Forecast accuracy: weekly point-in-time forecasts of past quarters against what they booked."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from planning import telemetry
from planning.access.policy import Action, can
from planning.overview import format_money
from planning.pipeline.accuracy import backtest_forecasts, latest_backtest
from views.common import current_workspace, require_page, show_failure

user = require_page("accuracy")
workspace = current_workspace()

st.title("Forecast accuracy")
st.caption(
    "For each of the last six closed quarters, models trained only on deals closed before the "
    "quarter began forecast it every week from the deals as they stood that week. The model's "
    "P50 and its P10–P90 range are compared with the reps' commit call (closed won plus open "
    "Commit deals due in the quarter) and with what the quarter actually booked. Each "
    "quarter's P10–P90 is the simulation's range widened by what the forecasts of up to four "
    "earlier quarters needed to hold 80% of their actuals (conformal calibration); the same "
    "widening applies on the Forecast page. Amounts in USD."
)

rows, summary = latest_backtest(workspace)
rerun = can(user, Action.TRAIN_MODEL) and st.button(
    "Run the backtest again", icon=":material/replay:",
    help="Trains models for each quarter; takes a few minutes on a large book.")
if rerun:
    with st.status("Backtesting the last six quarters…", expanded=True) as status:
        bar = st.progress(0.0)
        try:
            with telemetry.timed(workspace, "train", "forecast_backtest", user.email):
                rows, summary = backtest_forecasts(
                    workspace, actor=user.email,
                    actor_role=user.primary_role.value if user.primary_role else None,
                    progress=lambda share, text: bar.progress(min(share, 1.0), text=text),
                )
            status.update(label="Backtest finished", state="complete")
        except Exception as exc:  # noqa: BLE001 - shown in words
            status.update(label="Backtest failed", state="error")
            show_failure(exc, "run the backtest")

if summary is None or rows.empty:
    st.info("No backtest has run in this workspace yet."
            + (" Use the button above to run one." if can(user, Action.TRAIN_MODEL) else
               " Ask RevOps to run one."))
    st.stop()

st.caption(f"Backtest {rows['run_id'].iat[0]}, computed "
           f"{pd.Timestamp(rows['computed_at'].iat[0]):%d %b %Y %H:%M} UTC.")
cards = st.columns(4)
cards[0].metric("Model P50 error (mean absolute)", f"{summary.model_mean_abs_error:.1%}",
                help="Average of |P50 − actual| ÷ actual over every weekly forecast.")
cards[1].metric("Rep commit call error", f"{summary.rep_mean_abs_error:.1%}")
cards[2].metric("Within ±10%: model vs reps",
                f"{summary.model_within_share:.0%} vs {summary.rep_within_share:.0%}")
cards[3].metric("Actual inside P10–P90", f"{summary.interval_coverage:.0%}",
                help="A well-calibrated 80% range holds the actual about 80% of the time."
                + (f" The simulation's own range held it {summary.raw_interval_coverage:.0%} of "
                   "the time." if summary.raw_interval_coverage is not None else ""))

for label, quarter in rows.groupby("quarter_label", sort=False):
    weeks = pd.to_datetime(quarter["week_of"])
    figure = go.Figure()
    figure.add_trace(go.Scatter(x=weeks, y=quarter["p90_cents"] / 100, line={"width": 0},
                                showlegend=False, hoverinfo="skip"))
    figure.add_trace(go.Scatter(x=weeks, y=quarter["p10_cents"] / 100, fill="tonexty",
                                fillcolor="rgba(31,78,121,0.18)", line={"width": 0},
                                name="Model P10–P90"))
    figure.add_trace(go.Scatter(x=weeks, y=quarter["p50_cents"] / 100, name="Model P50",
                                line={"color": "#1f4e79", "width": 3}))
    figure.add_trace(go.Scatter(x=weeks, y=quarter["rep_call_cents"] / 100,
                                name="Rep commit call", line={"color": "#c8702a", "dash": "dot"}))
    figure.add_trace(go.Scatter(x=weeks, y=quarter["closed_won_cents"] / 100,
                                name="Closed won to date", line={"color": "#7f7f7f"}))
    figure.add_hline(y=quarter["actual_cents"].iat[0] / 100, line={"color": "#2e7d6b"},
                     annotation_text=f"Actual {format_money(int(quarter['actual_cents'].iat[0]))}")
    figure.update_layout(
        title=f"{label}: weekly forecasts against the quarter's bookings", height=360,
        xaxis_title="Week the forecast was made", yaxis_title="Quarter bookings (USD)",
        yaxis_tickprefix="$", legend={"orientation": "h", "y": -0.25},
        margin={"t": 50, "b": 10},
    )
    st.plotly_chart(figure, width="stretch", config={"displaylogo": False})

table = rows.assign(
    model_error=(rows["p50_cents"] - rows["actual_cents"]) / rows["actual_cents"],
    rep_error=(rows["rep_call_cents"] - rows["actual_cents"]) / rows["actual_cents"],
    inside=(rows["p10_cents"] <= rows["actual_cents"])
    & (rows["actual_cents"] <= rows["p90_cents"]),
)
st.subheader("Every weekly forecast")
st.dataframe(
    table[["quarter_label", "week_of", "open_deals", "closed_won_cents", "p10_cents",
           "p50_cents", "p90_cents", "rep_call_cents", "actual_cents", "model_error",
           "rep_error", "inside"]].assign(**{
               c: table[c] / 100 for c in ("closed_won_cents", "p10_cents", "p50_cents",
                                           "p90_cents", "rep_call_cents", "actual_cents")}),
    hide_index=True, width="stretch",
    column_config={
        "quarter_label": "Quarter", "week_of": "Week of", "open_deals": "Open deals",
        **{c: st.column_config.NumberColumn(t, format="dollar") for c, t in (
            ("closed_won_cents", "Closed won"), ("p10_cents", "P10"), ("p50_cents", "P50"),
            ("p90_cents", "P90"), ("rep_call_cents", "Rep call"), ("actual_cents", "Actual"))},
        "model_error": st.column_config.NumberColumn("Model error", format="percent"),
        "rep_error": st.column_config.NumberColumn("Rep error", format="percent"),
        "inside": st.column_config.CheckboxColumn("Actual in P10–P90"),
    },
)
