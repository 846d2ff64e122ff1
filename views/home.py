"""Home: the workspace at a glance — pipeline, bookings, win rate, data freshness, two charts."""

from __future__ import annotations

import math

import plotly.graph_objects as go
import streamlit as st

from planning.access.policy import Action
from planning.access.users import User
from planning.asof import describe_span, format_day
from planning.overview import (
    QuarterBookings,
    WorkspaceKpis,
    describe_age,
    format_money,
    format_percent,
    workspace_kpis,
)
from views.common import (
    allowed,
    current_workspace,
    model_training_notice,
    page_as_of,
    require_page,
    show_failure,
)
from views.registry import page_by_path

CLOSED_COLOR = "#1f4e79"
CURRENT_COLOR = "#7fa7d1"
PIPELINE_COLOR = "#2e7d6b"
CHART_CONFIG = {"displaylogo": False, "modeBarButtonsToRemove": ["lasso2d", "select2d"]}
# Data whose newest record is older than this many days get a plain notice on Home.
OLD_DATA_DAYS = 30


def money_ticks(largest_cents: int, target: int = 5) -> dict[str, list]:
    """Plotly axis ticks and range in dollars, labelled like the KPIs ("$250K", "$1.5M").

    Plotly's own SI labels say "k" and "G"; finance readers expect "K" and "B".
    """
    largest = max(largest_cents, 1) / 100
    raw = largest / target
    magnitude = 10 ** math.floor(math.log10(raw)) if raw >= 1 else 1
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    count = math.ceil(largest / step)
    values = [step * i for i in range(count + 1)]
    return {
        "tickvals": values,
        "ticktext": [format_money(round(v * 100)) for v in values],
        "range": [0, values[-1] * 1.08],
    }


def metric_delta(change: float | None, text: str, description: str) -> dict[str, str | None]:
    """Delta arguments for st.metric; grey and without arrow when the change rounds to nothing."""
    if change is None:
        return {"delta": None}
    flat = abs(change) < 0.0005
    return {
        "delta": text,
        "delta_color": "off" if flat else "normal",
        "delta_arrow": "off" if flat else "auto",
        "delta_description": description,
    }


def freshness_text(kpis: WorkspaceKpis) -> str:
    """Freshness line such as "Newest record 3 hours ago (23 Nov 2026, 08:00 UTC)".

    Freshness is the newest date a CRM record carries, not when it was imported.
    """
    if kpis.newest_record_at is None or kpis.record_age is None:
        if kpis.data_as_of is not None:
            return "No dated CRM records yet"
        return "No CRM data imported yet"
    stamp = kpis.newest_record_at.strftime("%d %b %Y, %H:%M UTC")
    return f"Newest record {describe_age(kpis.record_age)} ({stamp})"


def old_data_notice(kpis: WorkspaceKpis) -> str | None:
    """A plain sentence when the newest record is old, saying which day the figures use."""
    if kpis.newest_record_at is None or kpis.record_age is None:
        return None
    if kpis.record_age.days <= OLD_DATA_DAYS:
        return None
    newest = kpis.newest_record_at.date()
    text = (f"The newest record in this workspace is from {format_day(newest)} "
            f"({describe_span(kpis.record_age.days)} ago)")
    if kpis.as_of is not None and kpis.as_of.newest_close not in (None, newest):
        text += f"; the newest deal closed {format_day(kpis.as_of.newest_close)}"
    when = "that date" if kpis.today == newest else format_day(kpis.today)
    return (f"{text}; every figure is as of {when}. "
            "Change it under *Plan as of* in the sidebar.")


def scope_text(user: User) -> str:
    """Whose deals the figures cover: the whole workspace, a manager's team or a rep's book."""
    if user.sees_everything:
        return "Whole workspace"
    owners = user.deal_owner_ids or frozenset()
    team = owners - {user.rep_id}
    if team:
        return f"Your team: {len(team):,} rep{'s' if len(team) != 1 else ''}"
    if user.rep_id is not None and user.rep_id in owners:
        return "Your book"
    return "No deals in your scope: your email matches no rep in the CRM data"


