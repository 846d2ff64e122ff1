"""Customer health: renewals at risk in a window with the ARR behind them, one account's health
and timelines, the save plays to start on it, and how the churn model and the plays do."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from planning.access.policy import Action
from planning.access.users import User
from planning.health.accounts import RISK_BANDS, AccountHealth, account_health, renewals_at_risk
from planning.health.jobs import health_training_progress, start_health_training
from planning.health.plays import (
    OUTCOMES,
    PlayRun,
    Recommendation,
    account_plays,
    account_recommendations,
    complete_task,
    play_adoption,
    record_outcome,
    saved_renewal_rate,
    start_play,
)
from planning.health.scoring import COMPONENT_NAMES, COMPONENT_WEIGHTS
from planning.health.training import NoChurnModelError, churn_model_cards, model_quality
from planning.overview import format_money, format_percent
from planning.store import Workspace
from views.common import (
    TrainingWords,
    allowed,
    current_workspace,
    require_page,
    roles_text,
    set_notice,
    show_failure,
    show_notice,
    training_notice,
)

HEALTH_TRAINING = TrainingWords(
    "the churn model", "Health scores and churn risk are redrawn when it ends.")
PAGE = "health"
WINDOWS = (30, 60, 90, 180)
DEFAULT_WINDOW = 90
# Risk bands of the churn probability, as the filter and the table word them.
RISK_WORDS = {"high": f"High ({RISK_BANDS['high'][0]:.0%} or more)",
              "medium": f"Medium ({RISK_BANDS['medium'][0]:.0%} to "
                        f"{RISK_BANDS['medium'][1]:.0%})",
              "low": f"Low (under {RISK_BANDS['low'][1]:.0%})"}
OUTCOME_WORDS = {"renewed": "Renewed", "churned": "Churned", "downgraded": "Downgraded"}
QUALITY_WORDS = {"held_out": "Held out at training", "resolved": "Renewals resolved since"}
SEVERE_PRIORITIES = ("urgent", "high")
CHART_CONFIG = {"displaylogo": False, "modeBarButtonsToRemove": ["lasso2d", "select2d"]}
TABLE_KEY = "health_renewals"
ACCOUNT_PARAM = "account"
TRAIN_KEY = "health_training_job"
BLUE, GREEN, ORANGE, RED, GREY = "#1f4e79", "#2e7d6b", "#e3923b", "#c0504d", "#9aa5b1"
DATE_FORMAT = "%d %b %Y"
TABLE_COLUMNS = {
    "Account": st.column_config.TextColumn(width="medium"),
    "Owner": st.column_config.TextColumn(width="small"),
    "Segment": st.column_config.TextColumn(width="small"),
    "Renews": st.column_config.DateColumn(format="D MMM YYYY"),
    "Days": st.column_config.NumberColumn(format="%d d", help="Days to the renewal date."),
    "ARR": st.column_config.TextColumn(help="Annual recurring revenue renewing, USD."),
    "Health": st.column_config.ProgressColumn(
        format="%d", min_value=0, max_value=100, width=90,
        help="Health score 0-100: weighted mean of usage trend, seat utilisation, support, "
             "billing, engagement and NPS."),
    "Churn": st.column_config.ProgressColumn(
        format="%.0f%%", min_value=0, max_value=100, width=90, color="orange",
        help="The churn model's probability that the account does not renew."),
    "ARR at risk": st.column_config.TextColumn(help="ARR times churn probability, USD."),
    "Risk": st.column_config.TextColumn(width="small"),
    "Top reasons": st.column_config.ListColumn(width="large",
                                               help="Why the account is at risk, strongest "
                                                    "first."),
    "CRM id": st.column_config.TextColumn(width="small"),
}


def scope_text(user: User) -> str:
    """Whose accounts the page covers."""
    if user.sees_everything:
        return "Whole workspace"
    team = (user.deal_owner_ids or frozenset()) - {user.rep_id}
    if team:
        return f"Your team: {len(team):,} rep{'s' if len(team) != 1 else ''}"
    return "Your book"


def health_training_notice(workspace: Workspace) -> bool:
    """`training_notice` for the churn model: its progress while it trains, then its scores."""
    return training_notice(workspace, health_training_progress, HEALTH_TRAINING)


def show_training(workspace: Workspace, user: User) -> None:
    """The train button for those allowed; the job runs in the worker with a progress bar."""
    if not allowed(user, Action.TRAIN_HEALTH_MODEL):
        return
    if st.button("Train the churn model and rescore", icon=":material/model_training:",
                 help="Fit the churn model on the renewals resolved before the workspace's "
                      "as-of date and score every customer with a live subscription; it runs "
                      "as a job, this page follows its progress."):
        try:
            with st.spinner("Reading the renewals and the customers to score…"):
                job_id = start_health_training(workspace, user)
        except Exception as exc:  # noqa: BLE001 - shown in words; unexpected ones logged
            show_failure(exc, "start training the churn model")
            return
        st.session_state[TRAIN_KEY] = job_id
        st.rerun()


def window_and_filters(everything: pd.DataFrame, days: int
                       ) -> tuple[list[str], list[str], list[str]]:
    """Owner (within scope), segment and risk filters; choices come from the window's renewals."""
    owners = (everything.dropna(subset=["owner_id"]).drop_duplicates("owner_id")
              .sort_values("owner_name"))
    names = dict(zip(owners["owner_id"], owners["owner_name"].fillna("(no name)"),
                     strict=True))
    segments = sorted(everything["segment"].dropna().unique().tolist())
    owner, segment, risk = st.columns([1.4, 1, 1])
    owner_ids = owner.multiselect("Owner", list(names), format_func=names.get,
                                  placeholder="Every owner in your scope", key=f"owner_{days}")
    chosen_segments = segment.multiselect("Segment", segments, placeholder="Every segment",
                                          key=f"segment_{days}")
    risks = risk.multiselect("Risk", list(RISK_WORDS), format_func=RISK_WORDS.get,
                             placeholder="Every risk band",
                             help="Bands of the churn probability.")
    return owner_ids, chosen_segments, risks


