"""Territory scenarios on a workspace: its accounts and reps as a problem, results saved with
their settings, solver statistics and a content hash (audited)."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

import pandas as pd

from planning.access.entry_points import entry_point
from planning.access.policy import Action
from planning.access.users import User
from planning.asof import resolve_as_of
from planning.errors import RevPlanError
from planning.geocode import PRECISION_WORDS
from planning.ramp import ramp_share
from planning.store import Workspace
from planning.store import territories as repo
from planning.store.locations import derived_counts, located_accounts_by_precision
from planning.territory.problem import TerritoryProblem
from planning.territory.solve import TerritoryResult, current_plan_kpis
from planning.territory.validation import territory_problem
from planning.versions import ScenarioContent, ScenarioStamp, save_scenario_version

MEASURE_NAMES: dict[str, str] = {
    "accounts": "Accounts (count)",
    "revenue": "Account revenue (potential, USD)",
    "pipeline": "Open pipeline (USD)",
    "bookings": "Bookings, last 12 months (USD)",
}


@dataclass(frozen=True)
class WorkspaceTerritory:
    """A workspace's accounts and reps as a territory problem, with names for display."""

    problem: TerritoryProblem
    units: pd.DataFrame
    """unit_id, name, city, state, segment, and the problem's columns."""
    reps: pd.DataFrame
    """rep_id, name, team, and the problem's columns."""
    measure: str


MEASURE_PREFERENCE = ("revenue", "bookings", "pipeline", "accounts")
"""The default balance measure is the first of these the workspace's accounts carry."""


def suggested_measure(workspace: Workspace, today: dt.date | None = None) -> str:
    """The balance measure a new scenario starts from: account revenue (potential) when the
    accounts carry it, else 12-month bookings, else open pipeline, else the account count.
    A CRM export without revenue would otherwise balance a workload of 0."""
    since = (today or resolve_as_of(workspace).day) - dt.timedelta(days=365)
    totals = workspace.read(lambda cur: repo.measure_totals(cur, since))
    return next(key for key in MEASURE_PREFERENCE if totals[key] > 0 or key == "accounts")


def workspace_territory(
    workspace: Workspace, measure: str = "revenue", *, respect_segments: bool = True,
    locked_ids: tuple[str, ...] = (), today: dt.date | None = None,
) -> WorkspaceTerritory:
    """The workspace's located accounts as units and active reps with a home as reps, as of
    `today` (default: the workspace's as-of day, see `planning.asof`: bookings windows end
    there). Each rep's capacity is FTE × `planning.ramp.ramp_share` on that day; a rep not yet
    hired then has no capacity and is left out (their accounts count as without a rep)."""
    if measure not in repo.MEASURES:
        raise RevPlanError(f"Unknown balance measure {measure!r}; choose one of "
                           f"{', '.join(repo.MEASURES)}.")
    today = today or resolve_as_of(workspace).day

    def read(cur) -> tuple[pd.DataFrame, pd.DataFrame]:
        return (repo.territory_units(cur, measure, today - dt.timedelta(days=365)),
                repo.territory_reps(cur))

    units, reps = workspace.read_snapshot(read)
    reps = _ramped(reps, today)
    units = units.assign(current_rep_id=units["current_rep_id"].where(
        units["current_rep_id"].isin(reps["rep_id"])))
    if reps.empty:
        raise RevPlanError("No active reps with a home location in this workspace: give reps "
                           "a home (home_lat/home_lon), or accounts an owner and an address so "
                           "homes can be derived on import.")
    if units.empty:
        raise RevPlanError("No accounts with a location in this workspace.")
    if not (units["workload"] > 0).any():
        raise RevPlanError(
            f"No located account has any {MEASURE_NAMES[measure].split(' (')[0].lower()} in "
            f"this workspace, so there is no workload to balance: choose the balance measure "
            f"{MEASURE_NAMES[suggested_measure(workspace, today)]!r}.")
    unknown = sorted(set(locked_ids) - set(units["unit_id"]))
    if unknown:
        raise RevPlanError(f"Locked account(s) not found: {', '.join(unknown[:5])}.")
    units = units.assign(locked=units["unit_id"].isin(locked_ids))
    no_owner = units["locked"] & units["current_rep_id"].isna()
    if no_owner.any():
        raise RevPlanError("Locked account(s) without an active rep cannot stay with them: "
                           f"{', '.join(units.loc[no_owner, 'unit_id'].head(5))}.")
    if respect_segments and reps["segment"].isna().all():
        # No rep has a segment (common in CRM exports): there is no segment to keep to, and
        # balancing within segments would leave every segmented account without a rep.
        respect_segments = False
    if not respect_segments:
        units = units.assign(segment=None)
        reps_for_problem = reps.assign(segment=None)
    else:
        reps_for_problem = reps
    problem = territory_problem(units, reps_for_problem, units_name="accounts",
                               reps_name="reps", balance_within_segments=respect_segments)
    return WorkspaceTerritory(problem=problem, units=units, reps=reps, measure=measure)


