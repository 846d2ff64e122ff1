"""Forecast: the quarter's likely bookings per company, team or rep, the calls against them,
what changed in the pipeline last week, and forms to submit or override a call."""

from __future__ import annotations

import datetime as dt
import math
import time

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from planning import telemetry
from planning.access.policy import Action
from planning.access.users import User
from planning.asof import quarters_with_data
from planning.overview import format_money
from planning.periods import FiscalQuarter
from planning.pipeline.forecast import (
    DEFAULT_DRAWS,
    QuarterForecast,
    SubjectForecast,
    forecast_data_version,
    forecast_quarters,
    quarter_forecast,
)
from planning.pipeline.forecast_calls import (
    CallTarget,
    SubjectCall,
    call_targets,
    overridable_calls,
    override_call,
    submit_call,
)
from planning.pipeline.forecast_changes import changes_since
from planning.pipeline.forecast_history import Call, forecast_history
from planning.pipeline.forecast_scope import forecast_levels, natural_level
from planning.store import Workspace, open_workspace
from views.common import allowed, current_workspace, page_as_of, require_page, show_failure

FLASH_KEY = "forecast_flash"
CHART_CONFIG = {"displaylogo": False, "modeBarButtonsToRemove": ["lasso2d", "select2d"]}
CHART_SUBJECTS = 25
LEVEL_NAMES = {"company": "Company", "team": "Teams", "rep": "Reps"}
CLOSED_COLOR = "#1f4e79"
RANGE_COLOR = "rgba(127, 167, 209, 0.45)"
P50_COLOR = "#0b2c4a"
REP_COLOR = "#2e7d6b"
MANAGER_COLOR = "#8a5a00"
OVERRIDE_COLOR = "#c62828"


def scope_key(user: User) -> tuple[object, ...]:
    """Plain values that identify what a user may see, for the forecast cache."""
    owners = None if user.deal_owner_ids is None else tuple(sorted(user.deal_owner_ids))
    return (user.email, tuple(sorted(r.value for r in user.roles)), user.rep_id, owners)


@st.cache_data(ttl=900, max_entries=64, show_spinner=False)
def load_forecast(
    workspace_name: str, workspace_file: str, scope: tuple[object, ...], quarter: FiscalQuarter,
    level: str, today: dt.date, version: str, _user: User,
) -> QuarterForecast:
    """The simulated forecast, cached per workspace file, viewer scope, quarter, level, day and
    data version (so a new call or import shows at once); records the simulation time."""
    workspace = open_workspace(workspace_name)
    started = time.perf_counter()
    forecast = quarter_forecast(workspace, _user, quarter, level, today=today)
    telemetry.record_event(
        workspace, "solve", "forecast.simulation", user_email=_user.email,
        duration_ms=(time.perf_counter() - started) * 1000,
        detail={"level": level, "quarter": quarter.label, "draws": forecast.draws,
                "deals": forecast.simulated_deals},
    )
    return forecast


@st.cache_data(ttl=900, max_entries=64, show_spinner=False)
def load_changes(
    workspace_name: str, workspace_file: str, scope: tuple[object, ...], since: dt.datetime,
    until: dt.datetime, version: str, _user: User,
) -> list[str]:
    """The week's deal changes in words, cached like the forecast."""
    return changes_since(open_workspace(workspace_name), _user, since, until)


def quarter_text(quarter: FiscalQuarter, current: FiscalQuarter) -> str:
    """A quarter for the selector, e.g. "FY2026 Q4 (current: 1 Oct – 31 Dec 2026)"."""
    which = "current" if quarter == current else "next" if quarter > current else "closed"
    return (f"{quarter.label} ({which}: {quarter.start.day} {quarter.start:%b} – "
            f"{quarter.end.day} {quarter.end:%b %Y})")


def scope_text(user: User) -> str:
    """Whose deals the forecast covers."""
    if user.sees_everything:
        return "Whole workspace"
    owners = user.deal_owner_ids or frozenset()
    if owners - {user.rep_id}:
        return "Your team"
    return "Your book" if user.rep_id in owners else "No deals in your scope"


def money_axis(largest_cents: int, target: int = 5) -> dict[str, list]:
    """Axis ticks in dollars labelled like the rest of the app ("$250K", "$1.5M")."""
    largest = max(largest_cents, 1) / 100
    raw = largest / target
    magnitude = 10 ** math.floor(math.log10(raw)) if raw >= 1 else 1
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    values = [step * i for i in range(math.ceil(largest / step) + 1)]
    return {
        "tickvals": values,
        "ticktext": [format_money(round(v * 100)) for v in values],
        "range": [0, values[-1] * 1.05],
    }


