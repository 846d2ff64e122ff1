"""Quota design: allocate a fiscal year's bookings target to reps, fairly and attainably."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from planning import telemetry
from planning.access.policy import Action
from planning.asof import fiscal_years_with_data
from planning.bounds import amount_cents
from planning.errors import RevPlanError
from planning.jobs import Job, cancel_job, job_input, job_result, job_state, latest_job
from planning.overview import format_money
from planning.quota.fairness import FairnessReport
from planning.quota.model import QuotaInfeasibleError
from planning.quota.plan import (
    QuotaPlan,
    QuotaRequest,
    override_quota,
    plan_from_job_input,
    save_quota_plan,
    solve_quota_plan,
)
from planning.quota.workspace import (
    DEFAULT_BLEND,
    DEFAULT_GROWTH,
    QuotaBaseline,
    quota_baseline,
    quota_inputs,
    saved_quota_scenarios,
    suggested_blend,
)
from planning.territory.workspace import saved_scenarios
from views.common import (
    allowed,
    current_workspace,
    page_as_of,
    parent_picker,
    require_page,
    show_failure,
    version_name_input,
)

STATE_KEY = "quota_state"
CHART_CONFIG = {"displaylogo": False}

user = require_page("quota")
workspace = current_workspace()
as_of = page_as_of(workspace)
may_solve = allowed(user, Action.SOLVE_QUOTA)

st.title("Quota design")
st.caption(
    "Allocate a fiscal year's bookings target to reps. Each rep's fair share blends their "
    "shares of territory potential, trailing bookings and open pipeline, scaled by how much of "
    "the year they are ramped. Quotas add up to the target plus over-assignment to the cent, "
    "stay within year-over-year caps, floors and ceilings, and sit as close to fair share as "
    "possible: the largest relative deviation first, then the total (an LP solved by HiGHS). "
    "Amounts in USD."
)


def percent(value: float | None) -> str:
    return "—" if value is None or not np.isfinite(value) else f"{value:.0%}"


def form_defaults() -> tuple[dict[str, int], tuple[str, ...], QuotaBaseline | None]:
    """The blend the form starts from and last year's figures, for next fiscal year."""
    try:
        inputs = quota_inputs(workspace, today=as_of.day)
    except RevPlanError:
        return dict(DEFAULT_BLEND), (), None
    return (*suggested_blend(inputs), quota_baseline(inputs))


def baseline_text(baseline: QuotaBaseline | None, growth: float) -> str:
    """Last year's bookings and quotas beside the target, and what an empty target means."""
    if baseline is None or baseline.window is None:
        return "No bookings history to grow from: enter a target."
    start, end = baseline.window
    quotas = ("no quota records" if baseline.quota_cents is None
              else f"quotas {format_money(baseline.quota_cents)}")
    return (f"Last year ({start:%d %b %Y} – {end:%d %b %Y}): bookings "
            f"{format_money(baseline.bookings_cents)} by these reps, {quotas}. A target of 0 "
            f"means last year's bookings × (1 + growth) = "
            f"{format_money(baseline.target_cents(growth))} at {growth:+.0%}.")


