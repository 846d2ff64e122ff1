"""Telemetry (admin, revops): who uses which page, how often, and which actions are slow."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from planning.telemetry import UsageReport, usage_report
from views.common import current_workspace, require_page, show_failure
from views.registry import PAGES

PERIODS = (7, 30, 90)
DEFAULT_PERIOD = 30
VIEWS_COLOR = "#1f4e79"
CHART_CONFIG = {"displaylogo": False, "modeBarButtonsToRemove": ["lasso2d", "select2d"]}
PAGE_TITLES = {entry.url_path: entry.title for entry in PAGES}

TIME_FORMAT = "YYYY-MM-DD HH:mm"
USER_COLUMNS = {
    "user": st.column_config.TextColumn("User"),
    "page_views": st.column_config.NumberColumn("Page views", format="%d"),
    "imports": st.column_config.NumberColumn("Imports", format="%d"),
    "solves": st.column_config.NumberColumn("Solves", format="%d"),
    "exports": st.column_config.NumberColumn("Exports", format="%d"),
    "failures_or_refusals": st.column_config.NumberColumn(
        "Failed or refused", format="%d", help="Actions that failed or pages refused."),
    "last_seen": st.column_config.DatetimeColumn("Last seen (UTC)", format=TIME_FORMAT),
}
PAGE_COLUMNS = {
    "user": st.column_config.TextColumn("User"),
    "page": st.column_config.TextColumn("Page"),
    "views": st.column_config.NumberColumn("Views", format="%d"),
    "median_ms": st.column_config.NumberColumn("Median time (ms)", format="%d"),
    "last_visit": st.column_config.DatetimeColumn("Last visit (UTC)", format=TIME_FORMAT),
}
SLOW_COLUMNS = {
    "occurred_at": st.column_config.DatetimeColumn("When (UTC)", format=TIME_FORMAT),
    "user": st.column_config.TextColumn("User"),
    "kind": st.column_config.TextColumn("Kind"),
    "name": st.column_config.TextColumn("Action"),
    "duration_ms": st.column_config.NumberColumn("Duration (ms)", format="%.0f"),
    "outcome": st.column_config.TextColumn("Outcome"),
}


def page_title(url_path: str) -> str:
    """A page's title from the registry, or its URL path for a page that no longer exists."""
    return PAGE_TITLES.get(url_path, url_path)


def views_chart(by_page: pd.DataFrame) -> go.Figure:
    """Horizontal bars of page views per page, most viewed at the top."""
    totals = by_page.groupby("page", as_index=False)["views"].sum()
    totals = totals.sort_values(["views", "page"], ascending=[False, True])
    figure = go.Figure(go.Bar(
        orientation="h",
        y=[page_title(page) for page in totals["page"]],
        x=totals["views"].tolist(),
        text=totals["views"].tolist(),
        textposition="auto",
        hovertemplate="%{y}: %{x:,} views<extra></extra>",
        marker_color=VIEWS_COLOR,
        name="Page views",
    ))
    figure.update_layout(
        title={"text": "Page views per page"},
        xaxis={"title": {"text": "Page views"}, "rangemode": "tozero"},
        yaxis={"title": {"text": "Page"}, "autorange": "reversed"},
    )
    return figure


def daily_chart(daily: pd.DataFrame) -> go.Figure:
    """Stacked bars of events per day, one colour per kind of event."""
    figure = go.Figure()
    for kind, rows in daily.groupby("kind", sort=True):
        figure.add_bar(
            name=str(kind).replace("_", " "),
            x=rows["day"].tolist(),
            y=rows["events"].tolist(),
            customdata=rows["users"].tolist(),
            hovertemplate="%{x|%d %b %Y}: %{y:,} events by %{customdata:,} users<extra></extra>",
        )
    figure.update_layout(
        title={"text": "Events per day by kind"},
        xaxis={"title": {"text": "Day (UTC)"}, "type": "date"},
        yaxis={"title": {"text": "Events"}, "rangemode": "tozero"},
        barmode="stack",
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "right", "x": 1},
        margin={"t": 90},
    )
    return figure


def show_users(report: UsageReport, days: int) -> None:
    """Activity per user."""
    st.subheader("Usage per user")
    if report.by_user.empty:
        st.info(f"Nobody used this workspace in the last {days} days: no page views, imports, "
                "solves or exports were recorded.")
        return
    st.dataframe(report.by_user, hide_index=True, column_config=USER_COLUMNS)


def show_page_views(report: UsageReport, days: int) -> None:
    """Page views per user and page, and views per page as a chart."""
    st.subheader("Page views")
    views = report.by_user_and_page
    if views.empty:
        st.info(f"No page was opened in the last {days} days. A visit is counted the first "
                "time a person opens a page in a session.")
        return
    st.dataframe(views.assign(page=views["page"].map(page_title)), hide_index=True,
                 column_config=PAGE_COLUMNS)
    st.plotly_chart(views_chart(views), config=CHART_CONFIG,
                    alt="Horizontal bar chart of the number of page views for each page.")


def show_daily(report: UsageReport, days: int) -> None:
    """Events per day by kind."""
    st.subheader("Daily activity")
    if report.daily.empty:
        st.info(f"No events in the last {days} days, so there is no daily activity to chart.")
        return
    st.plotly_chart(daily_chart(report.daily), config=CHART_CONFIG,
                    alt="Stacked bar chart of events per day, split by kind of event.")


def show_slowest(report: UsageReport, days: int) -> None:
    """The slowest timed actions."""
    st.subheader("Slowest actions")
    if report.slowest.empty:
        st.info(f"No timed actions (page loads, imports, solves) in the last {days} days.")
        return
    st.dataframe(report.slowest, hide_index=True, column_config=SLOW_COLUMNS)


def main() -> None:
    """Draw the Telemetry page."""
    user = require_page("telemetry")
    workspace = current_workspace()
    st.title("Telemetry")
    days = st.segmented_control(
        "Period", PERIODS, default=DEFAULT_PERIOD, required=True, key="telemetry_days",
        format_func=lambda n: f"Last {n} days",
    )
    try:
        report = usage_report(workspace, user, days=days)
    except Exception as exc:  # noqa: BLE001 - shown in words; unexpected ones are logged
        show_failure(exc, "read the usage telemetry")
        return
    st.caption(f"Since {report.since:%d %b %Y, %H:%M} UTC. Telemetry records who opened which "
               "page and how long actions took, identified by verified email; it never holds "
               "CRM data values.")
    show_users(report, days)
    show_page_views(report, days)
    show_daily(report, days)
    show_slowest(report, days)


main()