def call_text(call: Call | None) -> str:
    """A call in words for tables and hover text."""
    if call is None:
        return "no call yet"
    numbers = (f"commit {format_money(call.commit_cents)}, "
               f"best case {format_money(call.best_case_cents)}")
    if call.snapshot_id is None:
        return f"{numbers} (sum of {call.submitted_by})"
    who = f"by {call.submitted_by}, {call.submitted_at:%d %b %H:%M} UTC"
    if call.is_override:
        return f"OVERRIDE {numbers} {who}: {call.override_reason}"
    return f"{numbers} {who}"


def forecast_chart(forecast: QuarterForecast, subjects: list[SubjectForecast]) -> go.Figure:
    """Per subject: closed won to date, the model's P10–P90 range with P50, and the calls."""
    names = [s.name for s in subjects]
    figure = go.Figure()
    figure.add_bar(
        name="Closed won to date", orientation="h", y=names,
        x=[s.closed_won_cents / 100 for s in subjects], marker_color=CLOSED_COLOR,
        customdata=[[format_money(s.closed_won_cents), s.closed_won_deals] for s in subjects],
        hovertemplate="%{y}<br>Closed won %{customdata[0]} (%{customdata[1]} deals)"
        "<extra></extra>",
    )
    figure.add_bar(
        name="Model range P10–P90", orientation="h", y=names,
        base=[s.p10_cents / 100 for s in subjects],
        x=[(s.p90_cents - s.p10_cents) / 100 for s in subjects], marker_color=RANGE_COLOR,
        customdata=[[format_money(s.p10_cents), format_money(s.p90_cents)] for s in subjects],
        hovertemplate="%{y}<br>P10 %{customdata[0]} – P90 %{customdata[1]}<extra></extra>",
    )
    figure.add_scatter(
        name="Model P50", mode="markers", y=names, x=[s.p50_cents / 100 for s in subjects],
        marker={"symbol": "line-ns-open", "size": 22, "line": {"width": 3},
                "color": P50_COLOR},
        customdata=[[format_money(s.p50_cents), format_money(s.mean_cents)] for s in subjects],
        hovertemplate="%{y}<br>P50 %{customdata[0]} (mean %{customdata[1]})<extra></extra>",
    )
    rep_calls = [(s.name, s.rep_call) for s in subjects if s.rep_call is not None]
    manager = [(s.name, s.manager_call) for s in subjects if s.manager_call is not None]
    rep_name = "Rep call (commit)" if forecast.level == "rep" else "Rep calls (sum of commits)"
    for name, calls, symbol, color in (
        (rep_name, rep_calls, "diamond", REP_COLOR),
        ("Manager call (commit)", [(n, c) for n, c in manager if not c.is_override], "square",
         MANAGER_COLOR),
        ("Manager override (commit)", [(n, c) for n, c in manager if c.is_override], "x",
         OVERRIDE_COLOR),
    ):
        if calls:
            figure.add_scatter(
                name=name, mode="markers", y=[n for n, _ in calls],
                x=[c.commit_cents / 100 for _, c in calls],
                marker={"symbol": symbol, "size": 12, "color": color,
                        "line": {"width": 1, "color": "white"}},
                customdata=[[call_text(c)] for _, c in calls],
                hovertemplate="%{y}<br>%{customdata[0]}<extra></extra>",
            )
    largest = max(
        [s.p90_cents for s in subjects]
        + [c.commit_cents for _, c in rep_calls + manager] + [0]
    )
    figure.update_layout(
        title={"text": f"{forecast.quarter.label} bookings forecast: closed won, model range "
                       "and calls"},
        xaxis={"title": {"text": "Bookings in the quarter (USD)"}, **money_axis(largest)},
        yaxis={"title": {"text": LEVEL_NAMES[forecast.level]}, "autorange": "reversed"},
        barmode="overlay",
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "right", "x": 1},
        margin={"t": 110},
        height=220 + 42 * len(subjects),
    )
    return figure


def subject_table(forecast: QuarterForecast) -> pd.DataFrame:
    """Every subject's figures in dollars, with the calls in words."""
    rows = []
    for s in forecast.subjects:
        rows.append({
            "Subject": s.name,
            "Closed won": s.closed_won_cents / 100,
            "P10": s.p10_cents / 100,
            "P50": s.p50_cents / 100,
            "P90": s.p90_cents / 100,
            "Mean": s.mean_cents / 100,
            "Pipeline due in quarter": s.pipeline_cents / 100,
            "Open deals due": s.pipeline_deals,
            "Rep call": call_text(s.rep_call),
            "Manager call": call_text(s.manager_call),
        })
    return pd.DataFrame(rows)