def scenario_form() -> QuotaRequest | None:
    """The scenario settings; the request when submitted."""
    territories = saved_scenarios(workspace)
    sources = {None: "Current book (account revenue)"} | {
        row.scenario_id: f"Territory scenario: {row.name}" for row in territories.itertuples()}
    with st.form("quota_scenario"):
        left, middle, right = st.columns(3)
        fiscal_year = left.selectbox(
            "Fiscal year", fiscal_years_with_data(workspace, as_of.day),
            format_func=lambda y: f"FY{y}",
            help=f"Every fiscal year with deals, up to the year after {as_of.day:%d %b %Y} "
            f"(the plan's as-of day, {as_of.source_text}).")
        blend, missing, baseline = form_defaults()
        target = middle.number_input(
            "Company bookings target (USD, 0 = last year + growth)", min_value=0.0,
            value=0.0, step=1_000_000.0, format="%.2f",
            help="Leave 0 to grow last year's bookings by the growth rate.")
        source = right.selectbox("Potential from", list(sources), format_func=sources.get)
        growth = middle.number_input("Growth vs last year %", -50.0, 500.0,
                                     DEFAULT_GROWTH * 100, step=1.0)
        middle.caption(baseline_text(baseline, growth / 100))
        st.markdown("**Fair-share blend** (percent, adding up to 100)")
        left, middle, right = st.columns(3)
        potential = left.number_input("Potential %", 0, 100, blend["potential"])
        history = middle.number_input("Trailing bookings %", 0, 100, blend["history"])
        pipeline = right.number_input("Open pipeline %", 0, 100, blend["pipeline"])
        if missing:
            st.caption(f"No rep has any {' or '.join(missing)} in this workspace, so the "
                       "blend starts without it.")
        left, middle, right, fourth = st.columns(4)
        over = left.number_input("Over-assignment %", 0.0, 100.0, 10.0, step=1.0)
        increase = middle.number_input("Max rise vs last year % (0 = none)", 0.0, 500.0, 25.0)
        decrease = right.number_input("Max fall vs last year % (0 = none)", 0.0, 100.0, 0.0)
        fixed = fourth.checkbox("Keep team totals", value=False,
                                help="Each team's total stays at its reps' fair shares.")
        left, right, name_column = st.columns(3)
        floor = left.number_input("Floor per rep (USD, 0 = none)", 0.0, value=0.0)
        ceiling = right.number_input("Ceiling per rep (USD, 0 = none)", 0.0, value=0.0)
        name = name_column.text_input("Scenario name", value="")
        submitted = st.form_submit_button("Solve", type="primary", icon=":material/play_arrow:",
                                          disabled=not may_solve)
    if not may_solve:
        st.caption("Your role may view saved quota scenarios; RevOps, finance, compensation "
                   "and sales leaders solve them.")
    if not submitted:
        return None
    if potential + history + pipeline != 100:
        raise RevPlanError(f"The blend adds up to {potential + history + pipeline}%, not 100%.")
    return QuotaRequest(
        target_cents=amount_cents("target", target, allow_zero=True), growth=growth / 100,
        blend={"potential": potential / 100, "history": history / 100,
               "pipeline": pipeline / 100},
        over_assign=over / 100, max_increase=increase / 100 or None,
        max_decrease=decrease / 100 or None,
        floor_cents=amount_cents("floor", floor, allow_zero=True) or None,
        ceiling_cents=amount_cents("ceiling", ceiling, allow_zero=True) or None,
        team_totals="fixed" if fixed else "free", fiscal_year=fiscal_year,
        territory_scenario=source, today=as_of.day, name=name)


# After a reload, this person's last allocation is shown again if it ended this recently.
RESTORE_SECONDS = 15 * 60
RESTORED_KEY = "quota_restored"


def restored_plan(owner: str) -> QuotaPlan | None:
    """This person's last allocation after a reload (followed to its end if still running).

    Allocations with overrides are not restored: an override is recorded only once its
    solve has returned on the page.
    """
    last = latest_job(workspace, owner, "quota")
    if last is None or last.status in ("failed", "cancelled") or (
            last.finished and time.time() - (last.finished_at or 0) > RESTORE_SECONDS):
        return None
    try:
        payload = job_input(last)
    except (OSError, EOFError, AttributeError, ImportError):
        return None
    if payload.get("overrides") or "inputs" not in payload:
        return None
    job = last if last.finished else follow_job(last.job_id)
    if job.status != "done":
        return None
    return plan_from_job_input(payload, job_result(job))


def follow_job(job_id: int) -> Job:
    """Show the job's progress with a Cancel button (which kills its process) until it ends."""
    st.button("Cancel", icon=":material/stop:", key="quota_cancel", on_click=cancel_job,
              args=(workspace, job_id))
    bar = st.progress(0.0, text="Allocating quotas…")
    while not (job := job_state(workspace, job_id)).finished:
        bar.progress(job.progress, text=job.progress_text or "Allocating quotas…")
        time.sleep(0.2)
    bar.empty()
    return job


def rep_table(plan: QuotaPlan, fairness: FairnessReport) -> pd.DataFrame:
    frame = plan.result.allocation.merge(
        plan.inputs.reps[["rep_id", "name", "ramp", "potential"]], on="rep_id").merge(
        fairness.reps, on="rep_id")
    last = frame["last_quota_cents"].to_numpy(dtype=float, na_value=np.nan)
    return pd.DataFrame({
        "Rep": frame["name"], "Team": frame["team"], "Quota": frame["quota_cents"] / 100,
        "Fair share": frame["fair_cents"] / 100,
        "Change vs last year": np.where(last > 0, frame["quota_cents"] / last - 1, np.nan)
        .astype(float),
        "Quota per $1,000 of potential": frame["quota_to_potential"] * 1000,
        "Quota ÷ trailing bookings": frame["quota_to_history"].to_numpy(dtype=float,
                                                                          na_value=np.nan),
        "Pipeline coverage": frame["coverage"], "Ramp": frame["ramp"],
        "Chance of 100%": frame["chance_of_100"], "Why": frame["explanation"],
    })


