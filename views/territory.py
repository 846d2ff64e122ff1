"""Territory design: balance the book across reps, compact and with little disruption."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import plotly.colors
import plotly.graph_objects as go
import streamlit as st

from planning import telemetry
from planning.access.policy import Action
from planning.compare import format_delta, format_distance, mean_distance_text
from planning.jobs import (
    cancel_job,
    job_input,
    job_result,
    job_state,
    latest_job,
    solve_territory_in_job,
    submit_job,
)
from planning.overview import format_quantity
from planning.territory.problem import TerritoryScenario
from planning.territory.solve import TerritoryResult, current_plan_kpis
from planning.territory.tradeoff import OPTIONS, TradeOff, option_weight, tradeoff
from planning.territory.workspace import (
    MEASURE_NAMES,
    WorkspaceTerritory,
    location_summary,
    lockable_accounts,
    save_scenario,
    saved_scenarios,
    suggested_measure,
    workspace_territory,
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


@dataclass
class SolveJob:
    """A solve running as a job in a process of its own, its progress and, once done, its
    result (see `planning.jobs`: the page never solves in its own thread or process)."""

    territory: WorkspaceTerritory
    scenario: TerritoryScenario
    name: str
    locked: tuple[str, ...]
    respect_segments: bool
    job_id: int | None = None
    share: float = 0.0
    text: str = "Waiting for a worker"
    result: TerritoryResult | None = None
    error: Exception | None = None
    status: str = "queued"

    def start(self) -> None:
        """Queue the solve with its hard time limit (the app keeps the saving)."""
        payload = {"problem": self.territory.problem, "scenario": self.scenario,
                   "territory": self.territory, "name": self.name, "locked": self.locked,
                   "respect_segments": self.respect_segments}
        self.job_id = submit_job(
            workspace, "territory", user.email, payload, time_limit_s=self.scenario.time_limit,
            parameters={"name": self.name, "tolerance": self.scenario.tolerance,
                        "disruption_weight": self.scenario.disruption_weight})

    @property
    def running(self) -> bool:
        """Whether the job is still queued or running (reads its row; loads its result)."""
        if self.job_id is None or self.status not in ("queued", "running"):
            return False
        state = job_state(workspace, self.job_id)
        self.status, self.share, self.text = state.status, state.progress, (
            state.progress_text or ("Waiting for a worker" if state.status == "queued"
                                    else "Starting"))
        if not state.finished:
            return True
        try:
            self.result = job_result(state)
        except Exception as exc:  # noqa: BLE001 - shown in words on the page
            self.error = exc
        return False

    @classmethod
    def restored(cls, owner: str) -> SolveJob | None:
        """This person's last territory job after a reload: running, or ended lately."""
        last = latest_job(workspace, owner, "territory")
        if last is None or (last.finished and time.time() - (last.finished_at or 0)
                            > RESTORE_SECONDS):
            return None
        try:
            payload = job_input(last)
        except (OSError, EOFError, AttributeError, ImportError):
            return None
        return cls(territory=payload["territory"], scenario=payload["scenario"],
                   name=payload["name"], locked=payload["locked"],
                   respect_segments=payload["respect_segments"], job_id=last.job_id,
                   status="running")


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


def scenario_form() -> SolveJob | None:
    """The scenario parameters; a started job when submitted."""
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
    territory = workspace_territory(workspace, measure, respect_segments=respect_segments,
                                    locked_ids=tuple(locked), today=page_as_of(workspace).day)
    share = OBJECTIVES[objective]
    scenario = TerritoryScenario(
        tolerance=tolerance / 100,
        disruption_weight=(float(weight) if objective == "Custom weight"
                           else option_weight(territory.problem, share)),
        max_moves_per_rep=int(cap) or None, time_limit=float(limit),
        balance_measure=MEASURE_NAMES[measure])
    return SolveJob(territory=territory, scenario=scenario,
                    name=name.strip() or f"{MEASURE_NAMES[measure]} ±{tolerance}%",
                    locked=tuple(locked), respect_segments=respect_segments)


def follow(job: SolveJob) -> None:
    """Show the running solve's progress with a cancel button until it ends."""
    if st.button("Cancel the solve", icon=":material/stop:", key="territory_cancel"):
        cancel_job(workspace, job.job_id)
    bar = st.progress(0.0, text="Solving…")
    while job.running:
        bar.progress(min(max(job.share, 0.0), 1.0), text=job.text)
        time.sleep(0.25)
    bar.empty()


def rep_colours(rep_ids: list[str]) -> dict[str, str]:
    return {rep: PALETTE[i % len(PALETTE)] for i, rep in enumerate(rep_ids)}


def territory_map(job: SolveJob, result: TerritoryResult) -> go.Figure:
    """Accounts coloured by rep, rep homes as stars; plain lon/lat axes (no map tiles)."""
    units = job.territory.units.merge(result.assignment[["unit_id", "rep_id", "moved"]],
                                      on="unit_id")
    reps = job.territory.reps
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