def show_kpis(renewals: pd.DataFrame, days: int) -> None:
    """Renewals, ARR renewing, ARR at risk and its share, for the renewals shown."""
    arr = int(renewals["arr_cents"].sum())
    at_risk = int(renewals["arr_at_risk_cents"].sum())
    count, renewing, risky, share = st.columns(4)
    count.metric(f"Renewals in {days} days", f"{len(renewals):,}", border=True)
    renewing.metric("ARR renewing", format_money(arr), border=True,
                    help=f"{format_money(arr, compact=False)} of annual recurring revenue.")
    risky.metric("ARR at risk", format_money(at_risk), border=True,
                 help="Each renewal's ARR times its churn probability, summed: "
                      f"{format_money(at_risk, compact=False)}.")
    share.metric("Share of ARR at risk", format_percent(at_risk / arr if arr else None),
                 border=True, help="ARR at risk over ARR renewing.")


def renewal_table(renewals: pd.DataFrame) -> pd.DataFrame:
    """The renewals as the table shows them: names, money as $1.2M, churn in percent."""
    return pd.DataFrame({
        "Account": renewals["account_name"],
        "Owner": renewals["owner_name"].fillna("No owner"),
        "Segment": renewals["segment"].fillna("No segment"),
        "Renews": renewals["renewal_date"],
        "Days": renewals["days_to_renewal"],
        "ARR": [format_money(int(c)) for c in renewals["arr_cents"]],
        "Health": renewals["health_score"].astype(int),
        "Churn": (renewals["churn_probability"] * 100).round(1),
        "ARR at risk": [format_money(int(c)) for c in renewals["arr_at_risk_cents"]],
        "Risk": renewals["risk"].map(lambda r: r.capitalize()),
        "Top reasons": pd.Series([list(r) for r in renewals["top_reasons"]],
                                 index=renewals.index, dtype=object),
        "CRM id": renewals["account_id"],
    })


def show_table(renewals: pd.DataFrame, key: str) -> str | None:
    """The renewals table; returns the CRM id of the selected row's account."""
    event = st.dataframe(renewal_table(renewals), column_config=TABLE_COLUMNS, hide_index=True,
                         on_select="rerun", selection_mode="single-row", key=key, height=400)
    rows = event.selection.rows
    if not rows or rows[0] >= len(renewals):
        return None
    return str(renewals["account_id"].iloc[rows[0]])