def charts(plan: QuotaPlan, fairness: FairnessReport) -> None:
    result = plan.result
    frame = result.allocation.merge(plan.inputs.reps[["rep_id", "name", "potential"]],
                                    on="rep_id")
    slope = result.total_cents / 100 / max(frame["potential"].sum(), 1e-9)
    top = float(frame["potential"].max())
    scatter = go.Figure()
    scatter.add_scatter(x=frame["potential"], y=frame["quota_cents"] / 100, mode="markers",
                        name="Reps", text=frame["name"], marker={"size": 10, "color": "#1f4e79"},
                        hovertemplate="%{text}<br>Potential $%{x:,.0f}<br>Quota $%{y:,.0f}"
                        "<extra></extra>")
    scatter.add_scatter(x=[0, top], y=[0, top * slope], mode="lines",
                        name="Quota in proportion to potential",
                        line={"dash": "dash", "color": "#7f7f7f"})
    scatter.update_layout(title="Quota against territory potential", height=420,
                          xaxis={"title": {"text": "Potential (USD)"}, "tickprefix": "$"},
                          yaxis={"title": {"text": "Annual quota (USD)"}, "tickprefix": "$"},
                          legend={"orientation": "h", "y": -0.2})
    attainment = go.Figure()
    attainment.add_histogram(x=np.clip(fairness.attainment_draws, 0, 3) * 100, nbinsx=60,
                             name="Simulated attainment", marker_color="#2e7d6b")
    attainment.add_vline(x=100, line={"dash": "dot"}, annotation_text="100% of quota")
    attainment.update_layout(
        title=f"Expected attainment ({fairness.share_expected_to_reach_100:.0%} of reps "
              "expected to reach 100%)", height=420, showlegend=False,
        xaxis={"title": {"text": "Attainment (% of quota, capped at 300%)"}},
        yaxis={"title": {"text": "Simulated rep-years"}})
    teams = result.allocation.groupby("team")[["quota_cents", "fair_cents"]].sum() / 100
    rollup = go.Figure()
    rollup.add_bar(x=teams.index, y=teams["quota_cents"], name="Quota",
                   marker_color="#1f4e79")
    rollup.add_bar(x=teams.index, y=teams["fair_cents"], name="Fair share",
                   marker_color="#c8702a")
    rollup.update_layout(title="Team roll-up: quota and fair share", barmode="group",
                         height=380, yaxis={"title": {"text": "USD"}, "tickprefix": "$"},
                         legend={"orientation": "h", "y": 1.1})
    left, right = st.columns(2)
    left.plotly_chart(scatter, config=CHART_CONFIG, width="stretch")
    right.plotly_chart(attainment, config=CHART_CONFIG, width="stretch")
    st.plotly_chart(rollup, config=CHART_CONFIG, width="stretch")


def override_form(plan: QuotaPlan) -> None:
    """Set one rep's quota by hand, with a reason (audited); the others rebalance."""
    names = dict(zip(plan.inputs.reps["rep_id"], plan.inputs.reps["name"], strict=True))
    with st.form("quota_override"):
        st.markdown("**Override a rep's quota** (the others rebalance to keep the total)")
        left, middle = st.columns(2)
        rep = left.selectbox("Rep", list(names), format_func=names.get)
        amount = middle.number_input("New annual quota (USD)", min_value=0.0, value=0.0,
                                     step=10_000.0, format="%.2f")
        reason = st.text_input("Reason (recorded in the audit trail)")
        applied = st.form_submit_button("Apply override", icon=":material/edit:")
    if applied:
        try:
            with telemetry.timed(workspace, "solve", "quota", user.email):
                overridden = override_quota(workspace, plan, rep, int(round(amount * 100)),
                                            reason, user=user, follow=follow_job)
        except Exception as exc:  # noqa: BLE001 - shown in words
            show_failure(exc, "apply the override")
        else:
            st.session_state[STATE_KEY] = overridden
            st.rerun()
    if plan.overrides:
        st.caption("Overrides: " + "; ".join(
            f"{names.get(rep, rep)} {format_money(cents)}"
            for rep, cents in plan.overrides.items()))