def show_headline(kpis: WorkspaceKpis) -> None:
    """The money and rate KPIs, with deltas against last quarter."""
    current, last = kpis.current_quarter, kpis.last_quarter
    day = kpis.day_of_quarter
    pipeline, bookings_qtd, bookings_last, win = st.columns(4)
    unpriced = kpis.open_deals_without_amount
    pipeline.metric(
        "Open pipeline",
        format_money(kpis.open_pipeline_cents),
        **metric_delta(
            None if not unpriced else 0.0,
            f"{unpriced:,} of {kpis.open_pipeline_deals:,} deals without an amount",
            "",
        ),
        help=f"{format_money(kpis.open_pipeline_cents, compact=False)} across "
        f"{kpis.open_pipeline_deals:,} open deals"
        + (f"; {unpriced:,} of them have no amount in the CRM and count as $0."
           if unpriced else "."),
        border=True,
    )
    change = kpis.bookings_qtd_change
    bookings_qtd.metric(
        f"Bookings {current.label} to date",
        format_money(kpis.bookings_qtd_cents),
        **metric_delta(
            change, format_percent(change, signed=True), f"vs {last.label} to day {day}"
        ),
        help=f"Won deals closing {current.start:%d %b} – {kpis.today:%d %b %Y} "
        f"({kpis.bookings_qtd_deals:,} deals), against "
        f"{format_money(kpis.bookings_last_quarter_same_point_cents)} won in {last.label} "
        f"up to {kpis.last_quarter_same_point:%d %b %Y} (day {day} of the quarter).",
        border=True,
    )
    change = kpis.bookings_last_quarter_change
    bookings_last.metric(
        f"Bookings {last.label}",
        format_money(kpis.bookings_last_quarter_cents),
        **metric_delta(
            change, format_percent(change, signed=True), f"vs {last.previous().label}"
        ),
        help=f"Won deals closing {last.start:%d %b} – {last.end:%d %b %Y} "
        f"({kpis.bookings_last_quarter_deals:,} deals).",
        border=True,
    )
    change = kpis.win_rate_change
    win.metric(
        f"Win rate {last.label}",
        format_percent(kpis.win_rate_last_quarter),
        **metric_delta(
            change, f"{(change or 0) * 100:+.1f} pts", f"vs {last.previous().label}"
        ),
        help=f"Deals won ÷ deals won or lost with a close date in {last.label} "
        f"({kpis.won_last_quarter:,} won, {kpis.lost_last_quarter:,} lost).",
        border=True,
    )


def show_counts(kpis: WorkspaceKpis) -> None:
    """Accounts, reps, open deals and how fresh the data is."""
    accounts, reps, deals, fresh = st.columns(4)
    accounts.metric("Accounts", f"{kpis.accounts:,}", border=True)
    reps.metric("Active reps", f"{kpis.active_reps:,}", border=True)
    deals.metric("Open deals", f"{kpis.open_pipeline_deals:,}", border=True)
    imported = ("" if kpis.data_as_of is None
                else f" Last import {kpis.data_as_of:%d %b %Y, %H:%M UTC}.")
    fresh.metric(
        "Newest record",
        "none" if kpis.newest_record_at is None else format_day(kpis.newest_record_at.date()),
        **metric_delta(
            None if kpis.record_age is None else 0.0,
            "" if kpis.record_age is None else f"{describe_age(kpis.record_age)}",
            "",
        ),
        help=f"{freshness_text(kpis)}: the newest date on a deal (created or closed), its "
        f"history, an activity or an account.{imported}",
        border=True,
    )


def shown_quarters(kpis: WorkspaceKpis) -> tuple[QuarterBookings, ...]:
    """The bookings series from the first quarter with a won deal (data that start late, as
    an export's often do, would otherwise open on empty quarters); all of it when none has."""
    series = kpis.bookings_by_quarter
    first = next((i for i, q in enumerate(series) if q.deals), 0)
    return series[first:]


def bookings_chart(kpis: WorkspaceKpis) -> go.Figure:
    """Bar chart of won bookings per fiscal quarter, the current quarter shown to date."""
    figure = go.Figure()
    for to_date, name, color in (
        (False, "Closed quarter", CLOSED_COLOR),
        (True, f"{kpis.current_quarter.label} to date", CURRENT_COLOR),
    ):
        rows = [q for q in shown_quarters(kpis) if q.to_date == to_date]
        figure.add_bar(
            name=name,
            x=[q.quarter.label for q in rows],
            y=[q.cents / 100 for q in rows],
            text=[format_money(q.cents) for q in rows],
            textposition="outside",
            customdata=[[q.deals, format_money(q.cents, compact=False)] for q in rows],
            hovertemplate="%{x}<br>%{customdata[1]} from %{customdata[0]:,} won deals"
            "<extra></extra>",
            marker_color=color,
            cliponaxis=False,
        )
    figure.update_layout(
        title={"text": "Bookings by fiscal quarter (won deals, by close date)"},
        xaxis={
            "title": {"text": "Fiscal quarter"},
            "categoryorder": "array",
            "categoryarray": [q.quarter.label for q in shown_quarters(kpis)],
        },
        yaxis={
            "title": {"text": "Bookings (USD)"},
            **money_ticks(max((q.cents for q in kpis.bookings_by_quarter), default=0)),
        },
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "right", "x": 1},
        margin={"t": 90},
        barmode="group",
        bargap=0.25,
        uniformtext={"minsize": 10, "mode": "hide"},
    )
    return figure