def components_chart(health: AccountHealth) -> go.Figure:
    """Each component 0-100 as a bar, with its weight; a missing measure is said so."""
    names = list(COMPONENT_WEIGHTS)
    values = [health.components.get(name) for name in names]
    previous = (health.previous or {}).get("components") or {}
    labels = [f"{COMPONENT_NAMES[n][0].upper()}{COMPONENT_NAMES[n][1:]} "
              f"({COMPONENT_WEIGHTS[n]:.0%})" for n in names]
    figure = go.Figure()
    figure.add_bar(
        orientation="h", y=labels, x=[0 if v is None else v for v in values], name="Now",
        marker_color=[GREY if v is None else (RED if v < 40 else ORANGE if v < 70 else GREEN)
                      for v in values],
        text=["no data" if v is None else f"{v}" for v in values], textposition="outside",
        hovertemplate="%{y}: %{text} of 100<extra></extra>", cliponaxis=False)
    if previous:
        figure.add_scatter(
            y=labels, x=[previous.get(n) for n in names], mode="markers", name="A week earlier",
            marker={"symbol": "line-ns-open", "size": 18, "color": BLUE,
                    "line": {"width": 3}},
            hovertemplate="%{y}: %{x} of 100 a week earlier<extra></extra>")
    figure.update_layout(
        title={"text": f"Health components: score {health.health_score} of 100"},
        xaxis={"title": {"text": "Component score (0 worst, 100 best)"}, "range": [0, 110]},
        yaxis={"title": {"text": "Component (weight)"}, "autorange": "reversed"},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "right", "x": 1},
        height=340, margin={"t": 80})
    return figure


def usage_chart(health: AccountHealth) -> go.Figure:
    """Monthly active users against the live seats."""
    usage = health.usage
    figure = go.Figure()
    figure.add_scatter(x=usage["month"].tolist(), y=usage["active_users"].tolist(),
                       mode="lines+markers",
                       name="Active users", line={"color": BLUE},
                       hovertemplate="%{x|%b %Y}: %{y:,} active users<extra></extra>")
    seats = health.measures.get("account_seats")
    if seats is not None and len(usage):
        figure.add_scatter(x=[usage["month"].min(), usage["month"].max()], y=[seats, seats],
                           mode="lines", name="Seats paid for",
                           line={"color": GREY, "dash": "dash"}, hoverinfo="skip")
    figure.update_layout(
        title={"text": "Usage: monthly active users"},
        xaxis={"title": {"text": "Month"}}, yaxis={"title": {"text": "Users"},
                                                  "rangemode": "tozero"},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "right", "x": 1},
        height=330, margin={"t": 80})
    return figure


def ticket_chart(health: AccountHealth) -> go.Figure:
    """Tickets opened per month, urgent or high apart from the rest."""
    tickets = health.tickets.assign(
        month=pd.to_datetime(health.tickets["opened_at"]).dt.to_period("M").dt.to_timestamp(),
        severe=health.tickets["priority"].isin(SEVERE_PRIORITIES))
    figure = go.Figure()
    for severe, name, color in ((True, "Urgent or high", RED), (False, "Normal or low", GREY)):
        counts = tickets[tickets["severe"] == severe].groupby("month").size()
        figure.add_bar(x=counts.index.tolist(), y=counts.tolist(), name=name, marker_color=color,
                       hovertemplate="%{x|%b %Y}: %{y} tickets opened<extra>" + name
                       + "</extra>")
    figure.update_layout(
        title={"text": f"Support: tickets opened per month ({int(tickets['open'].sum())} open "
                       "now)"},
        barmode="stack", xaxis={"title": {"text": "Month opened"}},
        yaxis={"title": {"text": "Tickets"}, "rangemode": "tozero"},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "right", "x": 1},
        height=330, margin={"t": 80})
    return figure


def invoice_frame(health: AccountHealth) -> pd.DataFrame:
    """Each invoice with its days late (paid, or still open at the scoring date) and state."""
    invoices = health.invoices.copy()
    due = pd.to_datetime(invoices["due_on"])
    paid = pd.to_datetime(invoices["paid_on"])
    moment = pd.Timestamp(health.as_of).normalize()
    late = (paid.fillna(moment) - due).dt.days.clip(lower=0)
    state = [("Not yet due" if pd.isna(p) and d >= moment else "Overdue, unpaid" if pd.isna(p)
              else "Paid late" if n > 0 else "Paid on time")
             for p, d, n in zip(paid, due, late, strict=True)]
    return invoices.assign(due=due, days_late=late, state=state)