def show_table(forecast: QuarterForecast) -> None:
    """The subject table with dollar columns."""
    money = {name: st.column_config.NumberColumn(name, format="dollar")
             for name in ("Closed won", "P10", "P50", "P90", "Mean", "Pipeline due in quarter")}
    st.dataframe(subject_table(forecast), hide_index=True, column_config=money)


def show_headline(subject: SubjectForecast) -> None:
    """Metrics of a single subject: closed won, the model's P50 and range, pipeline, calls."""
    closed, p50, pipeline, call = st.columns(4)
    closed.metric("Closed won to date", format_money(subject.closed_won_cents),
                  help=f"{subject.closed_won_deals:,} won deals closing in the quarter so far.",
                  border=True)
    p50.metric("Model P50", format_money(subject.p50_cents),
               help=f"P10 {format_money(subject.p10_cents)} – P90 "
               f"{format_money(subject.p90_cents)}; mean {format_money(subject.mean_cents)}.",
               border=True)
    pipeline.metric("Pipeline due in quarter", format_money(subject.pipeline_cents),
                    help=f"{subject.pipeline_deals:,} open deals dated in the quarter or past "
                    "due.", border=True)
    latest = subject.manager_call or subject.rep_call
    call.metric("Latest call (commit)",
                format_money(latest.commit_cents) if latest else "none",
                help=call_text(latest) if latest else "Nobody has called this quarter yet.",
                border=True)


def show_forecast(forecast: QuarterForecast) -> None:
    """Headline (one subject), chart of the largest subjects, and the full table."""
    subjects = list(forecast.subjects)
    if len(subjects) == 1:
        show_headline(subjects[0])
    shown = sorted(subjects, key=lambda s: -s.p50_cents)[:CHART_SUBJECTS]
    shown.sort(key=lambda s: subjects.index(s))
    if len(shown) < len(subjects):
        st.caption(f"The chart shows the {len(shown)} largest of {len(subjects)} by P50; "
                   "the table lists all.")
    st.plotly_chart(
        forecast_chart(forecast, shown), config=CHART_CONFIG,
        alt="Horizontal chart per subject of closed-won bookings, the model's P10 to P90 "
        "range with its P50, and rep and manager calls, in US dollars.",
    )
    show_table(forecast)
    model = (f"deal risk model {forecast.model_id}" if forecast.model_id
             else "no trained deal risk model")
    st.caption(
        f"{forecast.draws:,} simulated outcomes of {forecast.simulated_deals:,} open deals "
        f"({model}; {forecast.fallback_deals:,} deals without a score use their stage's win "
        f"rate) in {seconds_text(forecast.seconds)}, with a shared win-rate shock of "
        f"σ = {forecast.shock_sigma:.2f} (logit scale, from the last eight quarters). "
        f"{range_text(forecast)}{unpriced_text(forecast)}"
    )


def unpriced_text(forecast: QuarterForecast) -> str:
    """Why open deals due in the quarter may add nothing: they carry no amount."""
    missing = forecast.unpriced_due_deals
    if not missing:
        return ""
    return (f" {missing:,} open deal{'s' if missing != 1 else ''} due in the quarter "
            f"{'carry' if missing != 1 else 'carries'} no amount in the CRM, so "
            f"{'they add' if missing != 1 else 'it adds'} nothing to the forecast.")


def range_text(forecast: QuarterForecast) -> str:
    """How the P10–P90 ranges were calibrated, in words."""
    calibration = forecast.calibration
    if calibration.forecasts == 0:
        return ("P10–P90 is the simulation's own range, not yet calibrated: run the backtest on "
                "the Forecast accuracy page to widen it to what past quarters needed.")
    if calibration.margin == 0:
        return (f"P10–P90 is the simulation's own range: the backtest ({calibration.forecasts} "
                f"weekly forecasts of {calibration.quarters} quarters) needed no widening.")
    return (f"P10–P90 is widened by {calibration.margin:.2f}× the simulated range on each side, "
            f"so that it would have held 80% of the actuals in the backtest "
            f"({calibration.forecasts} weekly forecasts of {calibration.quarters} quarters).")