def balance_chart(job: SolveJob, result: TerritoryResult) -> go.Figure:
    """Each rep's workload against their band, with today's workload for comparison."""
    reps = result.reps.merge(job.territory.reps[["rep_id", "name"]], on="rep_id")
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


def offer_suggested_tolerance(job: SolveJob) -> None:
    """A button that solves the same scenario at the smallest tolerance with a plan.

    Small books (a few dozen accounts per handful of reps) are lumpy: one large account can
    outweigh a rep's whole band, so the tolerance that works is found by the diagnosis.
    """
    result = job.result
    suggested = (None if result is None or result.infeasibility is None
                 else result.infeasibility.suggested_tolerance)
    if suggested is None or not may_solve:
        return
    if st.button(f"Solve at ±{suggested:.1%}", key="territory_suggested", type="primary",
                 help="The same scenario with the smallest balance tolerance that has a plan."):
        retry = SolveJob(territory=job.territory, scenario=replace(job.scenario,
                                                                   tolerance=suggested),
                         name=f"{job.scenario.balance_measure} ±{suggested:.1%}",
                         locked=job.locked, respect_segments=job.respect_segments)
        retry.start()
        st.session_state[JOB_KEY] = retry
        st.rerun()


# Total time the trade-off's solves may take together (each option gets a third).
TRADEOFF_SECONDS = 45.0


def show_tradeoff(job: SolveJob) -> None:
    """Continuity, balanced and compactness solved side by side on demand (bounded time):
    moved share against weighted distance, and a button that shows each option's plan."""
    st.subheader("Trade-off: moves against distance")
    key = (id(job.territory), job.scenario.tolerance, job.scenario.max_moves_per_rep)
    stored: tuple[tuple, TradeOff] | None = st.session_state.get(TRADEOFF_KEY)
    found = stored[1] if stored is not None and stored[0] == key else None
    if found is None:
        st.caption(f"Solves this scenario with each objective (continuity, balanced, "
                   f"compactness) in at most {TRADEOFF_SECONDS:.0f} s together.")
        if st.button("Compare the objectives", icon=":material/balance:",
                     key="territory_tradeoff_run"):
            with st.spinner(f"Solving {len(OPTIONS)} options (at most "
                            f"{TRADEOFF_SECONDS:.0f} s)…"):
                found = tradeoff(job.territory.problem, job.scenario,
                                 total_seconds=TRADEOFF_SECONDS,
                                 solve=lambda problem, scenario: solve_territory_in_job(
                                     workspace, user.email, problem, scenario))
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
                job, scenario=result.scenario, result=result, error=None, status="done",
                name=f"{job.name.split(' (')[0]} ({option.lower()})")
            st.rerun()


def show_result(job: SolveJob) -> None:
    """Status, KPIs, map, balance chart, moved accounts and saving."""
    if job.error is not None:
        show_failure(job.error, "solve the scenario")
        return
    result = job.result
    if result is None:
        return
    if result.status == "infeasible":
        st.error(f"**No plan: infeasible.** {result.message}", icon=":material/block:")
        offer_suggested_tolerance(job)
        return
    if not result.has_plan:
        st.warning(result.message)
        return
    box = st.success if result.status in ("optimal", "within_gap") else st.warning
    box(result.message)
    kpis = result.kpis()
    today = current_plan_kpis(job.territory.problem)
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
    st.plotly_chart(territory_map(job, result), config=CHART_CONFIG, width="stretch")
    st.plotly_chart(balance_chart(job, result), config=CHART_CONFIG, width="stretch")
    moved = result.assignment[result.assignment["moved"]].merge(
        job.territory.units[["unit_id", "name", "city", "state"]], on="unit_id")
    names = dict(zip(job.territory.reps["rep_id"], job.territory.reps["name"], strict=True))
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
                format="compact", help=f"The account's {job.scenario.balance_measure}."),
            "Distance to new rep (km)": st.column_config.NumberColumn(format="%d km"),
        },
    )
    if not allowed(user, Action.SOLVE_TERRITORY):
        return
    show_tradeoff(job)
    parent = parent_picker("territory", "territory_parent")
    name = version_name_input("territory", None, job.name, "territory_version_name")
    if st.button("Save as plan version", icon=":material/save:", key="territory_save"):
        try:
            scenario_id = save_scenario(
                workspace, job.territory, result, name, actor=user.email,
                actor_role=user.primary_role.value if user.primary_role else None,
                locked_ids=job.locked, respect_segments=job.respect_segments,
                parent_id=parent)
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
        started = scenario_form()
    except Exception as exc:  # noqa: BLE001 - shown in words
        show_failure(exc, "prepare the scenario")
        started = None
    if started is not None:
        started.start()
        st.session_state[JOB_KEY] = started
    if JOB_KEY not in st.session_state:
        st.session_state[JOB_KEY] = SolveJob.restored(user.email)
    job: SolveJob | None = st.session_state.get(JOB_KEY)
    if job is not None and job.running:
        with telemetry.timed(workspace, "solve", "territory", user.email):
            follow(job)
    if job is not None:
        show_result(job)
with saved_tab:
    show_saved()