def invoice_chart(health: AccountHealth) -> go.Figure:
    """Days late of each invoice by due date, coloured by whether and when it was paid."""
    invoices = invoice_frame(health).sort_values("due", kind="stable")
    invoices = invoices.assign(label=[f"{d:%d %b %Y}" for d in invoices["due"]])
    figure = go.Figure()
    for state, color in (("Paid on time", GREEN), ("Paid late", ORANGE),
                         ("Overdue, unpaid", RED), ("Not yet due", GREY)):
        rows = invoices[invoices["state"] == state]
        figure.add_bar(
            x=rows["label"].tolist(), y=rows["days_late"].tolist(), name=state,
            marker_color=color,
            customdata=[[format_money(int(c)), int(d)] for c, d in
                        zip(rows["amount_cents"], rows["days_late"], strict=True)],
            hovertemplate="due %{x}: %{customdata[0]}, %{customdata[1]} days late"
                          "<extra>" + state + "</extra>")
    on_time = invoices[invoices["days_late"] == 0]
    figure.add_scatter(
        x=on_time["label"].tolist(), y=[0] * len(on_time), mode="markers", showlegend=False,
        marker={"color": [GREEN if s == "Paid on time" else GREY for s in on_time["state"]],
                "symbol": "circle", "size": 9}, hoverinfo="skip")
    late = int(invoices["days_late"].max()) if len(invoices) else 0
    figure.update_layout(
        title={"text": "Billing: days late per invoice"},
        xaxis={"title": {"text": "Due date"}, "type": "category",
               "categoryorder": "array", "categoryarray": invoices["label"].tolist()},
        yaxis={"title": {"text": "Days late"}, "range": [-1, max(10, late * 1.15)]},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "right", "x": 1},
        height=330, margin={"t": 80}, bargap=0.3)
    return figure


def show_account(workspace: Workspace, user: User, account_id: str) -> None:
    """One account: headline, components, reasons, what changed, timelines, plays."""
    try:
        with st.spinner("Reading the account's health and timelines…"):
            health = account_health(workspace, user, account_id)
    except Exception as exc:  # noqa: BLE001 - shown in words; unexpected ones logged
        show_failure(exc, "show this account's health")
        return
    st.subheader(health.account_name)
    renews = ("no renewal date" if health.renewal_date is None
              else f"renews {health.renewal_date:{DATE_FORMAT}}")
    st.markdown(" · ".join([
        f"CRM id {health.account_id}", f"owner {health.owner_name or 'none'}",
        health.segment or "no segment", renews, f"ARR {format_money(health.arr_cents)}",
        f"health {health.health_score} of 100",
        f"churn risk {format_percent(health.churn_probability)}",
        f"ARR at risk {format_money(health.arr_at_risk_cents)}"]))
    st.caption(f"Scored as of {health.as_of:{DATE_FORMAT}} by model {health.model_id}.")
    left, right = st.columns([1.2, 1])
    with left:
        st.plotly_chart(components_chart(health), config=CHART_CONFIG,
                        alt=f"Bar chart of the six health components of "
                            f"{health.account_name}, 0 to 100.")
    with right:
        st.markdown("**Why it is at risk**")
        if health.reasons:
            st.markdown("\n".join(f"- {reason['text']}" for reason in health.reasons))
        else:
            st.markdown("No risk signal stands out.")
        st.markdown("**What changed since last week**")
        if health.previous is None:
            st.markdown("No score from a week earlier to compare with.")
        elif health.changes:
            st.markdown("\n".join(f"- {change}" for change in health.changes))
        else:
            st.markdown("Nothing changed that moves the score.")
    usage, tickets, billing = st.columns(3)
    with usage:
        if health.usage.empty:
            st.info("No usage rows for this account.")
        else:
            st.plotly_chart(usage_chart(health), config=CHART_CONFIG,
                            alt="Line chart of monthly active users against seats paid for.")
    with tickets:
        if health.tickets.empty:
            st.info("No support tickets for this account.")
        else:
            st.plotly_chart(ticket_chart(health), config=CHART_CONFIG,
                            alt="Stacked bars of tickets opened per month by priority.")
    with billing:
        if health.invoices.empty:
            st.info("No invoices for this account.")
        else:
            st.plotly_chart(invoice_chart(health), config=CHART_CONFIG,
                            alt="Bars of days late per invoice by due date.")
    show_plays(workspace, user, health)


