"""Forecast calls on record: the snapshot rows as `Call`s, the latest call of each subject,
and every call of a quarter a viewer may see."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd

from planning.access.policy import readable_owner_ids
from planning.access.users import User
from planning.periods import FiscalQuarter
from planning.pipeline.forecast_scope import NO_TEAM, Level, forecast_levels
from planning.store import Workspace
from planning.store import forecasts as repo


@dataclass(frozen=True)
class Call:
    """A forecast call: one snapshot row, or (snapshot_id None) the sum of several reps'
    latest calls."""

    commit_cents: int
    best_case_cents: int
    submitted_at: dt.datetime
    submitted_by: str
    snapshot_id: int | None = None
    submitted_role: str | None = None
    comment: str | None = None
    overrides_snapshot_id: int | None = None
    override_reason: str | None = None
    calls: int = 1
    """How many calls the figures add up (1 for a single snapshot)."""

    @property
    def is_override(self) -> bool:
        """True for a manager's override of an earlier call."""
        return self.overrides_snapshot_id is not None


def call_from(row: dict[str, object]) -> Call:
    """The call of one `forecast_snapshots` row (missing values as None)."""
    def optional_int(value: object) -> int | None:
        return None if value is None or pd.isna(value) else int(value)

    def optional_text(value: object) -> str | None:
        return None if value is None or pd.isna(value) else str(value)

    return Call(
        commit_cents=int(row["commit_cents"]), best_case_cents=int(row["best_case_cents"]),
        submitted_at=pd.Timestamp(row["submitted_at"]).to_pydatetime(),
        submitted_by=str(row["submitted_by"]), snapshot_id=optional_int(row["snapshot_id"]),
        submitted_role=optional_text(row["submitted_role"]),
        comment=optional_text(row["comment"]),
        overrides_snapshot_id=optional_int(row["overrides_snapshot_id"]),
        override_reason=optional_text(row["override_reason"]),
    )


def _latest(rows: pd.DataFrame) -> dict[str, Call]:
    """The newest call per subject id (rows are oldest first)."""
    latest = rows.drop_duplicates("subject_id", keep="last")
    return {str(r["subject_id"]): call_from(r) for r in latest.to_dict("records")}


def subject_calls(
    snapshots: pd.DataFrame, reps: pd.DataFrame, owner_subject: dict[str, str], level: Level,
    subject_ids: list[str],
) -> dict[str, tuple[Call | None, Call | None]]:
    """The (rep call, manager call) of each subject from a quarter's calls, oldest first (see
    `SubjectForecast`); only reps in `reps` (the viewer's scope) add to a roll-up."""
    own = snapshots["overrides_snapshot_id"].isna()
    rep_rows = snapshots[snapshots["level"] == "rep"]
    rep_own = _latest(rep_rows[own[rep_rows.index]])
    if level == "rep":
        overrides = _latest(rep_rows[~own[rep_rows.index]])
        return {s: (rep_own.get(s), overrides.get(s)) for s in subject_ids}
    scoped_reps = set(reps["rep_id"])
    rolled: dict[str, list[Call]] = {}
    for rep, call in rep_own.items():
        if rep in scoped_reps:
            rolled.setdefault(owner_subject[rep], []).append(call)
    upper = _latest(snapshots[snapshots["level"] == level])
    return {s: (_roll_up(rolled.get(s, [])), upper.get(s)) for s in subject_ids}


def _roll_up(calls: list[Call]) -> Call | None:
    if not calls:
        return None
    return Call(
        commit_cents=sum(c.commit_cents for c in calls),
        best_case_cents=sum(c.best_case_cents for c in calls),
        submitted_at=max(c.submitted_at for c in calls),
        submitted_by=f"{len(calls)} rep{'s' if len(calls) != 1 else ''}",
        calls=len(calls),
    )


def forecast_history(workspace: Workspace, viewer: User | None, quarter: FiscalQuarter
                     ) -> pd.DataFrame:
    """Every call for a quarter the viewer may see, oldest first, with subject names and an
    `is_override` flag: rep calls of reps in scope, team and company calls at levels the viewer
    may forecast."""
    owners = readable_owner_ids(viewer, workspace.name)
    levels = forecast_levels(viewer)

    def read(cur) -> tuple[pd.DataFrame, pd.DataFrame]:
        return (repo.quarter_snapshots(cur, quarter.start, quarter.end),
                repo.reps(cur, None if owners is None else sorted(owners)))

    calls, people = workspace.read_snapshot(read)
    names = dict(zip(people["rep_id"], people["name"], strict=True))
    teams = {str(t) for t in people["team"].dropna()} | (
        {NO_TEAM} if people["team"].isna().any() else set())
    subject, level = calls["subject_id"], calls["level"]
    everything = owners is None
    visible = (
        ((level == "rep") & (everything | subject.isin(set(people["rep_id"]))))
        | ((level == "team") & ("team" in levels) & (everything | subject.isin(teams)))
        | ((level == "company") & ("company" in levels))
    )
    calls = calls[visible].reset_index(drop=True)
    calls["subject_name"] = [
        "Company" if lv == "company" else (names.get(s) or s) if lv == "rep" else s
        for lv, s in zip(calls["level"], calls["subject_id"], strict=True)
    ]
    calls["is_override"] = calls["overrides_snapshot_id"].notna()
    return calls
