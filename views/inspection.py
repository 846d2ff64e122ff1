"""Deal inspection: filter the open deals in scope, see why they are at risk, drill into one
deal's history and notes, and see how pipeline moved between two dates."""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from planning.access.policy import ACTION_ROLES, Action
from planning.access.users import User
from planning.errors import RevPlanError
from planning.overview import format_money, format_percent
from planning.periods import FiscalQuarter
from planning.pipeline.inspection import (
    FLAG_RULES,
    MAX_NOTE_LENGTH,
    DealFilters,
    FilterChoices,
    Flag,
    FlagThresholds,
    InspectionFacts,
    RiskBand,
    Waterfall,
    add_inspection_note,
    data_version,
    deal_timeline,
    filter_choices,
    inspect_deals,
    load_inspection_facts,
    pipeline_waterfall,
)
from planning.pipeline.scores import PROBABILITY_NOTE, shown_probabilities, shown_probability
from planning.store import Workspace
from views.common import (
    allowed,
    current_workspace,
    log_unexpected,
    model_training_notice,
    page_as_of,
    require_page,
    show_failure,
)

MAX_TABLE_ROWS = 2_000
ALL_QUARTERS = "All close dates"
ALL_OPEN = "All open deals"
TABLE_KEY = "inspection_deals"
NOTICE_KEY = "inspection_note_notice"
RISE_COLOR = "#2e7d6b"
FALL_COLOR = "#c0504d"
TOTAL_COLOR = "#1f4e79"
CHART_CONFIG = {"displaylogo": False, "modeBarButtonsToRemove": ["lasso2d", "select2d"]}
# Short headers of the flag columns; the full wording is in each column's help.
FLAG_HEADERS = {
    Flag.STALE: "Stale",
    Flag.NEXT_STEP_MISSING: "No step",
    Flag.NEXT_STEP_OVERDUE: "Overdue",
    Flag.PUSHED: "Pushed",
    Flag.AMOUNT_CUT: "Cut",
}
FLAG_HELP = {
    Flag.STALE: "No activity logged for more than {days} days.",
    Flag.NEXT_STEP_MISSING: "No next step, and the close date is within "
    "{t.next_step_missing_close_within_days} days or past.",
    Flag.NEXT_STEP_OVERDUE: "The next-step date passed more than "
    "{t.next_step_overdue_after_days} days ago.",
    Flag.PUSHED: "The close date was moved later at least {t.pushed_min_times} times.",
    Flag.AMOUNT_CUT: "The amount is at least {t.amount_cut_min_percent:.0f} % below the highest "
    "it has been.",
}


@st.cache_data(max_entries=4, show_spinner="Reading open deals and their history…")
def cached_facts(path: str, version: str, _workspace: Workspace) -> InspectionFacts:
    """Every open deal with scores and history facts, kept per workspace file and data version."""
    return load_inspection_facts(_workspace)


@st.cache_data(max_entries=32, show_spinner="Rebuilding the pipeline at both dates…")
def cached_waterfall(
    path: str, version: str, scope: tuple, start: dt.datetime, end: dt.datetime,
    quarter_label: str, _workspace: Workspace, _viewer: User, _quarter: FiscalQuarter | None,
) -> Waterfall:
    """The pipeline waterfall, kept per workspace, data version, scope, dates and quarter."""
    return pipeline_waterfall(_workspace, _viewer, start, end, _quarter)


def scope_key(user: User) -> tuple:
    """What decides which deals a user reads, for cache keys."""
    owners = None if user.deal_owner_ids is None else tuple(sorted(user.deal_owner_ids))
    return (user.email, user.workspace, owners)


def scope_text(user: User) -> str:
    """Whose deals the page covers."""
    if user.sees_everything:
        return "Whole workspace"
    team = (user.deal_owner_ids or frozenset()) - {user.rep_id}
    if team:
        return f"Your team: {len(team):,} rep{'s' if len(team) != 1 else ''}"
    return "Your book"