def show_changes(workspace: Workspace, user: User, version: str) -> None:
    """What changed in the deals in scope over the seven days up to the end of this hour, or
    of the as-of day when the plan looks at an earlier day."""
    st.subheader("What changed since last week")
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    as_of = page_as_of(workspace).day
    if as_of < now.date():
        until = dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time())
    else:
        until = now.replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=1)
    since = until - dt.timedelta(days=7)
    try:
        lines = load_changes(workspace.name, str(workspace.path), scope_key(user), since, until,
                             version, user)
    except Exception as exc:
        show_failure(exc, "summarise last week's changes")
        return
    last = until - dt.timedelta(microseconds=1)
    st.caption(f"{since:%d %b %H:%M} – {last:%d %b %Y %H:%M} (UTC), deals in your scope")
    if lines:
        st.markdown("\n".join(f"- {line}" for line in lines))
    else:
        st.write("No deal in your scope changed in the last seven days.")


def show_history(workspace: Workspace, user: User, quarter: FiscalQuarter, level: str) -> None:
    """The commit calls submitted over time for the chosen level, overrides marked."""
    st.subheader("Calls over time")
    history = forecast_history(workspace, user, quarter)
    history = history[history["level"] == level]
    if history.empty:
        st.caption(f"No {LEVEL_NAMES[level].lower()} calls for {quarter.label} yet.")
        return
    figure = go.Figure()
    for name, rows in history.groupby("subject_name", sort=True):
        own = rows[~rows["is_override"]]
        over = rows[rows["is_override"]]
        if not own.empty:
            figure.add_scatter(
                name=f"{name}: commit", mode="lines+markers", x=own["submitted_at"],
                y=own["commit_cents"] / 100,
                customdata=own[["submitted_by"]].to_numpy(),
                hovertemplate="%{x|%d %b %H:%M}<br>$%{y:,.0f} by %{customdata[0]}"
                "<extra></extra>",
            )
        if not over.empty:
            figure.add_scatter(
                name=f"{name}: override", mode="markers", x=over["submitted_at"],
                y=over["commit_cents"] / 100,
                marker={"symbol": "x", "size": 12, "color": OVERRIDE_COLOR},
                customdata=over[["submitted_by", "override_reason"]].to_numpy(),
                hovertemplate="%{x|%d %b %H:%M}<br>override $%{y:,.0f} by %{customdata[0]}"
                "<br>%{customdata[1]}<extra></extra>",
            )
    figure.update_layout(
        title={"text": f"Commit calls for {quarter.label} over time"},
        xaxis={"title": {"text": "Submitted (UTC)"}, "tickformat": "%d %b %H:%M"},
        yaxis={"title": {"text": "Commit (USD)"},
               **money_axis(int(history["commit_cents"].max()))},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "right", "x": 1},
        margin={"t": 90},
    )
    st.plotly_chart(figure, config=CHART_CONFIG,
                    alt="Line chart of commit calls in US dollars by submission time.")


def seconds_text(seconds: float) -> str:
    """A duration such as "350 ms" or "2.4 s"."""
    return f"{seconds * 1000:,.0f} ms" if seconds < 1 else f"{seconds:,.1f} s"


def dollars(cents: int) -> int:
    """Whole dollars for a number input, rounded to the nearest thousand."""
    return int(round(cents / 100_000) * 1_000)


def show_submit_form(
    workspace: Workspace, user: User, forecast: QuarterForecast, targets: list[CallTarget]
) -> None:
    """The form to submit one's call (commit, best case, comment) at the shown level."""
    st.subheader("Submit your call")
    if not targets:
        where = sorted({LEVEL_NAMES[t.level] for t in call_targets(workspace, user)})
        st.caption("You have no call to make at this level"
                   + (f"; switch the level to: {', '.join(where)}." if where else "."))
        return
    first = next((s for s in forecast.subjects if s.subject_id == targets[0].subject_id), None)
    view = f"{forecast.level}_{forecast.quarter.label}"
    with st.form("forecast_submit_call"):
        target = st.selectbox("Call for", targets, format_func=lambda t: t.name,
                              key=f"call_target_{view}")
        commit, best = st.columns(2)
        commit_dollars = commit.number_input(
            "Commit (USD)", min_value=0, step=1_000, key=f"call_commit_{view}",
            value=dollars(first.p50_cents) if first else 0,
            help="Prefilled with the model's P50 for the first subject listed.")
        best_dollars = best.number_input(
            "Best case (USD)", min_value=0, step=1_000, key=f"call_best_{view}",
            value=dollars(first.p90_cents) if first else 0,
            help="Prefilled with the model's P90 for the first subject listed.")
        comment = st.text_area("Comment", max_chars=2_000, key="call_comment")
        if not st.form_submit_button("Submit call", type="primary", key="call_submit"):
            return
    try:
        with st.spinner("Recording your call with the model's current view…"):
            snapshot_id = submit_call(
                workspace, user, forecast.quarter, target.level, target.subject_id,
                int(commit_dollars) * 100, int(best_dollars) * 100, comment)
    except Exception as exc:
        show_failure(exc, "submit your call")
        return
    st.session_state[FLASH_KEY] = (
        f"Call #{snapshot_id} recorded for {target.name}, {forecast.quarter.label}: commit "
        f"{format_money(int(commit_dollars) * 100)}, best case "
        f"{format_money(int(best_dollars) * 100)}.")
    st.rerun()


