"""Deal inspection: filter the open deals in a user's scope by team, rep, stage, close quarter,
risk band and warning flags; read one deal's history, activities and notes; add notes; and
explain how open pipeline moved between two moments as a waterfall that adds up to the cent.

Filtering runs in pandas over `InspectionFacts`, one read of every open deal with its scores
and history facts (close-date pushes, highest amount). Callers that filter repeatedly (the
Deal inspection page) load the facts once per `data_version` and pass them in; scope is applied
on every call, so shared facts never widen what a user sees.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
import pandas as pd
import pyarrow as pa

from planning import audit
from planning.access.policy import Action, readable_owner_ids, require
from planning.access.users import User
from planning.clock import now_utc, today_utc
from planning.errors import RevPlanError
from planning.overview import format_money
from planning.periods import FiscalQuarter, fiscal_quarter_of
from planning.store import Workspace, deal_models
from planning.store import inspection as repo
from planning.store import kpis as kpi_queries

HIGH_RISK_BELOW = 0.30
"""Win probability under which a deal is high risk."""
LOW_RISK_FROM = 0.60
"""Win probability from which a deal is low risk."""
MAX_NOTE_LENGTH = 4_000


class RiskBand(StrEnum):
    """Bands of the active model's win probability."""

    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    UNSCORED = "unscored"

    @property
    def label(self) -> str:
        """The band in words, with its bounds."""
        return {
            RiskBand.HIGH: f"High risk (win < {HIGH_RISK_BELOW:.0%})",
            RiskBand.MEDIUM: f"Medium risk (win {HIGH_RISK_BELOW:.0%}–{LOW_RISK_FROM:.0%})",
            RiskBand.LOW: f"Low risk (win ≥ {LOW_RISK_FROM:.0%})",
            RiskBand.UNSCORED: "Not scored",
        }[self]


class Flag(StrEnum):
    """Warning signs on an open deal; each is a boolean column of `inspect_deals`."""

    STALE = "stale"
    NEXT_STEP_MISSING = "next_step_missing"
    NEXT_STEP_OVERDUE = "next_step_overdue"
    PUSHED = "pushed"
    AMOUNT_CUT = "amount_cut"

    @property
    def label(self) -> str:
        """The flag in words."""
        return {
            Flag.STALE: "Stale",
            Flag.NEXT_STEP_MISSING: "No next step",
            Flag.NEXT_STEP_OVERDUE: "Next step overdue",
            Flag.PUSHED: "Pushed",
            Flag.AMOUNT_CUT: "Amount cut",
        }[self]


DEFAULT_FLAG_PERCENTILE = 97.0
"""Stale and overdue thresholds default to this percentile of open deals (`flag_percentile`)."""
MIN_OVERDUE_DAYS = 14
DEFAULT_PUSHED_MIN_TIMES = 2
PUSHED_MAX_SHARE = 0.05
"""By default the pushed flag needs more pushes than DEFAULT_PUSHED_MIN_TIMES while more than
this share of open deals were pushed that often (a pipeline that pushes a lot)."""
DEFAULT_AMOUNT_CUT_MIN_PERCENT = 30.0
DEFAULT_MISSING_CLOSE_WITHIN_DAYS = 14
FLAG_RULES = (
    "Flags are calibrated so that, by default, about 15 % of open deals carry one: "
    "stale = no activity for more than the 97th percentile of days since activity of open "
    "deals, but at least `stale_after_days` (21); next step overdue = by more than the 97th "
    "percentile of days overdue, but at least 14 days; pushed = close date moved later at "
    "least 2 times; amount cut = at least 30 % below the highest amount it has had; no next "
    "step = none recorded and the close date is within 14 days (or past). Each is a workspace "
    "setting: `stale_after_days`, `flag_percentile`, `next_step_overdue_after_days`, "
    "`pushed_min_times`, `amount_cut_min_percent`, `next_step_missing_close_within_days`."
)
"""The flag rules in words, for page help."""