def concession_form(workspace: Workspace, user: User, account_id: str,
                    recommendation: Recommendation, arr_cents: int) -> None:
    """The concession asked (percent of ARR or an amount) and the Start button."""
    key = recommendation.play.key
    with st.form(f"start_{key}_{account_id}"):
        pct_column, amount_column = st.columns(2)
        pct = pct_column.number_input(
            "Concession, % of renewing ARR", min_value=0.0, max_value=100.0, value=10.0,
            step=0.5, key=f"pct_{key}_{account_id}",
            help=f"Of the {format_money(arr_cents)} renewing; 0 to give an amount instead.")
        dollars = amount_column.number_input(
            "or an amount (USD)", min_value=0, value=0, step=1000,
            key=f"amount_{key}_{account_id}", help="Whole dollars; 0 for none.")
        if st.form_submit_button(f"Start {recommendation.play.name}", type="primary"):
            begin_play(workspace, user, account_id, key, pct or None,
                       int(dollars) * 100 or None)


def begin_play(workspace: Workspace, user: User, account_id: str, play: str,
               concession_pct: float | None = None, concession_cents: int | None = None) -> None:
    """Start the play and say what happened: active with its tasks, or awaiting approval."""
    try:
        run = start_play(workspace, user, account_id, play, concession_pct=concession_pct,
                         concession_cents=concession_cents)
    except Exception as exc:  # noqa: BLE001 - shown in words; unexpected ones logged
        show_failure(exc, "start the play")
        return
    if run.status == "awaiting_approval":
        set_notice(PAGE, "info", f"{run.name} started and is awaiting approval; its tasks open "
                           "when every approver has approved.")
    else:
        set_notice(PAGE, "success", f"{run.name} started: {len(run.tasks)} tasks are open.")
    st.rerun()


def show_recommendations(workspace: Workspace, user: User, health: AccountHealth,
                         runs: list[PlayRun]) -> None:
    """Plays recommended for the account's reasons, each with its Start button."""
    st.markdown("**Recommended save plays**")
    try:
        recommendations = account_recommendations(workspace, user, health.account_id)
    except Exception as exc:  # noqa: BLE001 - shown in words; unexpected ones logged
        show_failure(exc, "recommend plays")
        return
    if not recommendations:
        st.caption("No play answers this account's reasons.")
        return
    may_start = allowed(user, Action.START_SAVE_PLAY)
    running = {run.play: run for run in runs if run.status in ("awaiting_approval", "active")}
    columns = st.columns(3)
    for number, recommendation in enumerate(recommendations):
        play = recommendation.play
        with columns[number % len(columns)], st.container(border=True):
            st.markdown(f"**{play.name}** · {play.description}")
            st.caption(recommendation.why)
            if play.key in running:
                st.markdown(f"Running: *{running[play.key].status_text}*.")
            elif not may_start:
                continue
            elif play.needs_concession:
                concession_form(workspace, user, health.account_id, recommendation,
                                health.arr_cents)
            elif st.button(f"Start {play.name}", key=f"start_{play.key}_{health.account_id}"):
                begin_play(workspace, user, health.account_id, play.key)
    if not may_start:
        st.caption("Starting plays needs one of these roles: "
                   f"{roles_text(Action.START_SAVE_PLAY)}.")


def task_table(run: PlayRun) -> pd.DataFrame:
    """A play's tasks: title, owner, due date and status in words."""
    return pd.DataFrame({
        "Task": [t.title for t in run.tasks],
        "Owner": [t.owner_email or f"nobody holds {t.owner_role} yet" for t in run.tasks],
        "Due": [t.due_date for t in run.tasks],
        "Status": [{"waiting": "waiting for approval", "open": "to do", "done": "done",
                    "cancelled": "cancelled"}.get(t.status, t.status) for t in run.tasks],
    })


def show_runs(workspace: Workspace, user: User, runs: list[PlayRun]) -> None:
    """The account's plays, newest first, with their tasks and a Done button per open task."""
    st.markdown("**Plays on this account**")
    if not runs:
        st.caption("No play started yet.")
        return
    may_work = allowed(user, Action.START_SAVE_PLAY)
    for run in reversed(runs):
        concession = ""
        if run.concession_pct is not None:
            concession = f" · concession {run.concession_pct:g}% of ARR"
        if run.concession_cents is not None:
            concession += f" · concession {format_money(run.concession_cents)}"
        with st.container(border=True):
            st.markdown(f"**{run.name}** · *{run.status_text}* · started by {run.started_by} "
                        f"on {run.started_at:{DATE_FORMAT}}{concession}")
            st.dataframe(task_table(run), hide_index=True, key=f"tasks_{run.play_run_id}",
                         column_config={
                             "Task": st.column_config.TextColumn(width="large"),
                             "Owner": st.column_config.TextColumn(width="medium"),
                             "Due": st.column_config.DateColumn(format="D MMM YYYY")})
            open_tasks = [task for task in run.tasks if task.status == "open"]
            if not may_work or not open_tasks:
                continue
            for task, column in zip(open_tasks, st.columns(len(open_tasks)), strict=True):
                if column.button(f"Done: {task.title}", key=f"done_{task.task_id}",
                                 icon=":material/task_alt:"):
                    try:
                        complete_task(workspace, user, task.task_id)
                    except Exception as exc:  # noqa: BLE001 - shown in words
                        show_failure(exc, "mark the task done")
                        return
                    set_notice(PAGE, "success", f"Done: {task.title}.")
                    st.rerun()