def filter_row(choices: FilterChoices, facts: InspectionFacts) -> DealFilters:
    """The filters above the table: team, rep, stage, close quarter, risk band and flags."""
    team, rep, stage, quarter, risk = st.columns([1.2, 1.4, 1.4, 1, 1.4])
    teams = team.multiselect("Team", choices.teams, placeholder="All teams")
    reps = rep.multiselect("Rep", list(choices.reps), format_func=choices.reps.get,
                           placeholder="All reps")
    stages = stage.multiselect("Stage", choices.stages, placeholder="All stages")
    quarter_labels = {q.label: q for q in choices.quarters}
    chosen = quarter.selectbox(
        "Close quarter", [ALL_QUARTERS, *quarter_labels],
        help="Fiscal quarter of the deal's close date.",
    )
    bands = risk.multiselect("Risk band", list(RiskBand), format_func=lambda b: b.label,
                             placeholder="All risk bands",
                             help="Bands of the model's win probability.")
    flag_columns = st.columns(len(Flag) + 1, vertical_alignment="center")
    flag_columns[0].markdown("**Only deals flagged:**")
    flags = [
        flag for flag, column in zip(Flag, flag_columns[1:], strict=True)
        if column.checkbox(flag.label,
                           help=FLAG_HELP[flag].format(days=facts.stale_after_days,
                                                       t=facts.thresholds))
    ]
    return DealFilters(teams=teams, owner_ids=reps, stages=stages,
                       close_quarter=quarter_labels.get(chosen), risk_bands=bands, flags=flags)


def show_kpis(deals: pd.DataFrame, has_model: bool) -> None:
    """Deals, amount and at-risk amount of the filtered deals."""
    count, amount, at_risk, flagged = st.columns(4)
    total = int(deals["amount_cents"].fillna(0).sum())
    count.metric("Deals", f"{len(deals):,}", border=True)
    amount.metric("Amount", format_money(total), border=True,
                  help=f"{format_money(total, compact=False)} across the deals shown.")
    risky = deals[deals["risk_band"] == RiskBand.HIGH.value]
    risky_cents = int(risky["amount_cents"].fillna(0).sum())
    at_risk.metric(
        "At-risk amount", format_money(risky_cents) if has_model else "n/a", border=True,
        help=f"{RiskBand.HIGH.label}: {len(risky):,} deals, "
        f"{format_money(risky_cents, compact=False)}." if has_model
        else "No win-probability model is trained yet.",
    )
    any_flag = deals[[flag.value for flag in Flag]].any(axis=1)
    flagged.metric("Deals with a warning flag", f"{int(any_flag.sum()):,}", border=True,
                   help="Stale, no next step, next step overdue, pushed or amount cut. "
                   f"{FLAG_RULES}")