@dataclass(frozen=True)
class FlagThresholds:
    """The thresholds in effect for the warning flags (settings, or defaults computed from the
    open deals so that together they flag about 15 % of them)."""

    stale_after_days: int
    next_step_overdue_after_days: int
    pushed_min_times: int
    amount_cut_min_percent: float
    next_step_missing_close_within_days: int


def _setting(settings: dict[str, str], key: str) -> float | None:
    try:
        return float(settings[key])
    except (KeyError, ValueError):
        return None


def _percentile(values: np.ndarray, percentile: float) -> float:
    values = values[~np.isnan(values)]
    return float(np.percentile(values, percentile)) if values.size else 0.0


def flag_thresholds(deals: pd.DataFrame, settings: dict[str, str], today: dt.date
                    ) -> FlagThresholds:
    """The flag thresholds for open `deals` as of `today`: a setting when given, else the
    computed default. Stale: the `flag_percentile` (97) of days since activity, at least
    `stale_after_days` (21). Overdue: that percentile of days overdue among deals whose next
    step is overdue, at least 14 days. Pushed at least 2 times, amount cut by at least 30 %,
    no next step when closing within 14 days. Pushed at least 2 times, or more while over 5 %
    of open deals were pushed that often. Calibrated so that about 15 % of open deals carry a
    flag."""
    day = np.datetime64(today, "D")
    percentile = _setting(settings, "flag_percentile")
    percentile = DEFAULT_FLAG_PERCENTILE if percentile is None else min(max(percentile, 0), 100)
    floor = _setting(settings, "stale_after_days")
    floor = repo.DEFAULT_STALE_AFTER_DAYS if floor is None else max(floor, 0)
    idle = (day - deals["activity_reference_date"].to_numpy().astype("datetime64[D]")).astype(
        float)
    stale = max(floor, _percentile(idle, percentile) if percentile > 0 else 0)
    overdue = _setting(settings, "next_step_overdue_after_days")
    if overdue is None:
        late = (day - deals["next_step_date"].to_numpy().astype("datetime64[D]")).astype(float)
        overdue = max(MIN_OVERDUE_DAYS, _percentile(late[late > 0], percentile))
    pushed = _setting(settings, "pushed_min_times")
    if pushed is None and "pushes" in deals.columns:
        counts = deals["pushes"].to_numpy(dtype=float, na_value=0.0)
        pushed = DEFAULT_PUSHED_MIN_TIMES
        while len(counts) and (counts >= pushed).mean() > PUSHED_MAX_SHARE:
            pushed += 1
    cut = _setting(settings, "amount_cut_min_percent")
    within = _setting(settings, "next_step_missing_close_within_days")
    return FlagThresholds(
        stale_after_days=int(stale),
        next_step_overdue_after_days=max(int(overdue), 0),
        pushed_min_times=max(int(DEFAULT_PUSHED_MIN_TIMES if pushed is None else pushed), 1),
        amount_cut_min_percent=min(max(DEFAULT_AMOUNT_CUT_MIN_PERCENT if cut is None else cut,
                                       0.0), 100.0),
        next_step_missing_close_within_days=int(
            DEFAULT_MISSING_CLOSE_WITHIN_DAYS if within is None else within),
    )


def _frozen(values: Iterable[str] | None) -> frozenset[str]:
    return frozenset() if values is None else frozenset(str(v) for v in values)


@dataclass(frozen=True)
class DealFilters:
    """What to keep; an empty collection keeps everything. Flags must all hold (AND); the
    other filters keep a deal matching any of their values. Any iterable is accepted and
    frozen, so filters are hashable."""

    teams: frozenset[str] = frozenset()
    owner_ids: frozenset[str] = frozenset()
    stages: frozenset[str] = frozenset()
    close_quarter: FiscalQuarter | None = None
    risk_bands: frozenset[RiskBand] = frozenset()
    flags: frozenset[Flag] = frozenset()

    def __post_init__(self) -> None:
        object.__setattr__(self, "teams", _frozen(self.teams))
        object.__setattr__(self, "owner_ids", _frozen(self.owner_ids))
        object.__setattr__(self, "stages", _frozen(self.stages))
        object.__setattr__(self, "risk_bands", frozenset(RiskBand(b) for b in self.risk_bands))
        object.__setattr__(self, "flags", frozenset(Flag(f) for f in self.flags))