def show_outcome_form(workspace: Workspace, user: User, health: AccountHealth) -> None:
    """Record how the account's renewal ended; plays started in its window get the credit."""
    if not allowed(user, Action.RECORD_RENEWAL_OUTCOME):
        return
    st.markdown("**Record the renewal's outcome**")
    with st.form(f"outcome_{health.account_id}"):
        outcome_column, arr_column = st.columns(2)
        outcome = outcome_column.radio("Outcome", OUTCOMES, format_func=OUTCOME_WORDS.get,
                                       horizontal=True, key=f"outcome_{health.account_id}")
        dollars = arr_column.number_input(
            "ARR after the renewal (USD)", min_value=0, value=health.arr_cents // 100,
            step=1000, key=f"arr_after_{health.account_id}",
            help="What the customer pays after a renewal or downgrade; a churn keeps none.")
        if st.form_submit_button("Record outcome", type="primary"):
            after = 0 if outcome == "churned" else int(dollars) * 100
            try:
                recorded = record_outcome(workspace, user, health.account_id, outcome, after)
            except Exception as exc:  # noqa: BLE001 - shown in words; unexpected ones logged
                show_failure(exc, "record the outcome")
                return
            credit = (f" It credits {len(recorded.credited_plays)} play(s)."
                      if recorded.credited_plays else " No play gets the credit.")
            renewal = f"{recorded.renewal_date:{DATE_FORMAT}}"
            set_notice(PAGE, "success", f"Recorded: the renewal of {renewal} "
                                  f"{OUTCOME_WORDS[outcome].lower()} at "
                                  f"{format_money(recorded.arr_cents_after)}.{credit}")
            st.rerun()


def show_plays(workspace: Workspace, user: User, health: AccountHealth) -> None:
    """Recommended plays, the plays running and done, and the outcome form."""
    try:
        runs = account_plays(workspace, user, health.account_id)
    except Exception as exc:  # noqa: BLE001 - shown in words; unexpected ones logged
        show_failure(exc, "read the account's plays")
        return
    show_notice(PAGE)
    show_recommendations(workspace, user, health, runs)
    show_runs(workspace, user, runs)
    show_outcome_form(workspace, user, health)


def padded_dates(values: pd.Series, days: int) -> list[str]:
    """An x range around the dates with `days` to spare on each side, so that one point or one
    bar is drawn on a readable date axis rather than a range of milliseconds."""
    moments = pd.to_datetime(values)
    return [f"{moments.min() - pd.Timedelta(days=days):%Y-%m-%d}",
            f"{moments.max() + pd.Timedelta(days=days):%Y-%m-%d}"]


def quality_chart(quality: pd.DataFrame, metric: str) -> go.Figure:
    """AUC or Brier of every measurement by the end of the renewals it covers, per kind."""
    figure = go.Figure()
    for kind, color in (("held_out", BLUE), ("resolved", GREEN)):
        rows = quality[(quality["kind"] == kind) & quality[metric].notna()]
        if rows.empty:
            continue
        figure.add_scatter(
            x=rows["period_to"].tolist(), y=rows[metric].tolist(), mode="lines+markers",
            name=QUALITY_WORDS[kind],
            line={"color": color},
            customdata=[[m, int(n)] for m, n in zip(rows["model_id"], rows["renewals"],
                                                     strict=True)],
            hovertemplate=f"%{{x|%d %b %Y}}: {metric.upper() if metric == 'auc' else 'Brier'} "
                          "%{y:.3f} on %{customdata[1]:,} renewals (%{customdata[0]})"
                          "<extra></extra>")
    if metric == "brier":
        rows = quality[quality["base_rate_brier"].notna()]
        figure.add_scatter(x=rows["period_to"].tolist(), y=rows["base_rate_brier"].tolist(),
                           mode="markers",
                           name="Base rate Brier", marker={"color": GREY, "symbol": "x"},
                           hovertemplate="%{x|%d %b %Y}: base rate Brier %{y:.3f}"
                                         "<extra></extra>")
    title = "AUC (higher is better)" if metric == "auc" else "Brier score (lower is better)"
    values = quality[metric].dropna()
    low = min(0.5, float(values.min()) - 0.05) if len(values) else 0.5
    scale = {"range": [low, 1.0]} if metric == "auc" else {"rangemode": "tozero"}
    figure.update_layout(
        title={"text": f"Model quality over time: {title}"},
        xaxis={"title": {"text": "Last renewal date measured"}, "type": "date",
               "tickformat": "%d %b %Y", "range": padded_dates(quality["period_to"], 45)},
        yaxis={"title": {"text": "AUC" if metric == "auc" else "Brier score"},
               **scale},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "right", "x": 1},
        showlegend=True, height=330, margin={"t": 80})
    return figure