def override_choice_text(item: SubjectCall) -> str:
    """A call in the override picker: whose, which numbers, when."""
    call = item.call
    return (f"{item.target.name} ({item.target.level}): commit "
            f"{format_money(call.commit_cents)}, best case {format_money(call.best_case_cents)}"
            f" — {call.submitted_by}, {call.submitted_at:%d %b %H:%M} UTC")


def show_override_form(workspace: Workspace, user: User, quarter: FiscalQuarter) -> None:
    """For managers: override the latest call of someone in scope, with a required reason."""
    st.subheader("Override a call")
    calls = overridable_calls(workspace, user, quarter)
    if not calls:
        st.caption(f"No call from your team for {quarter.label} to override yet.")
        return
    newest = calls[0].call
    with st.form("forecast_override_call"):
        choice = st.selectbox("Call to override", calls, format_func=override_choice_text,
                              key="override_choice")
        commit, best = st.columns(2)
        commit_dollars = commit.number_input(
            "Your commit (USD)", min_value=0, step=1_000, key="override_commit",
            value=dollars(newest.commit_cents))
        best_dollars = best.number_input(
            "Your best case (USD)", min_value=0, step=1_000, key="override_best",
            value=dollars(newest.best_case_cents))
        reason = st.text_input("Reason (required, kept in the audit trail)",
                               key="override_reason")
        if not st.form_submit_button("Override call", key="override_submit"):
            return
    try:
        with st.spinner("Recording the override with the model's current view…"):
            snapshot_id = override_call(
                workspace, user, int(choice.call.snapshot_id), int(commit_dollars) * 100,
                int(best_dollars) * 100, reason)
    except Exception as exc:
        show_failure(exc, "override the call")
        return
    st.session_state[FLASH_KEY] = (
        f"Override #{snapshot_id} recorded for {choice.target.name}: commit "
        f"{format_money(int(commit_dollars) * 100)}, best case "
        f"{format_money(int(best_dollars) * 100)}.")
    st.rerun()


def main() -> None:
    """Draw the Forecast page for the signed-in user's scope."""
    user = require_page("forecast")
    workspace = current_workspace()
    st.title("Forecast")
    flash = st.session_state.pop(FLASH_KEY, None)
    if flash:
        st.success(flash, icon=":material/check_circle:")
    as_of = page_as_of(workspace)
    today = as_of.day
    try:
        current, following = forecast_quarters(workspace, today)
        quarters = [following, *quarters_with_data(workspace, today)]
    except Exception as exc:
        show_failure(exc, "read the fiscal calendar")
        return
    levels = list(forecast_levels(user))
    left, right = st.columns(2)
    quarter = left.selectbox("Fiscal quarter", quarters, key="forecast_quarter", index=1,
                             format_func=lambda q: quarter_text(q, current))
    level = right.selectbox("Level", levels, index=levels.index(natural_level(user)),
                            format_func=LEVEL_NAMES.get, key="forecast_level")
    st.caption(f"{scope_text(user)} · {quarter.label} · as of {today:%d %b %Y} "
               f"({as_of.source_text}) · amounts in USD")
    try:
        version = forecast_data_version(workspace)
        with st.spinner(f"Simulating {DEFAULT_DRAWS:,} outcomes of {quarter.label}…"):
            forecast = load_forecast(
                workspace.name, str(workspace.path), scope_key(user), quarter, level, today,
                version, user)
    except Exception as exc:
        show_failure(exc, "compute the forecast")
        return
    if forecast.subjects:
        show_forecast(forecast)
    else:
        st.info("There are no deals in your scope: your email matches no rep in the CRM data.")
    show_changes(workspace, user, version)
    if allowed(user, Action.SUBMIT_CALL):
        show_submit_form(workspace, user, forecast, call_targets(workspace, user, level))
    if allowed(user, Action.OVERRIDE_CALL):
        show_override_form(workspace, user, quarter)
    show_history(workspace, user, quarter, level)


main()