@dataclass(frozen=True)
class InspectionFacts:
    """Every open deal of a workspace (unscoped) with scores and history facts, and the
    settings inspection needs; cheap to keep and to copy (Arrow-backed columns)."""

    deals: pd.DataFrame
    stages: tuple[str, ...]
    """Stages in funnel order."""
    stale_after_days: int
    """Days without activity after which a deal is stale (the threshold in effect)."""
    fiscal_year_start_month: int
    has_model: bool
    version: str
    data_through: dt.datetime | None
    """The newest recorded change or activity (UTC): the moment the data describes."""
    thresholds: FlagThresholds | None = None
    """The flag thresholds in effect, computed as of `data_through`."""


@dataclass(frozen=True)
class FilterChoices:
    """Values the filters offer a user: only what lies in their scope."""

    teams: tuple[str, ...]
    reps: dict[str, str]
    """Rep id -> name, by name."""
    stages: tuple[str, ...]
    quarters: tuple[FiscalQuarter, ...]
    current_quarter: FiscalQuarter


DEAL_COLUMNS = [
    "opportunity_id", "deal", "account", "owner_id", "owner", "team", "amount_cents", "stage",
    "close_date", "close_date_estimated", "win_probability", "slip_probability", "risk_band",
    "reasons",
    "days_since_activity", "last_activity_date", "next_step", "next_step_date",
    *(flag.value for flag in Flag), "pushes",
]
"""Columns of `inspect_deals`, in order."""
DATE_COLUMNS = ("close_date", "activity_reference_date", "last_activity_date", "next_step_date")


def data_version(workspace: Workspace) -> str:
    """A text that changes when deals, their history or the active scores change (a cache key)."""
    return workspace.read(repo.data_version)


def _arrow_lists(kind: pa.DataType) -> pd.ArrowDtype | None:
    return pd.ArrowDtype(kind) if pa.types.is_list(kind) else None


def _risk_bands(win: pd.Series) -> np.ndarray:
    values = win.to_numpy(dtype=float, na_value=np.nan)
    return np.select(
        [np.isnan(values), values < HIGH_RISK_BELOW, values < LOW_RISK_FROM],
        [RiskBand.UNSCORED.value, RiskBand.HIGH.value, RiskBand.MEDIUM.value],
        RiskBand.LOW.value,
    )


def load_inspection_facts(workspace: Workspace) -> InspectionFacts:
    """Read every open deal with scores and history facts in one consistent snapshot."""
    def read(cur) -> InspectionFacts:
        deals = repo.open_deal_facts(cur).to_pandas(types_mapper=_arrow_lists,
                                                    date_as_object=False)
        for column in DATE_COLUMNS:
            deals[column] = deals[column].astype("datetime64[us]")
        deals["risk_band"] = pd.Series(_risk_bands(deals["win_probability"]), dtype="str")
        through = deal_models.latest_activity_time(cur)
        reference = today_utc() if through is None else through.date()
        thresholds = flag_thresholds(deals, repo.flag_settings(cur), reference)
        return InspectionFacts(
            deals=deals,
            stages=tuple(repo.open_stage_order(cur)),
            stale_after_days=thresholds.stale_after_days,
            fiscal_year_start_month=kpi_queries.fiscal_year_start_month(cur),
            has_model=repo.has_active_win_model(cur),
            version=repo.data_version(cur),
            data_through=through,
            thresholds=thresholds,
        )

    return workspace.read_snapshot(read)


def _isin(column: pd.Series, values: Iterable[str]) -> np.ndarray:
    return column.isin(list(values)).to_numpy(dtype=bool, na_value=False)


