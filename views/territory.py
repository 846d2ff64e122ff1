"""Territory design: balance the book across reps, compact and with little disruption."""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np
import pandas as pd
import plotly.colors
import plotly.graph_objects as go
import streamlit as st

from planning import telemetry
from planning.access.policy import Action
from planning.compare import format_delta, format_distance, mean_distance_text
from planning.jobs import Job, cancel_job, job_input, job_result, job_state, latest_job
from planning.overview import format_quantity
from planning.territory.plan import (
    TerritoryPlan,
    TerritoryRequest,
    compare_objectives,
    plan_again,
    plan_from_job_input,
    plan_territories,
    save_plan,
)
from planning.territory.problem import TerritoryScenario
from planning.territory.solve import current_plan_kpis
from planning.territory.tradeoff import OPTIONS, TradeOff
from planning.territory.workspace import (
    MEASURE_NAMES,
    location_summary,
    lockable_accounts,
    saved_scenarios,
    suggested_measure,
)
from views.common import (
    allowed,
    current_workspace,
    page_as_of,
    parent_picker,
    require_page,
    show_failure,
    version_name_input,
)

JOB_KEY = "territory_job"
TRADEOFF_KEY = "territory_tradeoff"
# Objective choices and their weight (None: continuity; a number: a share of it).
OBJECTIVES: dict[str, float | None] = {**dict(OPTIONS), "Custom weight": 0.0}
PALETTE = plotly.colors.qualitative.Dark24
CHART_CONFIG = {"displaylogo": False}


# After a reload, this person's last solve is shown again if it ended this recently.
RESTORE_SECONDS = 15 * 60


user = require_page("territory")
workspace = current_workspace()
may_solve = allowed(user, Action.SOLVE_TERRITORY)

st.title("Territory design")
st.caption(
    "Assign every located account to one rep so that each rep's workload lies within a band "
    "around their capacity share (FTE, ramp-adjusted), accounts stay close to the rep's home "
    "(workload × km) and few customer relationships move. Solved as a Pyomo model with HiGHS; "
    "every result states its status, bound and gap."
)


@st.cache_data(show_spinner=False, max_entries=4)
def account_choices(workspace_name: str, path: str) -> dict[str, str]:
    """Accounts by id for the lock picker, largest revenue first (cached per workspace)."""
    return lockable_accounts(workspace)


def scenario_form() -> TerritoryRequest | None:
    """The scenario parameters; the request when submitted."""
    choices = account_choices(workspace.name, str(workspace.path))
    with st.form("territory_scenario"):
        left, right = st.columns(2)
        default = suggested_measure(workspace, page_as_of(workspace).day)
        measure = left.selectbox("Balance measure", list(MEASURE_NAMES),
                                 format_func=MEASURE_NAMES.get,
                                 index=list(MEASURE_NAMES).index(default),
                                 help="What each rep's workload counts. The default is the "
                                 "first of account revenue, 12-month bookings, open pipeline "
                                 "and account count that this workspace's accounts carry.")
        tolerance = left.slider("Balance tolerance (± % of each rep's share)", 1, 30, 10,
                                help="Each rep's workload must lie within this band.")
        objective = right.selectbox(
            "Objective", list(OBJECTIVES), key="territory_objective",
            help="Continuity (default): today's assignment is the start and the plan moves "
            "as little as the band allows — least moved value (annual revenue, or workload "
            "when there is none) first, then compactness (workload × km). It is one solve "
            "with a large disruption weight: each move costs more than the distance it could "
            "ever save, so no account moves for compactness alone. Balanced uses a tenth of "
            "that weight; compactness ignores moves. Compare them under “Trade-off”.")
        weight = right.number_input(
            "Custom disruption weight", min_value=0.0, value=0.0, step=10.0,
            help="Only with the objective “Custom weight”: cost of moving an account, "
            "weight × its annual revenue, added to the compactness cost (workload × km).")
        cap = right.number_input("Max accounts moved off one rep (0 = no cap)", min_value=0,
                                 value=0, step=5)
        locked = st.multiselect("Locked accounts (stay with their current rep)",
                                list(choices), format_func=choices.get,
                                placeholder="Named accounts to keep")
        left, middle, right = st.columns(3)
        respect_segments = left.checkbox("Reps keep to their segment", value=True)
        limit = middle.slider("Time limit (s)", 5, 120, 30)
        name = right.text_input("Scenario name", value="")
        submitted = st.form_submit_button("Solve", type="primary", icon=":material/play_arrow:",
                                          disabled=not may_solve)
    if not may_solve:
        st.caption("Your role may view saved scenarios; RevOps and sales leaders solve them.")
    if not submitted:
        return None
    custom = objective == "Custom weight"
    scenario = TerritoryScenario(tolerance=tolerance / 100,
                                 disruption_weight=float(weight) if custom else None,
                                 max_moves_per_rep=int(cap) or None, time_limit=float(limit))
    return TerritoryRequest(measure=measure, scenario=scenario,
                            objective_share=None if custom else OBJECTIVES[objective],
                            locked_ids=tuple(locked), respect_segments=respect_segments,
                            today=page_as_of(workspace).day, name=name)