def show_result(plan: QuotaPlan) -> None:
    inputs, result = plan.inputs, plan.result
    fairness, capacity = plan.metrics()
    st.success(f"FY{inputs.fiscal_year}: {result.status}. Largest deviation from fair share "
               f"{result.objective:.1%}; solved in {result.seconds:.2f} s. Potential from "
               f"{inputs.potential_source}.")
    for note in getattr(result, "notes", ()):
        st.warning(note, icon=":material/warning:")
    cards = st.columns(5)
    cards[0].metric("Total quota", format_money(result.total_cents), border=True,
                    help=f"Target {format_money(result.scenario.target_cents)} + "
                    f"{result.scenario.over_assign:.0%} over-assignment, to the cent.")
    cards[1].metric("Largest deviation from fair share", f"{result.objective:.1%}",
                    border=True)
    cards[2].metric("Reps expected to reach 100%",
                    percent(fairness.share_expected_to_reach_100), border=True,
                    help=f"Simulated from the spread of reps' year-on-year bookings "
                    f"(σ = {fairness.sigma:.2f} on the log scale).")
    cards[3].metric("Gini of quota ÷ potential", f"{fairness.gini_quota_to_potential:.2f}",
                    border=True, help="0: every rep carries the same quota per $ of potential.")
    cards[4].metric("Capacity gap", format_money(int(capacity.gap * 100)), border=True,
                    help=f"Target against reps × ramp × productivity "
                    f"({format_money(int(capacity.productivity * 100))} per ramped rep): "
                    f"{capacity.hires:.1f} hires at a first-year ramp of "
                    f"{capacity.first_year_ramp:.0%}.")
    charts(plan, fairness)
    st.subheader("Quota per rep")
    st.dataframe(rep_table(plan, fairness), hide_index=True, width="stretch", column_config={
        "Quota": st.column_config.NumberColumn(format="dollar"),
        "Fair share": st.column_config.NumberColumn(format="dollar"),
        **{c: st.column_config.NumberColumn(format="percent") for c in (
            "Change vs last year", "Ramp", "Chance of 100%")},
        "Quota per $1,000 of potential": st.column_config.NumberColumn(format="$%.2f"),
        "Quota ÷ trailing bookings": st.column_config.NumberColumn(format="%.2f×"),
        "Pipeline coverage": st.column_config.NumberColumn(format="%.2f×"),
        "Why": st.column_config.TextColumn(width="large"),
    })
    if may_solve:
        override_form(plan)
        parent = parent_picker("quota", "quota_parent")
        overridden = len(plan.overrides)
        name = version_name_input(
            "quota", inputs.fiscal_year, plan.name + (
                f" with {overridden} override{'s' if overridden > 1 else ''}"
                if overridden else ""), "quota_version_name")
        if st.button("Save as plan version", icon=":material/save:", key="quota_save"):
            try:
                scenario_id = save_quota_plan(workspace, plan, name, user=user,
                                              parent_id=parent)
                st.success(f"Saved as version {scenario_id}: “{name}”.")
            except Exception as exc:  # noqa: BLE001 - shown in words
                show_failure(exc, "save the scenario")


def show_saved() -> None:
    rows = saved_quota_scenarios(workspace)
    if rows.empty:
        st.info("No quota scenario has been saved in this workspace yet.")
        return
    st.dataframe(pd.DataFrame({
        "Scenario": rows["name"], "Fiscal year": rows["fiscal_year"],
        "Saved": rows["created_at"], "By": rows["created_by"],
        "Total": rows["total_cents"] / 100,
        "Largest deviation": rows["solver"].map(lambda s: s.get("objective")),
        "Expected to reach 100%": rows["metrics"].map(
            lambda m: m.get("share_expected_to_reach_100")),
        "Hash": rows["content_hash"].str[:12],
    }), hide_index=True, width="stretch", column_config={
        "Total": st.column_config.NumberColumn(format="dollar"),
        "Largest deviation": st.column_config.NumberColumn(format="percent"),
        "Expected to reach 100%": st.column_config.NumberColumn(format="percent"),
    })


new_tab, saved_tab = st.tabs(["New scenario", "Saved scenarios"])
with new_tab:
    try:
        request = scenario_form()
        if request is not None:
            st.session_state.pop(STATE_KEY, None)
            with telemetry.timed(workspace, "solve", "quota", user.email):
                st.session_state[STATE_KEY] = solve_quota_plan(workspace, user.email, request,
                                                               follow=follow_job)
    except QuotaInfeasibleError as exc:
        st.error(f"**No allocation: the limits cannot add up to the total.** {exc}",
                 icon=":material/block:")
        st.session_state.pop(STATE_KEY, None)
    except Exception as exc:  # noqa: BLE001 - shown in words
        show_failure(exc, "allocate the quotas")
        st.session_state.pop(STATE_KEY, None)
    if STATE_KEY not in st.session_state and not st.session_state.get(RESTORED_KEY):
        st.session_state[RESTORED_KEY] = True
        try:
            restored = restored_plan(user.email)
        except Exception as exc:  # noqa: BLE001 - shown in words
            show_failure(exc, "show your last allocation")
            restored = None
        if restored is not None:
            st.session_state[STATE_KEY] = restored
    plan: QuotaPlan | None = st.session_state.get(STATE_KEY)
    if plan is not None:
        show_result(plan)
with saved_tab:
    show_saved()