def inspect_deals(
    workspace: Workspace, viewer: User | None, filters: DealFilters, today: dt.date,
    *, facts: InspectionFacts | None = None,
) -> pd.DataFrame:
    """Open deals in the viewer's scope matching `filters`, largest first, flagged as of `today`.

    Flags, with the thresholds of `facts.thresholds` (see `flag_thresholds`): stale (no
    activity for more than the threshold, counted from the last activity date or, without one,
    the creation date), next step missing (blank, and the close date within the threshold's
    days of today or past), next step overdue (next-step date more than the threshold's days
    before today), pushed (close date moved later at least the threshold's times), amount cut
    (current amount at least the threshold's percent below the highest it has had). The
    `pushes` column counts every push. A filter naming a rep
    outside the viewer's scope returns no deals. Pass `facts` from `load_inspection_facts` to
    skip reading the workspace.
    """
    owners = readable_owner_ids(viewer, workspace.name)
    facts = load_inspection_facts(workspace) if facts is None else facts
    deals = facts.deals
    mask = np.ones(len(deals), dtype=bool)
    if owners is not None:
        mask &= _isin(deals["owner_id"], owners)
        if not filters.owner_ids <= owners:
            mask[:] = False
    for column, values in (("team", filters.teams), ("owner_id", filters.owner_ids),
                           ("stage", filters.stages),
                           ("risk_band", {band.value for band in filters.risk_bands})):
        if values:
            mask &= _isin(deals[column], values)
    if filters.close_quarter is not None:
        close = deals["close_date"].to_numpy()
        mask &= ((close >= np.datetime64(filters.close_quarter.start, "us"))
                 & (close <= np.datetime64(filters.close_quarter.end, "us")))
    day = np.datetime64(today, "D")
    idle = (day - deals["activity_reference_date"].to_numpy().astype("datetime64[D]")).astype(
        np.int64)
    limits = facts.thresholds or flag_thresholds(deals, {}, today)
    late = (day - deals["next_step_date"].to_numpy().astype("datetime64[D]")).astype(float)
    to_close = (deals["close_date"].to_numpy().astype("datetime64[D]") - day).astype(float)
    amount = deals["amount_cents"].to_numpy(dtype=float, na_value=np.nan)
    highest = deals["max_amount_cents"].to_numpy(dtype=float, na_value=np.nan)
    with np.errstate(invalid="ignore"):
        computed = {
            Flag.STALE: idle > facts.stale_after_days,
            Flag.NEXT_STEP_MISSING: deals["next_step_missing"].to_numpy(dtype=bool)
            & (to_close <= limits.next_step_missing_close_within_days),
            Flag.NEXT_STEP_OVERDUE: late > limits.next_step_overdue_after_days,
            Flag.PUSHED: deals["pushes"].to_numpy(dtype=np.int64)
            >= limits.pushed_min_times,
            Flag.AMOUNT_CUT: deals["amount_cut"].to_numpy(dtype=bool)
            & (amount <= highest * (1 - limits.amount_cut_min_percent / 100)),
        }
    for flag in filters.flags:
        mask &= computed[flag]
    rows = np.flatnonzero(mask)
    stored = [c for c in DEAL_COLUMNS if c in deals.columns]
    out = deals[stored].take(rows).reset_index(drop=True)
    out["days_since_activity"] = idle[rows]
    for flag, values in computed.items():
        out[flag.value] = values[rows]
    return out[DEAL_COLUMNS]


def filter_choices(
    workspace: Workspace, viewer: User | None, today: dt.date,
    *, facts: InspectionFacts | None = None,
) -> FilterChoices:
    """Teams, reps, stages and close quarters of the open deals the viewer may read."""
    owners = readable_owner_ids(viewer, workspace.name)
    facts = load_inspection_facts(workspace) if facts is None else facts
    deals = facts.deals
    if owners is not None:
        deals = deals[_isin(deals["owner_id"], owners)]
    reps = (deals[["owner_id", "owner"]].drop_duplicates("owner_id")
            .assign(owner=lambda f: f["owner"].fillna(f["owner_id"]))
            .sort_values(["owner", "owner_id"]))
    present = set(deals["stage"].dropna())
    start_month = facts.fiscal_year_start_month
    current = fiscal_quarter_of(today, start_month)
    quarters = {current}
    closes = deals["close_date"].dropna()
    if not closes.empty:
        quarter = fiscal_quarter_of(closes.min().date(), start_month)
        last = fiscal_quarter_of(closes.max().date(), start_month)
        while quarter <= last:
            quarters.add(quarter)
            quarter = quarter.next()
    return FilterChoices(
        teams=tuple(sorted(deals["team"].dropna().unique())),
        reps=dict(zip(reps["owner_id"], reps["owner"], strict=True)),
        stages=tuple(s for s in facts.stages if s in present),
        quarters=tuple(sorted(quarters)),
        current_quarter=current,
    )