def table_frame(deals: pd.DataFrame) -> pd.DataFrame:
    """The deals as the table shows them (amounts in whole dollars, for display only)."""
    shown = deals.head(MAX_TABLE_ROWS)
    return pd.DataFrame({
        "Deal": shown["deal"],
        "Account": shown["account"],
        "Owner": shown["owner"],
        "Team": shown["team"],
        "Amount": (shown["amount_cents"].astype("Int64") // 100),
        "Stage": shown["stage"],
        "Close date": shown["close_date"],
        "Estimated": shown["close_date_estimated"],
        "Win probability": shown_probabilities(shown["win_probability"]) * 100,
        "Slip risk": shown_probabilities(shown["slip_probability"]) * 100,
        **{flag.label: shown[flag.value] for flag in Flag},
        "Reasons": pd.Series(shown["reasons"].tolist(), index=shown.index, dtype=object),
        "Days since activity": shown["days_since_activity"],
        "Next step": shown["next_step"],
        "Next-step date": shown["next_step_date"],
    })


def column_config(stale_days: int, thresholds: FlagThresholds | None
                  ) -> dict[str, object]:
    """How each table column is drawn."""
    config: dict[str, object] = {
        "Deal": st.column_config.TextColumn(width="medium"),
        "Account": st.column_config.TextColumn(width="small"),
        "Amount": st.column_config.NumberColumn(
            format="$%,d", help="Deal amount in USD; empty when the CRM has none."),
        "Close date": st.column_config.DateColumn(format="D MMM YYYY"),
        "Estimated": st.column_config.CheckboxColumn(
            "Est.", width=56, help="The CRM had no close date: the import estimated it from "
            "the created date and the median won sales cycle (docs/IMPORT.md)."),
        "Win probability": st.column_config.ProgressColumn(
            "Win", format="%.0f%%", min_value=0, max_value=100, width=110,
            help=f"The model's chance that the deal is won. {PROBABILITY_NOTE}",
            color="green"),
        "Slip risk": st.column_config.ProgressColumn(
            "Slip risk", format="%.0f%%", min_value=0, max_value=100, width=110,
            help="The model's chance that the deal closes after its quarter. "
            f"{PROBABILITY_NOTE}", color="orange"),
        "Reasons": st.column_config.ListColumn(
            width="large", help="What moves the win probability most, strongest first."),
        "Days since activity": st.column_config.NumberColumn(format="%d d"),
        "Next-step date": st.column_config.DateColumn(format="D MMM YYYY"),
    }
    for flag in Flag:
        config[flag.label] = st.column_config.CheckboxColumn(
            FLAG_HEADERS[flag], width=72,
            help=FLAG_HELP[flag].format(days=stale_days, t=thresholds))
    return config


def show_table(deals: pd.DataFrame, facts: InspectionFacts, filters: DealFilters
               ) -> pd.Series | None:
    """The deals table; returns the selected deal's row. New filters clear the selection."""
    if len(deals) > MAX_TABLE_ROWS:
        st.caption(f"Showing the {MAX_TABLE_ROWS:,} largest of {len(deals):,} deals; narrow the "
                   "filters to see the others.")
    event = st.dataframe(
        table_frame(deals), column_config=column_config(facts.stale_after_days,
                                                 facts.thresholds),
        hide_index=True, on_select="rerun", selection_mode="single-row",
        key=f"{TABLE_KEY}-{hash(filters)}", height=420,
    )
    rows = event.selection.rows
    if not rows or rows[0] >= min(len(deals), MAX_TABLE_ROWS):
        return None
    return deals.iloc[rows[0]]


def save_note(workspace: Workspace, user: User, opportunity_id: str, key: str) -> None:
    """Form callback: store the note before the page redraws, so the timeline shows it."""
    try:
        add_inspection_note(workspace, user, opportunity_id, st.session_state.get(key, ""))
    except RevPlanError as exc:
        st.session_state[NOTICE_KEY] = ("error", f"Could not add the note: {exc}")
        return
    except Exception as exc:  # noqa: BLE001 - shown in words, logged with its stack
        reference = log_unexpected(exc, f"add a note to {opportunity_id}")
        st.session_state[NOTICE_KEY] = (
            "error", "Could not add the note because of an unexpected error. Nothing was "
            f"saved; the details are in the server log under reference {reference}.")
        return
    st.session_state[NOTICE_KEY] = ("success", "Note added to the deal's timeline.")
    st.session_state[key] = ""


def show_deal(workspace: Workspace, user: User, deal: pd.Series) -> None:
    """One deal: headline facts, reasons, the change timeline with notes, and the note form."""
    opportunity_id = str(deal["opportunity_id"])
    st.subheader(f"{deal['deal']}")
    win = deal["win_probability"]
    close = deal["close_date"]
    facts_line = [
        f"**{deal['account']}**", f"owner {deal['owner']}", str(deal["stage"]),
        format_money(0 if pd.isna(deal["amount_cents"]) else int(deal["amount_cents"]),
                     compact=False),
        f"closes {close:%d %b %Y}" if pd.notna(close) else "no close date",
        "win probability "
        f"{format_percent(None if pd.isna(win) else shown_probability(float(win)))}",
    ]
    st.markdown(" · ".join(facts_line))
    reasons = list(deal["reasons"]) if deal["reasons"] is not None else []
    if reasons:
        st.markdown("**Why:** " + "; ".join(reasons) + ".")
    try:
        timeline = deal_timeline(workspace, user, opportunity_id)
    except RevPlanError as exc:
        show_failure(exc, "show this deal's history")
        return
    st.markdown(f"**Timeline** · {len(timeline):,} entries: field changes, activities and "
                "inspection notes, oldest first (UTC)")
    st.dataframe(
        timeline.rename(columns=str.capitalize), hide_index=True, height=320,
        column_config={
            "Time": st.column_config.DatetimeColumn(format="D MMM YYYY, HH:mm"),
            "Kind": st.column_config.TextColumn(width="small"),
            "What": st.column_config.TextColumn(width="small"),
            "Detail": st.column_config.TextColumn(width="large"),
        },
        key=f"timeline-{opportunity_id}",
    )
    notice = st.session_state.pop(NOTICE_KEY, None)
    if notice is not None:
        kind, text = notice
        (st.success if kind == "success" else st.error)(text)
    if not allowed(user, Action.ADD_NOTE):
        roles = ", ".join(sorted(role.value for role in ACTION_ROLES[Action.ADD_NOTE]))
        st.caption(f"Adding inspection notes needs one of these roles: {roles}.")
        return
    key = f"note-{opportunity_id}"
    with st.form(f"note-form-{opportunity_id}"):
        st.text_area("Inspection note", key=key, max_chars=MAX_NOTE_LENGTH,
                     placeholder="What did you find, and what should happen next?")
        st.form_submit_button("Add inspection note", type="primary", on_click=save_note,
                              args=(workspace, user, opportunity_id, key))


def nice_step(span: float, target: int = 5) -> float:
    """A round tick step (1, 2, 2.5 or 5 times a power of ten) giving about `target` ticks."""
    raw = max(span, 1.0) / target
    magnitude = 10 ** math.floor(math.log10(raw))
    return next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)