def _ramped(reps: pd.DataFrame, today: dt.date) -> pd.DataFrame:
    """The reps with their capacity on `today` (FTE × ramp share), those not yet hired left
    out; without the hire date and ramp columns."""
    share = [ramp_share(hired, months, today) for hired, months in zip(
        reps["hire_date"], reps["ramp_months"], strict=True)]
    reps = reps.assign(capacity=reps["capacity"].astype(float) * share)
    return reps[reps["capacity"] > 0].drop(columns=["hire_date", "ramp_months"]).reset_index(
        drop=True)


@dataclass(frozen=True)
class LocationSummary:
    """How the workspace's accounts were located and what was derived from its data."""

    by_precision: dict[str, int]
    """Accounts per precision (given, zip, city, region, country) and `none` (not located)."""
    owners_derived: int
    rep_homes_derived: int

    def sentences(self) -> list[str]:
        """The summary in words: accounts located at which precision, and what was derived."""
        located = {k: v for k, v in self.by_precision.items() if k != "none"}
        missing = self.by_precision.get("none", 0)
        parts = [f"{count:,} {PRECISION_WORDS[precision]}"
                 for precision, count in located.items()]
        text = (f"{sum(located.values()):,} accounts located: {', '.join(parts)}"
                if located else "No account has a location")
        if missing:
            text += (f"; {missing:,} without a location "
                     f"{'is' if missing == 1 else 'are'} left out")
        lines = [text + "."]
        derived = []
        if self.owners_derived:
            derived.append(f"the owners of {self.owners_derived:,} accounts (the owner of most "
                           "of each account's deals)")
        if self.rep_homes_derived:
            derived.append(f"the homes of {self.rep_homes_derived:,} reps (the "
                           "workload-weighted centre of their accounts)")
        if derived:
            lines.append("Derived from the data because the export lacks them: "
                         + " and ".join(derived) + ".")
        return lines


def location_summary(workspace: Workspace) -> LocationSummary:
    """Accounts per location precision and the counts of derived owners and rep homes."""

    def read(cur) -> LocationSummary:
        counts = derived_counts(cur)
        return LocationSummary(by_precision=located_accounts_by_precision(cur),
                               owners_derived=counts["owners_derived"],
                               rep_homes_derived=counts["rep_homes_derived"])

    return workspace.read_snapshot(read)


def lockable_accounts(workspace: Workspace) -> dict[str, str]:
    """Located accounts with an active rep, id -> "name (city, state)", largest revenue
    first: the accounts a scenario may lock."""
    since = resolve_as_of(workspace).day
    units = workspace.read(lambda cur: repo.territory_units(cur, "accounts", since))
    units = units[units["current_rep_id"].notna()].sort_values(
        ["value", "unit_id"], ascending=[False, True])
    return {row.unit_id: f"{row.name} ({row.city}, {row.state})"
            for row in units.itertuples()}


@entry_point(Action.SOLVE_TERRITORY)
def save_scenario(
    workspace: Workspace, territory: WorkspaceTerritory, result: TerritoryResult, name: str, *,
    user: User, locked_ids: tuple[str, ...] = (), respect_segments: bool = True,
    parent_id: str | None = None,
) -> str:
    """Store a solved scenario (refused without a plan) and its plan version (same id,
    optionally the child of `parent_id`) through `save_scenario_version`; returns the id."""
    if not result.has_plan:
        raise RevPlanError("Only a scenario with a plan can be saved.")
    report = result.report()
    parameters = {**report["scenario"], "balance_measure": territory.measure,
                  "locked_accounts": sorted(locked_ids), "respect_segments": respect_segments}
    solver = {key: report[key] for key in ("status", "method", "objective", "bound", "gap",
                                           "seconds", "first_feasible_seconds", "message")}
    kpis = {**result.kpis(), "current": current_plan_kpis(territory.problem),
            "rep_deviation": {str(rep): round(float(deviation), 6) for rep, deviation in zip(
                result.reps["rep_id"], result.reps["deviation"], strict=True)}}
    assignment = result.assignment[["unit_id", "rep_id", "current_rep_id", "workload",
                                    "value"]]
    items = pd.DataFrame({
        "subject": assignment["unit_id"], "assignee": assignment["rep_id"],
        "previous": assignment["current_rep_id"],
        "detail": [json.dumps({"workload": round(float(w), 6), "value": round(float(v), 2)})
                   for w, v in zip(assignment["workload"], assignment["value"], strict=True)]})
    content = ScenarioContent(kind="territory", name=name, parameters=parameters,
                              solver=solver, metrics=kpis, items=items)

    def store_result(cur, stamp: ScenarioStamp) -> None:
        row = stamp.row(content, user.email)
        row["kpis"] = row.pop("metrics")
        repo.insert_scenario(cur, {**row, "balance_measure": territory.measure}, assignment)

    return save_scenario_version(workspace, content, actor=user.email, actor_role=user.audit_role,
                                 parent_id=parent_id, store_result=store_result,
                                 audit_after={"moved_units": kpis["moved_units"]})


def saved_scenarios(workspace: Workspace) -> pd.DataFrame:
    """Saved scenarios, newest first, with their JSON columns decoded."""
    rows = workspace.read(repo.scenarios)
    for column in ("parameters", "solver", "kpis"):
        rows[column] = rows[column].map(json.loads)
    return rows