FIELD_LABELS = {
    "created": "Created",
    "stage": "Stage",
    "amount": "Amount",
    "close_date": "Close date",
    "forecast_category": "Forecast category",
    "next_step": "Next step",
    "next_step_date": "Next-step date",
}
TIMELINE_COLUMNS = ["time", "kind", "what", "detail", "by"]
KIND_ORDER = {"Change": 0, "Activity": 1, "Note": 2}


def _money_text(value: object) -> str:
    try:
        return format_money(round(float(str(value))), compact=False)
    except ValueError:
        return str(value)


def _date_text(value: object) -> str:
    try:
        return dt.date.fromisoformat(str(value)[:10]).strftime("%d %b %Y")
    except ValueError:
        return str(value)


def _value_text(field_name: str, value: object) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return "(none)"
    if field_name == "amount":
        return _money_text(value)
    if field_name in ("close_date", "next_step_date"):
        return _date_text(value)
    return str(value)


def describe_change(field_name: str, old: object, new: object) -> str:
    """One history row in words: "$538,500 → $305,900", "27 Oct 2026 → 11 Dec 2026 (+45 days)"."""
    if field_name == "created":
        return "Deal created"
    text = f"{_value_text(field_name, old)} → {_value_text(field_name, new)}"
    if field_name == "close_date":
        try:
            days = (dt.date.fromisoformat(str(new)[:10])
                    - dt.date.fromisoformat(str(old)[:10])).days
        except ValueError:
            return text
        if days:
            text += f" ({days:+d} days)"
    return text


def _readable_deal(workspace: Workspace, viewer: User | None, opportunity_id: str) -> str:
    """The deal's owner id after checking the viewer may read the deal."""
    readable_owner_ids(viewer, workspace.name)
    owner = workspace.read(lambda cur: repo.deal_owner(cur, opportunity_id))
    if owner is None:
        raise RevPlanError(f"There is no deal with id {opportunity_id!r}.")
    if viewer is not None:
        require(viewer, Action.READ_DEAL, owner[0])
    return owner[0]


def deal_timeline(
    workspace: Workspace, viewer: User | None, opportunity_id: str
) -> pd.DataFrame:
    """Everything that happened to one deal, oldest first: field changes in words (amounts as
    money, dates as dates), activities and inspection notes.

    Columns: time (UTC), kind (Change, Activity or Note), what, detail, by. Raises
    AccessDeniedError for a deal outside the viewer's scope.
    """
    _readable_deal(workspace, viewer, opportunity_id)

    def read(cur) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
        return (repo.deal_changes(cur, opportunity_id), repo.deal_activities(cur, opportunity_id),
                repo.deal_notes(cur, opportunity_id))

    changes, activities, notes = workspace.read_snapshot(read)
    rows = [
        {"time": row.changed_at, "kind": "Change",
         "what": FIELD_LABELS.get(row.field, row.field.replace("_", " ").capitalize()),
         "detail": describe_change(row.field, row.old_value, row.new_value),
         "by": row.changed_by}
        for row in changes.itertuples()
    ]
    rows += [
        {"time": row.occurred_at, "kind": "Activity", "what": str(row.kind).capitalize(),
         "detail": f"{str(row.kind).capitalize()} logged", "by": row.owner}
        for row in activities.itertuples()
    ]
    rows += [
        {"time": row.created_at, "kind": "Note", "what": "Inspection note", "detail": row.body,
         "by": row.author}
        for row in notes.itertuples()
    ]
    if not rows:
        return pd.DataFrame(columns=TIMELINE_COLUMNS)
    frame = pd.DataFrame(rows, columns=TIMELINE_COLUMNS)
    frame["order"] = frame["kind"].map(KIND_ORDER)
    frame = frame.sort_values(["time", "order"], kind="stable").drop(columns="order")
    return frame.reset_index(drop=True)