def money_axis(low_cents: int, high_cents: int) -> tuple[dict[str, object], float]:
    """Y axis in dollars labelled like the KPIs ("$250K", "$1.5M"), and its base in dollars.

    The axis starts at zero unless the changes would be slivers next to the totals; then it
    starts just below the lowest running total, and the caller says so in the axis title.
    """
    low, high = max(low_cents, 0) / 100, max(high_cents, 1) / 100
    base = 0.0
    if high - low < 0.35 * high:
        base = math.floor((low - (high - low) * 0.6) / nice_step(high - low)) * nice_step(
            high - low)
        base = max(base, 0.0)
    step = nice_step(high - base)
    first = math.ceil(base / step) * step
    values = [first + step * i for i in range(math.ceil((high - first) / step) + 1)]
    axis = {"tickvals": values, "ticktext": [format_money(round(v * 100)) for v in values],
            "range": [base, values[-1] + step * 0.6]}
    return axis, base


def signed_money(cents: int) -> str:
    """A change in dollars with its sign: "+$1.2M", "−$880K", "$0"."""
    if cents == 0:
        return "$0"
    return ("+" if cents > 0 else "−") + format_money(abs(cents))


def day_text(day: dt.date) -> str:
    """A day as "8 Nov"."""
    return f"{day.day} {day:%b}"


def waterfall_chart(waterfall: Waterfall, start_day: dt.date, end_day: dt.date) -> go.Figure:
    """Start pipeline, one bar per bucket, end pipeline; rises green, falls red, totals blue."""
    start_label = f"Pipeline {day_text(start_day)}"
    end_label = f"Pipeline {day_text(end_day)}"
    labels = [start_label, *(b.label for b in waterfall.buckets), end_label]
    cents = [waterfall.start_cents, *(b.cents for b in waterfall.buckets), waterfall.end_cents]
    deals = [waterfall.start_deals, *(b.deals for b in waterfall.buckets), waterfall.end_deals]
    texts = [format_money(waterfall.start_cents),
             *(signed_money(b.cents) for b in waterfall.buckets),
             format_money(waterfall.end_cents)]
    figure = go.Figure(go.Waterfall(
        x=labels, y=[c / 100 for c in cents],
        measure=["absolute", *("relative" for _ in waterfall.buckets), "total"],
        text=texts, textposition="outside",
        customdata=[[format_money(c, compact=False), d] for c, d in zip(cents, deals,
                                                                          strict=True)],
        hovertemplate="%{x}<br>%{customdata[0]} · %{customdata[1]:,} deals<extra></extra>",
        increasing={"marker": {"color": RISE_COLOR}},
        decreasing={"marker": {"color": FALL_COLOR}},
        totals={"marker": {"color": TOTAL_COLOR}},
        connector={"line": {"color": "#9aa5b1", "width": 1, "dash": "dot"}},
        showlegend=False, cliponaxis=False,
    ))
    for name, color in (("Open pipeline at a date", TOTAL_COLOR),
                        ("Adds to pipeline", RISE_COLOR), ("Removes from pipeline", FALL_COLOR)):
        figure.add_bar(x=[None], y=[None], name=name, marker_color=color, showlegend=True,
                       hoverinfo="skip")
    scope = (f"closing in {waterfall.quarter.label}" if waterfall.quarter is not None
             else "all open deals")
    running = [waterfall.start_cents]
    for bucket in waterfall.buckets:
        running.append(running[-1] + bucket.cents)
    axis, base = money_axis(min(running), max(running))
    title = "Open pipeline (USD)" + (
        f", axis starts at {format_money(round(base * 100))}" if base else "")
    figure.update_layout(
        title={"text": f"Open pipeline {scope}: {day_text(start_day)} → {day_text(end_day)} "
                       f"{end_day.year}"},
        xaxis={"title": {"text": "Change between the two dates"}, "type": "category"},
        yaxis={"title": {"text": title}, **axis},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "right", "x": 1},
        margin={"t": 90},
        height=480,
        barmode="overlay",
    )
    return figure