def follow(job_id: int) -> Job:
    """Show the solve's progress with a Cancel button (which kills its process) until its
    job ends. The shown plan is cleared first, so a rerun meanwhile (a click on Cancel, a
    reload) follows the job again through `restored_plan`."""
    st.session_state.pop(JOB_KEY, None)
    st.button("Cancel the solve", icon=":material/stop:", key="territory_cancel",
              on_click=cancel_job, args=(workspace, job_id))
    bar = st.progress(0.0, text="Waiting for a worker")
    while not (job := job_state(workspace, job_id)).finished:
        bar.progress(min(max(job.progress, 0.0), 1.0), text=job.progress_text or (
            "Waiting for a worker" if job.status == "queued" else "Starting"))
        time.sleep(0.25)
    bar.empty()
    return job


def restored_plan(owner: str) -> TerritoryPlan | None:
    """This person's last solve after a reload or a rerun: followed to its end if still
    running, or shown again if it ended lately."""
    last = latest_job(workspace, owner, "territory")
    if last is None or (last.finished and time.time() - (last.finished_at or 0)
                        > RESTORE_SECONDS):
        return None
    try:
        payload = job_input(last)
    except (OSError, EOFError, AttributeError, ImportError):
        return None
    if "territory" not in payload:
        return None
    job = last if last.finished else follow(last.job_id)
    return plan_from_job_input(payload, job_result(job))


def rep_colours(rep_ids: list[str]) -> dict[str, str]:
    return {rep: PALETTE[i % len(PALETTE)] for i, rep in enumerate(rep_ids)}


def territory_map(plan: TerritoryPlan) -> go.Figure:
    """Accounts coloured by rep, rep homes as stars; plain lon/lat axes (no map tiles)."""
    units = plan.territory.units.merge(plan.result.assignment[["unit_id", "rep_id", "moved"]],
                                       on="unit_id")
    reps = plan.territory.reps
    colours = rep_colours(list(reps["rep_id"]))
    names = dict(zip(reps["rep_id"], reps["name"], strict=True))
    figure = go.Figure()
    figure.add_trace(go.Scattergl(
        x=units["lon"], y=units["lat"], mode="markers", name="Accounts",
        marker={"size": np.where(units["moved"], 7, 4),
                "color": units["rep_id"].map(colours),
                "line": {"width": np.where(units["moved"], 1, 0), "color": "black"}},
        customdata=np.stack([units["name"], units["rep_id"].map(names),
                             np.where(units["moved"], "moved", "")], axis=-1),
        hovertemplate="%{customdata[0]}<br>Rep: %{customdata[1]} %{customdata[2]}"
        "<extra></extra>",
    ))
    figure.add_trace(go.Scatter(
        x=reps["lon"], y=reps["lat"], mode="markers", name="Rep home",
        marker={"symbol": "star", "size": 14, "color": reps["rep_id"].map(colours),
                "line": {"width": 1, "color": "black"}},
        text=reps["name"], hovertemplate="%{text} (home)<extra></extra>",
    ))
    mid = float(np.nanmean(units["lat"])) if len(units) else 40.0
    figure.update_layout(
        title="Accounts by rep (moved accounts outlined); stars are rep homes",
        xaxis={"title": {"text": "Longitude (°)"}},
        yaxis={"title": {"text": "Latitude (°)"}, "scaleanchor": "x",
               "scaleratio": 1 / max(np.cos(np.radians(mid)), 0.2)},
        height=560, legend={"orientation": "h", "y": 1.02, "x": 1, "xanchor": "right"},
        margin={"t": 70},
    )
    return figure