def show_model_card(workspace: Workspace, user: User) -> None:
    """The active churn model's card and its quality over time."""
    cards = churn_model_cards(workspace, user)
    active = cards[cards["is_active"]]
    if active.empty:
        st.info("No churn model is trained yet.")
        return
    row = active.iloc[0]
    card = json.loads(row["card_json"])
    metrics = card["metrics"]
    auc, brier, base, rate = st.columns(4)
    auc.metric("Held-out AUC", f"{metrics['auc']:.3f}", border=True,
               help="Chance the model ranks a churned renewal above a renewed one (0.5 is a "
                    "coin toss).")
    brier.metric("Brier score", f"{metrics['brier']:.4f}",
                 delta=f"{metrics['brier'] - metrics['base_rate_brier']:+.4f} vs base rate",
                 delta_color="inverse", border=True,
                 help="Mean squared error of the churn probabilities on held-out renewals; "
                      "lower is better.")
    base.metric("Base rate Brier", f"{metrics['base_rate_brier']:.4f}", border=True,
                help="The training churn rate given to every held-out renewal.")
    rate.metric("Churn rate held out", format_percent(metrics.get("test_churn_rate")),
                border=True, help="Share of held-out renewals that churned.")
    st.caption(
        f"Model {row['model_id']}, trained {row['trained_at']:{DATE_FORMAT}} by "
        f"{row['trained_by']}: {card['rows_train']:,} renewals ({card['churned_train']:,} "
        f"churned) from {_day(card['train_from'])} to {_day(card['train_to'])}; held out "
        f"{card['rows_test']:,} renewals ({card['churned_test']:,} churned) from "
        f"{_day(card['test_from'])} to {_day(card['test_to'])}. Features as of "
        f"{card['horizon_days']} days before each renewal. The health score alone: AUC "
        f"{metrics['health_score_auc']:.3f}, Brier {metrics['health_score_brier']:.4f}.")
    for leak in card.get("leaks") or []:
        st.warning(f"Left out by the leakage guard: {leak.get('message', leak)}.")
    quality = model_quality(workspace, user)
    if quality.empty:
        return
    left, right = st.columns(2)
    left.plotly_chart(quality_chart(quality, "auc"), config=CHART_CONFIG,
                      alt="AUC of each churn model over time.")
    right.plotly_chart(quality_chart(quality, "brier"), config=CHART_CONFIG,
                       alt="Brier score of each churn model over time, with the base rate.")


def _day(text: str | None) -> str:
    return "—" if not text else f"{dt.date.fromisoformat(text):{DATE_FORMAT}}"


def adoption_chart(per_week: pd.DataFrame) -> go.Figure:
    """Plays started per week."""
    figure = go.Figure(go.Bar(x=per_week["week"].tolist(), y=per_week["plays"].tolist(),
                              name="Plays started",
                              marker_color=BLUE,
                              hovertemplate="week of %{x|%d %b %Y}: %{y} plays started"
                                            "<extra></extra>"))
    figure.update_traces(width=5 * 86_400_000)
    figure.update_layout(title={"text": "Save plays started per week"},
                         xaxis={"title": {"text": "Week (starting Monday)"}, "type": "date",
                                "tickformat": "%d %b %Y",
                                "range": padded_dates(per_week["week"], 21)},
                         yaxis={"title": {"text": "Plays started"}, "rangemode": "tozero",
                                "tickformat": ",d",
                                "dtick": 1 if per_week["plays"].max() <= 10 else None},
                         showlegend=False, height=300)
    return figure