def add_inspection_note(
    workspace: Workspace, user: User, opportunity_id: str, body: str
) -> int:
    """Store a note on a deal the user may read and annotate, with its audit event; returns the
    note id. Raises RevPlanError for an empty or overlong note, AccessDeniedError without the
    right."""
    require(user, Action.ADD_NOTE)
    owner = _readable_deal(workspace, user, opportunity_id)
    text = (body or "").strip()
    if not text:
        raise RevPlanError("The note is empty: write what you found before saving it.")
    if len(text) > MAX_NOTE_LENGTH:
        raise RevPlanError(
            f"The note has {len(text):,} characters; at most {MAX_NOTE_LENGTH:,} are allowed."
        )

    def change(cur) -> int:
        created = now_utc()
        note_id = repo.insert_note(cur, opportunity_id, user.email, created, text)
        role = user.primary_role
        audit.record(
            cur, actor=user.email, actor_role=None if role is None else role.value,
            action="inspection_note.add", entity="opportunity", entity_id=opportunity_id,
            after={"note_id": note_id, "owner_id": owner, "body": text},
        )
        return note_id

    return workspace.write(change)


class Bucket(StrEnum):
    """Where a deal's change of open pipeline lands in the waterfall."""

    NEW = "new"
    INCREASED = "increased"
    DECREASED = "decreased"
    PULLED_IN = "pulled_in"
    PUSHED_OUT = "pushed_out"
    WON = "won"
    LOST = "lost"

    @property
    def label(self) -> str:
        """The bucket in words."""
        return {
            Bucket.NEW: "New deals",
            Bucket.INCREASED: "Amount increased",
            Bucket.DECREASED: "Amount decreased",
            Bucket.PULLED_IN: "Pulled in",
            Bucket.PUSHED_OUT: "Pushed out",
            Bucket.WON: "Won",
            Bucket.LOST: "Lost",
        }[self]


@dataclass(frozen=True)
class WaterfallBucket:
    """One bar of the waterfall: signed change in cents and the number of deals behind it."""

    bucket: Bucket
    cents: int
    deals: int

    @property
    def label(self) -> str:
        """The bucket in words."""
        return self.bucket.label


@dataclass(frozen=True)
class Waterfall:
    """Open pipeline at two moments and the change between them, bucket by bucket.

    `start_cents + sum(bucket cents) == end_cents` holds exactly. `moves` has one row per deal
    that contributed: opportunity_id, owner_id, start_cents, end_cents, amount_change_cents
    (into increased or decreased), movement (bucket name or empty) and movement_cents.
    """

    start: dt.datetime
    end: dt.datetime
    quarter: FiscalQuarter | None
    start_cents: int
    end_cents: int
    start_deals: int
    end_deals: int
    buckets: tuple[WaterfallBucket, ...]
    moves: pd.DataFrame = field(repr=False)

    @property
    def change_cents(self) -> int:
        """End minus start."""
        return self.end_cents - self.start_cents

    def cents(self, bucket: Bucket | str) -> int:
        """The signed change of one bucket."""
        return next(b.cents for b in self.buckets if b.bucket == Bucket(bucket))