def pipeline_chart(kpis: WorkspaceKpis) -> go.Figure:
    """Horizontal bars of open pipeline per stage, earliest stage at the top.

    When no open deal carries an amount (many CRMs fill it only at close), the bars count
    deals instead of showing empty dollars.
    """
    stages = kpis.pipeline_by_stage
    by_count = not any(s.cents for s in stages)
    values = [s.deals if by_count else s.cents / 100 for s in stages]
    figure = go.Figure(
        go.Bar(
            name="Open deals" if by_count else "Open pipeline",
            orientation="h",
            y=[s.stage for s in stages],
            x=values,
            text=[(f"{s.deals:,} deals" if by_count
                   else f"{format_money(s.cents)} · {s.deals:,} deals") for s in stages],
            textposition="auto",
            customdata=[[s.deals, format_money(s.cents, compact=False)] for s in stages],
            hovertemplate=("%{y}<br>%{customdata[0]:,} open deals without an amount"
                           if by_count else
                           "%{y}<br>%{customdata[1]} in %{customdata[0]:,} open deals")
            + "<extra></extra>",
            marker_color=PIPELINE_COLOR,
            showlegend=True,
        )
    )
    axis = ({"title": {"text": "Open deals (no amounts in the CRM)"}} if by_count else
            {"title": {"text": "Open pipeline (USD)"},
             **money_ticks(max((s.cents for s in stages), default=0))})
    figure.update_layout(
        title={"text": f"Open {'deals' if by_count else 'pipeline'} by stage (funnel order)"},
        xaxis=axis,
        yaxis={"title": {"text": "Stage"}, "autorange": "reversed"},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "right", "x": 1},
        margin={"t": 90},
    )
    return figure


def show_charts(kpis: WorkspaceKpis) -> None:
    """The bookings and pipeline charts side by side."""
    left, right = st.columns(2)
    with left:
        st.plotly_chart(
            bookings_chart(kpis),
            config=CHART_CONFIG,
            alt="Bar chart of won bookings in US dollars for each of the last "
            f"{len(shown_quarters(kpis))} fiscal quarters.",
        )
    with right:
        if kpis.pipeline_by_stage:
            st.plotly_chart(
                pipeline_chart(kpis),
                config=CHART_CONFIG,
                alt="Horizontal bar chart of open pipeline in US dollars for each stage.",
            )
        else:
            st.info("No open pipeline: there are no open opportunities in this workspace.")


def main() -> None:
    """Draw the Home page for the session's workspace, scoped to what the user may read."""
    user = require_page("home")
    workspace = current_workspace()
    st.title(f"RevPlan — {workspace.name}")
    model_training_notice(workspace)
    as_of = page_as_of(workspace)
    try:
        kpis = workspace_kpis(workspace, viewer=user, as_of=as_of)
    except Exception as exc:
        show_failure(exc, "compute the workspace KPIs")
        return
    quarter = kpis.current_quarter
    st.caption(
        f"{scope_text(user)} · {freshness_text(kpis)} · figures as of "
        f"{format_day(as_of.day)} ({as_of.source_text}) · {quarter.label}, "
        f"day {kpis.day_of_quarter} of {quarter.days} "
        f"({quarter.start:%d %b} – {quarter.end:%d %b %Y}) · amounts in USD"
    )
    if not kpis.has_data:
        import_page = page_by_path("views/import_data.py")
        if allowed(user, Action.VIEW_PAGE, import_page.url_path):
            hint = (f"Load reps, accounts and opportunities on the **{import_page.title}** "
                    f"page ({import_page.group}), or run `make run` to work with the demo "
                    "workspace.")
        else:
            hint = "Ask your RevOps team to import the CRM data."
        st.info(f"This workspace has no CRM data yet, so every figure below is zero. {hint}")
    notice = old_data_notice(kpis)
    if notice is not None:
        st.info(notice, icon=":material/history:")
    show_headline(kpis)
    show_counts(kpis)
    show_charts(kpis)


main()