def balance_chart(plan: TerritoryPlan) -> go.Figure:
    """Each rep's workload against their band, with today's workload for comparison."""
    result = plan.result
    reps = result.reps.merge(plan.territory.reps[["rep_id", "name"]], on="rep_id")
    reps = reps.sort_values("deviation", kind="stable")
    figure = go.Figure()
    figure.add_bar(x=reps["name"], y=reps["high"] - reps["low"], base=reps["low"],
                   name="Allowed band", marker_color="rgba(46,125,107,0.18)",
                   hovertemplate="%{x}: band %{base:,.0f} – %{y:,.0f} wide<extra></extra>")
    figure.add_scatter(x=reps["name"], y=reps["workload"], mode="markers", name="Plan",
                       marker={"color": "#1f4e79", "size": 9})
    figure.add_scatter(x=reps["name"], y=reps["today_workload"], mode="markers", name="Today",
                       marker={"color": "#c8702a", "symbol": "x", "size": 8})
    figure.update_layout(
        title=f"Workload per rep against the ±{result.scenario.tolerance:.0%} band "
              f"({result.scenario.balance_measure})",
        yaxis={"title": {"text": result.scenario.balance_measure}}, xaxis={"tickangle": -45},
        barmode="overlay", height=440, legend={"orientation": "h", "y": 1.08},
    )
    return figure


def offer_suggested_tolerance(plan: TerritoryPlan) -> None:
    """A button that solves the same scenario at the smallest tolerance with a plan.

    Small books (a few dozen accounts per handful of reps) are lumpy: one large account can
    outweigh a rep's whole band, so the tolerance that works is found by the diagnosis.
    """
    result = plan.result
    suggested = (None if result.infeasibility is None
                 else result.infeasibility.suggested_tolerance)
    if suggested is None or not may_solve:
        return
    if st.button(f"Solve at ±{suggested:.1%}", key="territory_suggested", type="primary",
                 help="The same scenario with the smallest balance tolerance that has a plan."):
        try:
            with telemetry.timed(workspace, "solve", "territory", user.email):
                st.session_state[JOB_KEY] = plan_again(
                    workspace, user.email, plan, replace(plan.scenario, tolerance=suggested),
                    f"{plan.scenario.balance_measure} ±{suggested:.1%}", follow=follow)
        except Exception as exc:  # noqa: BLE001 - shown in words
            show_failure(exc, "solve the scenario")
            return
        st.rerun()


# Total time the trade-off's solves may take together (each option gets a third).
TRADEOFF_SECONDS = 45.0