def _utc_naive(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(dt.UTC).replace(tzinfo=None)


def pipeline_waterfall(
    workspace: Workspace, viewer: User | None, start: dt.datetime, end: dt.datetime,
    quarter: FiscalQuarter | None,
) -> Waterfall:
    """How open pipeline moved from `start` to `end` (UTC; naive values are read as UTC).

    Pipeline at a moment: deals in the viewer's scope (by current owner) open at that moment
    whose close date then lies in `quarter` (every open deal when `quarter` is None), summed at
    their amount then. Amounts and close dates at a moment are rebuilt from
    `opportunity_history` (the new value of the field's last change at or before the moment,
    else the old value of its first change after it, else the current value). A deal is open
    from its creation until its `closed_at`.

    Each deal lands in the buckets by these rules, so start + all buckets == end to the cent:

    - in the pipeline at both moments: end amount − start amount goes to *increased* (if
      positive) or *decreased* (if negative);
    - at start only: end amount − start amount goes to increased or decreased, and minus the
      end amount goes to *won* or *lost* if the deal closed by `end` (whatever its close date
      did), otherwise to *pushed out* (its close date left the quarter);
    - at end only: plus the end amount goes to *new* if the deal was created after `start`,
      otherwise to *pulled in* (it was open at start with a close date outside the quarter).

    Pulled in and pushed out are named for the usual direction; they count any close-date move
    into or out of the quarter.
    """
    start, end = _utc_naive(start), _utc_naive(end)
    if start >= end:
        raise RevPlanError("The waterfall's start must come before its end.")
    owners = readable_owner_ids(viewer, workspace.name)
    deals = workspace.read_snapshot(lambda cur: repo.deals_between(
        cur, start, end, None if owners is None else sorted(owners)))
    created = deals["created_at"].to_numpy()
    closed = deals["closed_moment"].to_numpy()
    start64, end64 = np.datetime64(start, "us"), np.datetime64(end, "us")

    def in_pipeline(moment: np.datetime64, close: pd.Series) -> np.ndarray:
        open_then = (created <= moment) & (np.isnat(closed) | (closed > moment))
        if quarter is None:
            return open_then
        dates = close.to_numpy()
        inside = ((dates >= np.datetime64(quarter.start, "us"))
                  & (dates <= np.datetime64(quarter.end, "us")))
        return open_then & inside

    at_start = in_pipeline(start64, deals["start_close_date"])
    at_end = in_pipeline(end64, deals["end_close_date"])
    a0 = deals["start_amount_cents"].to_numpy(dtype=np.int64)
    a1 = deals["end_amount_cents"].to_numpy(dtype=np.int64)
    closed_by_end = ~np.isnat(closed) & (closed <= end64)
    status = deals["status"].to_numpy(dtype=object)

    amount_change = np.where(at_start, a1 - a0, 0)
    movement_cents = np.select(
        [at_start & ~at_end, ~at_start & at_end], [-a1, a1], 0).astype(np.int64)
    movement = np.select(
        [at_start & ~at_end & closed_by_end & (status == "won"),
         at_start & ~at_end & closed_by_end,
         at_start & ~at_end,
         ~at_start & at_end & (created > start64),
         ~at_start & at_end],
        [Bucket.WON.value, Bucket.LOST.value, Bucket.PUSHED_OUT.value, Bucket.NEW.value,
         Bucket.PULLED_IN.value],
        "",
    )
    moves = pd.DataFrame({
        "opportunity_id": deals["opportunity_id"],
        "owner_id": deals["owner_id"],
        "start_cents": np.where(at_start, a0, 0),
        "end_cents": np.where(at_end, a1, 0),
        "amount_change_cents": amount_change,
        "movement": movement,
        "movement_cents": movement_cents,
    })[at_start | at_end].reset_index(drop=True)
    buckets = []
    for bucket in Bucket:
        if bucket is Bucket.INCREASED:
            chosen = moves["amount_change_cents"] > 0
            cents = moves.loc[chosen, "amount_change_cents"]
        elif bucket is Bucket.DECREASED:
            chosen = moves["amount_change_cents"] < 0
            cents = moves.loc[chosen, "amount_change_cents"]
        else:
            chosen = moves["movement"] == bucket.value
            cents = moves.loc[chosen, "movement_cents"]
        buckets.append(WaterfallBucket(bucket, int(cents.sum()), int(chosen.sum())))
    return Waterfall(
        start=start, end=end, quarter=quarter,
        start_cents=int(moves["start_cents"].sum()), end_cents=int(moves["end_cents"].sum()),
        start_deals=int(at_start.sum()), end_deals=int(at_end.sum()),
        buckets=tuple(buckets), moves=moves,
    )