def show_waterfall(workspace: Workspace, user: User, choices: FilterChoices,
                   facts: InspectionFacts, today: dt.date) -> None:
    """Date pickers (the last 7 days of data by default), quarter choice and the waterfall."""
    st.subheader("How pipeline moved")
    through = today if facts.data_through is None else min(today, facts.data_through.date())
    first, second, third = st.columns([1, 1, 1.4])
    start_day = first.date_input("From (end of day, UTC)", through - dt.timedelta(days=7),
                                 max_value=today, format="DD/MM/YYYY")
    end_day = second.date_input(
        "To (end of day, UTC)", through, max_value=today, format="DD/MM/YYYY",
        help=f"The newest change or activity in the data is from {through:%d %b %Y}.")
    current = choices.current_quarter
    quarters = {q.label: q for q in (current.shifted(k) for k in range(-1, 4))}
    chosen = third.selectbox("Deals closing in", [*quarters, ALL_OPEN],
                             index=list(quarters).index(current.label))
    if start_day >= end_day:
        st.info("Pick a start date before the end date to see how pipeline moved.")
        return
    start = dt.datetime.combine(start_day + dt.timedelta(days=1), dt.time())
    end = dt.datetime.combine(end_day + dt.timedelta(days=1), dt.time())
    quarter = quarters.get(chosen)
    try:
        waterfall = cached_waterfall(str(workspace.path), facts.version, scope_key(user), start,
                                     end, chosen, workspace, user, quarter)
    except Exception as exc:
        show_failure(exc, "rebuild the pipeline at both dates")
        return
    if waterfall.start_deals == 0 and waterfall.end_deals == 0:
        st.info(f"No open pipeline {('closing in ' + chosen) if quarter else ''} in your scope "
                "at either date.")
        return
    st.plotly_chart(
        waterfall_chart(waterfall, start_day, end_day), config=CHART_CONFIG,
        alt=f"Waterfall chart: open pipeline of {format_money(waterfall.start_cents)} on "
        f"{start_day:%d %b %Y} changing through new deals, amount changes, close-date moves, "
        f"wins and losses to {format_money(waterfall.end_cents)} on {end_day:%d %b %Y}.",
    )
    st.caption(
        "Pipeline at each date is rebuilt from the CRM field history. New: deals created in "
        "between. Amount increased / decreased: amount changes of deals in the pipeline at the "
        "start. Pulled in / pushed out: close date moved into / out of the quarter. Won / lost: "
        "deals closed in between, at their final amount."
    )


def main() -> None:
    """Draw the Deal inspection page for the signed-in user's scope."""
    user = require_page("inspection")
    workspace = current_workspace()
    st.title("Deal inspection")
    training = model_training_notice(workspace)
    as_of = page_as_of(workspace)
    today = as_of.day
    try:
        version = data_version(workspace)
        facts = cached_facts(str(workspace.path), version, workspace)
        choices = filter_choices(workspace, user, today, facts=facts)
    except Exception as exc:
        show_failure(exc, "read the open deals")
        return
    st.caption(f"{scope_text(user)} · open deals as of {today:%d %b %Y} ({as_of.source_text}) · "
               "amounts in USD · "
               f"stale means no activity for more than {facts.stale_after_days} days")
    if not facts.has_model and training:
        st.info("Until the training above ends, win probability, slip risk and reasons are "
                "empty and every deal is *Not scored*; the deals and their flags are shown "
                "meanwhile.")
    elif not facts.has_model:
        st.info("No deal risk model is trained yet, so win probability, slip risk and reasons "
                "are empty and every deal is *Not scored*. RevOps can train the model; the "
                "deals and their flags are shown meanwhile.")
    if not choices.reps:
        st.info("There are no open deals in your scope"
                + ("." if user.sees_everything else
                   ": your email matches no rep with open deals in the CRM data."))
        show_waterfall(workspace, user, choices, facts, today)
        return
    filters = filter_row(choices, facts)
    deals = inspect_deals(workspace, user, filters, today, facts=facts)
    show_kpis(deals, facts.has_model)
    if deals.empty:
        st.info("No open deal matches these filters. Clear a filter or a flag to see more.")
    else:
        selected = show_table(deals, facts, filters)
        if selected is None:
            st.caption("Select a row to see the deal's history, activities and notes.")
        else:
            with st.container(border=True):
                show_deal(workspace, user, selected)
    show_waterfall(workspace, user, choices, facts, today)


main()