def show_play_figures(workspace: Workspace, user: User) -> None:
    """Play adoption and the win rate of at-risk renewals with and without a play."""
    if not allowed(user, Action.READ_SAVE_PLAYS):
        return
    try:
        adoption = play_adoption(workspace, user)
        saved = saved_renewal_rate(workspace, user)
    except Exception as exc:  # noqa: BLE001 - shown in words; unexpected ones logged
        show_failure(exc, "read play adoption and outcomes")
        return
    started = int(adoption.per_play["started"].sum())
    count, coverage, with_play, without = st.columns(4)
    count.metric("Plays started", f"{started:,}", border=True)
    coverage.metric("At-risk renewals with a play", format_percent(adoption.share_with_play),
                    border=True,
                    help=f"{adoption.at_risk_with_play:,} of {adoption.at_risk_renewals:,} "
                         "renewals at risk without an outcome, up to "
                         f"{adoption.horizon_end:{DATE_FORMAT}}.")
    with_play.metric("Saved with a play", format_percent(saved.with_play.win_rate),
                     delta=None if saved.lift is None
                     else f"{format_percent(saved.lift, signed=True)} vs without",
                     border=True,
                     help=f"Renewed of {saved.with_play.renewals:,} at-risk renewals a play was "
                          "credited with.")
    without.metric("Saved without a play", format_percent(saved.without_play.win_rate),
                   border=True,
                   help=f"Renewed of {saved.without_play.renewals:,} at-risk renewals no play "
                        "was credited with.")
    if started == 0:
        st.caption("No play started yet: adoption and win rates fill in as plays run.")
        return
    left, right = st.columns(2)
    left.plotly_chart(adoption_chart(adoption.per_week), config=CHART_CONFIG,
                      alt="Bars of save plays started per week.")
    right.dataframe(
        adoption.per_play.drop(columns=["play"]).rename(columns={
            "name": "Play", "started": "Started", "awaiting_approval": "Awaiting",
            "active": "Active", "completed": "Completed", "rejected": "Rejected",
            "credited": "Credited"}),
        hide_index=True)


def main() -> None:
    """Draw the Customer health page for the signed-in user's scope."""
    user = require_page(PAGE)
    workspace = current_workspace()
    st.title("Customer health")
    health_training_notice(workspace)
    show_training(workspace, user)
    days = st.radio("Renewals in the next", WINDOWS, index=WINDOWS.index(DEFAULT_WINDOW),
                    format_func=lambda d: f"{d} days", horizontal=True)
    try:
        with st.spinner("Reading the renewals and their health…"):
            everything = renewals_at_risk(workspace, user, days)
    except NoChurnModelError:
        st.info("No health scores yet: the churn model is not trained."
                + ("" if allowed(user, Action.TRAIN_HEALTH_MODEL)
                   else f" Ask someone with one of these roles to train it: "
                        f"{roles_text(Action.TRAIN_HEALTH_MODEL)}."))
        return
    except Exception as exc:  # noqa: BLE001 - shown in words; unexpected ones logged
        show_failure(exc, "read the renewals at risk")
        return
    moment = everything["as_of"].iloc[0] if len(everything) else None
    st.caption(f"{scope_text(user)} · renewals of customers with a live subscription"
               + ("" if moment is None else f", scored as of {moment:{DATE_FORMAT}}")
               + " · money in USD")
    owner_ids, segments, risks = window_and_filters(everything, days)
    renewals = everything
    if owner_ids or segments or risks:
        try:
            renewals = renewals_at_risk(workspace, user, days, owner_ids=owner_ids or None,
                                        segments=segments or None, risks=risks or None)
        except Exception as exc:  # noqa: BLE001 - shown in words; unexpected ones logged
            show_failure(exc, "filter the renewals")
            return
    show_kpis(renewals, days)
    selected = None
    if renewals.empty:
        st.info(f"No renewal in the next {days} days matches these filters.")
    else:
        key = f"{TABLE_KEY}-{days}-{hash((tuple(owner_ids), tuple(segments), tuple(risks)))}"
        selected = show_table(renewals, key)
        st.caption("Riskiest ARR first. Select a row to see the account's health, timelines "
                   "and save plays.")
    selected = selected or st.query_params.get(ACCOUNT_PARAM)
    if selected:
        with st.container(border=True):
            show_account(workspace, user, selected)
    st.header("Model and plays")
    try:
        show_model_card(workspace, user)
    except Exception as exc:  # noqa: BLE001 - shown in words; unexpected ones logged
        show_failure(exc, "read the churn model card")
    show_play_figures(workspace, user)
    show_notice(PAGE)


main()