def show_tradeoff(plan: TerritoryPlan) -> None:
    """Continuity, balanced and compactness solved side by side on demand (bounded time):
    moved share against weighted distance, and a button that shows each option's plan."""
    st.subheader("Trade-off: moves against distance")
    key = (id(plan.territory), plan.scenario.tolerance, plan.scenario.max_moves_per_rep)
    stored: tuple[tuple, TradeOff] | None = st.session_state.get(TRADEOFF_KEY)
    found = stored[1] if stored is not None and stored[0] == key else None
    if found is None:
        st.caption(f"Solves this scenario with each objective (continuity, balanced, "
                   f"compactness) in at most {TRADEOFF_SECONDS:.0f} s together.")
        if st.button("Compare the objectives", icon=":material/balance:",
                     key="territory_tradeoff_run"):
            with st.spinner(f"Solving {len(OPTIONS)} options (at most "
                            f"{TRADEOFF_SECONDS:.0f} s)…"):
                found = compare_objectives(workspace, user.email, plan,
                                           total_seconds=TRADEOFF_SECONDS)
            st.session_state[TRADEOFF_KEY] = (key, found)
        if found is None:
            return
    table = found.table
    st.caption(f"Computed in {found.seconds:.0f} s. More weight on continuity moves fewer "
               "accounts and leaves the book less compact.")
    figure = go.Figure(go.Scatter(
        x=table["moved_share"] * 100, y=table["mean_distance_km"], text=table["option"],
        mode="markers+text+lines", textposition="top center",
        hovertemplate="%{text}: %{x:.1f}% moved<extra></extra>"))
    figure.update_layout(xaxis={"title": {"text": "Accounts moved (%)"}},
                         yaxis={"title": {"text": "Average distance to the rep (km, "
                                                  "weighted by potential)"}},
                         height=320, margin={"t": 30})
    st.plotly_chart(figure, config=CHART_CONFIG, width="stretch")
    st.dataframe(pd.DataFrame({
        "Option": table["option"], "Status": table["status"],
        "Accounts moved": table["moved_units"], "Moved share": table["moved_share"],
        "Moved revenue": table["moved_value"],
        "Average distance": table["mean_distance_km"].map(
            lambda v: None if pd.isna(v) else mean_distance_text(v)),
        "Max deviation": table["max_balance_deviation"], "Seconds": table["seconds"].round(1),
    }), hide_index=True, width="stretch", column_config={
        "Moved share": st.column_config.NumberColumn(format="percent"),
        "Max deviation": st.column_config.NumberColumn(format="percent"),
        "Moved revenue": st.column_config.NumberColumn(format="dollar"),
    })
    columns = st.columns(len(found.results))
    for column, option, result in zip(columns, table["option"], found.results, strict=True):
        if column.button(f"Show the {option.lower()} plan", key=f"territory_pick_{option}",
                         disabled=not result.has_plan):
            st.session_state[JOB_KEY] = replace(
                plan, scenario=result.scenario, result=result,
                name=f"{plan.name.split(' (')[0]} ({option.lower()})")
            st.rerun()


def show_result(plan: TerritoryPlan) -> None:
    """Status, KPIs, map, balance chart, moved accounts and saving."""
    result = plan.result
    if result.status == "infeasible":
        st.error(f"**No plan: infeasible.** {result.message}", icon=":material/block:")
        offer_suggested_tolerance(plan)
        return
    if not result.has_plan:
        st.warning(result.message)
        return
    box = st.success if result.status in ("optimal", "within_gap") else st.warning
    box(result.message)
    kpis = result.kpis()
    today = current_plan_kpis(plan.territory.problem)
    cards = st.columns(4)
    points = (None if today is None else
              100 * (kpis["max_balance_deviation"] - today["max_balance_deviation"]))
    cards[0].metric("Max balance deviation", f"{kpis['max_balance_deviation']:+.1%}",
                    delta=None if points is None else f"{points:+.1f} pts vs today",
                    delta_color="inverse", border=True,
                    help="Largest |workload ÷ capacity share − 1| over reps.")
    cards[1].metric("Accounts moved", f"{kpis['moved_units']:,}", border=True,
                    help=f"Revenue of moved accounts: ${kpis['moved_value']:,.0f}.")
    distance_change = (None if today is None or kpis["mean_distance_km"] is None
                       or today.get("mean_distance_km") is None else
                       kpis["mean_distance_km"] - today["mean_distance_km"])
    cards[2].metric("Average distance to the rep", format_distance(kpis["mean_distance_km"]),
                    delta=(None if distance_change is None else
                           f"{format_delta(distance_change, 'km')} vs today"),
                    delta_color="inverse", border=True,
                    help="Mean km from each account to its rep's home, weighted by potential "
                    "(annual revenue). The solve minimises Σ workload × km: "
                    f"{format_quantity(kpis['weighted_distance_km'])}.")
    cards[3].metric("Gap to best bound", "not proven" if result.gap is None else
                    f"{result.gap:.2%}", border=True,
                    help=f"Objective {result.objective:,.0f}; bound "
                    f"{'—' if result.bound is None else f'{result.bound:,.0f}'}; "
                    f"{result.seconds:.1f} s; method: {result.method}.")
    st.plotly_chart(territory_map(plan), config=CHART_CONFIG, width="stretch")
    st.plotly_chart(balance_chart(plan), config=CHART_CONFIG, width="stretch")
    moved = result.assignment[result.assignment["moved"]].merge(
        plan.territory.units[["unit_id", "name", "city", "state"]], on="unit_id")
    names = dict(zip(plan.territory.reps["rep_id"], plan.territory.reps["name"], strict=True))
    st.subheader(f"Accounts moved ({len(moved):,})")
    st.caption(f"{len(moved):,} of {len(result.assignment):,} accounts "
               f"({len(moved) / max(len(result.assignment), 1):.1%}) change rep, with "
               f"${moved['value'].sum():,.0f} of annual revenue. Review them before saving.")
    st.dataframe(
        pd.DataFrame({
            "Account": moved["name"], "CRM id": moved["unit_id"], "City": moved["city"],
            "State": moved["state"],
            "From": moved["current_rep_id"].map(names), "To": moved["rep_id"].map(names),
            "Revenue": moved["value"], "Workload": moved["workload"],
            "Distance to new rep (km)": moved["km"].round(0),
        }).sort_values("Revenue", ascending=False),
        hide_index=True, width="stretch",
        column_config={
            "Revenue": st.column_config.NumberColumn(format="dollar"),
            "Workload": st.column_config.NumberColumn(
                format="compact", help=f"The account's {plan.scenario.balance_measure}."),
            "Distance to new rep (km)": st.column_config.NumberColumn(format="%d km"),
        },
    )
    if not allowed(user, Action.SOLVE_TERRITORY):
        return
    show_tradeoff(plan)
    parent = parent_picker("territory", "territory_parent")
    name = version_name_input("territory", None, plan.name, "territory_version_name")
    if st.button("Save as plan version", icon=":material/save:", key="territory_save"):
        try:
            scenario_id = save_plan(workspace, plan, name, user=user, parent_id=parent)
            st.success(f"Saved as version {scenario_id}: “{name}”.")
        except Exception as exc:  # noqa: BLE001 - shown in words
            show_failure(exc, "save the scenario")


def show_saved() -> None:
    """The saved scenario results with their settings and solver statistics."""
    rows = saved_scenarios(workspace)
    if rows.empty:
        st.info("No territory scenario has been saved in this workspace yet.")
        return
    st.dataframe(pd.DataFrame({
        "Scenario": rows["name"], "Saved": rows["created_at"], "By": rows["created_by"],
        "Measure": rows["parameters"].map(lambda p: p.get("balance_measure")),
        "Tolerance": rows["parameters"].map(lambda p: p.get("tolerance")),
        "Status": rows["solver"].map(lambda s: s.get("status")),
        "Gap": rows["solver"].map(lambda s: s.get("gap")),
        "Max deviation": rows["kpis"].map(lambda k: k.get("max_balance_deviation")),
        "Moved": rows["kpis"].map(lambda k: k.get("moved_units")),
        "Hash": rows["content_hash"].str[:12],
    }), hide_index=True, width="stretch", column_config={
        "Tolerance": st.column_config.NumberColumn(format="percent"),
        "Gap": st.column_config.NumberColumn(format="percent"),
        "Max deviation": st.column_config.NumberColumn(format="percent"),
    })


for sentence in location_summary(workspace).sentences():
    st.caption(sentence)
new_tab, saved_tab = st.tabs(["New scenario", "Saved scenarios"])
with new_tab:
    try:
        request = scenario_form()
    except Exception as exc:  # noqa: BLE001 - shown in words
        show_failure(exc, "prepare the scenario")
        request = None
    try:
        if request is not None:
            with telemetry.timed(workspace, "solve", "territory", user.email):
                st.session_state[JOB_KEY] = plan_territories(workspace, user.email, request,
                                                             follow=follow)
        elif JOB_KEY not in st.session_state:
            st.session_state[JOB_KEY] = None
            st.session_state[JOB_KEY] = restored_plan(user.email)
    except Exception as exc:  # noqa: BLE001 - shown in words
        show_failure(exc, "solve the scenario")
    plan: TerritoryPlan | None = st.session_state.get(JOB_KEY)
    if plan is not None:
        show_result(plan)
with saved_tab:
    show_saved()
