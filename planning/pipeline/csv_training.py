"""A win-probability model trained on one flat opportunity export, without a workspace.

Any CRM's opportunity CSV works: a recognised Salesforce or HubSpot export, or any file through
an import mapping (docs/IMPORT.md). Values are read and checked exactly as an import reads
them; rows that fail a check are counted by reason and left out. Closed deals (won or lost)
are sorted by close date; the model trains on the older 75 % and is evaluated on the newest
25 %.

A flat export has no history, so every feature is something known when the deal was created:
its amount when mapped (against the median of deals created before it), the owner's and the
account's record on deals whose outcome was known before it was created, when it was created,
and its type and product when mapped. Nothing about the deal's own stage, close date or cycle
length goes in; its status is only the label. A deal's outcome counts as known from the end of
its close date (or from `closed_at` when the export has it). Before fitting, the leakage guard
(`planning.pipeline.leakage`) leaves out any feature that gives the outcome away on the
training deals, such as a booked value that is 0 on every lost deal.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import brier_score_loss, roc_auc_score

from planning.clock import now_utc
from planning.errors import RevPlanError
from planning.ingest import reasons
from planning.ingest.csvfile import RawFile, fail, read_csv_file
from planning.ingest.errors import MappingError
from planning.ingest.fields import OPPORTUNITIES
from planning.ingest.formats import FileBinding, binding_for, detect_format
from planning.ingest.mapping import MappingFile, load_mapping
from planning.ingest.normalize import Context, prepare
from planning.ingest.run import refuse_repeated_columns
from planning.pipeline.leakage import DEAL_FEATURE_SOURCES, without_leaks
from planning.progress import ProgressCallback, no_progress

TEST_SHARE = 0.25
MIN_CLOSED_DEALS = 100
PRIOR_DEALS = 4.0
"""Strength of the pull of an owner's or account's win rate toward the company's rate so far."""
AMOUNT_FEATURES = ("amount", "log_amount", "amount_vs_median", "amount_vs_owner_median")
"""Features built from the amount: absent when the export maps no amount."""
NUMERIC_FEATURES = (
    *AMOUNT_FEATURES, "owner_win_rate",
    "owner_closed_before", "account_win_rate", "account_closed_before", "created_month",
    "created_weekday",
)
OPTIONAL_CATEGORICAL = ("type", "product_id")
"""Categorical features used when the export maps them."""
FRAME_COLUMNS = ("opportunity_id", "account_id", "owner_id", "stage", "status", "amount_cents",
                 "created_at", "close_date", "closed_at")


@dataclass
class CsvDeals:
    """The valid rows of an opportunity export and what was left out."""

    frame: pd.DataFrame
    """One row per valid deal: FRAME_COLUMNS plus the mapped optional categoricals."""
    file: str
    read_as: str
    rows_read: int
    rows_rejected: int
    rejected_by_reason: dict[str, int]
    categorical: tuple[str, ...]
    has_amount: bool = True
    """False when the export maps no amount: the amount features are then absent."""


def _opportunity_binding(raw: RawFile, mapping: MappingFile | None) -> FileBinding:
    """The file's binding to opportunities: by the mapping's opportunities entry, else by its
    recognised export format."""
    if mapping is not None:
        entries = tuple(e for e in mapping.entries if e.entity is OPPORTUNITIES)
        if not entries:
            raise MappingError(f"{mapping.name}: no mapping has entity = \"opportunities\"")
        scoped = MappingFile(mapping.name, entries)
        entry = scoped.entry_for(raw.name, raw.header)
        if entry is None:
            closest = scoped.closest_entry(raw.header)
            lacking = (f"the header lacks {', '.join(closest.missing_headers(raw.header))}"
                       if closest is not None else "no files pattern names it")
            raise fail(raw.name, f"mapping {mapping.name} does not apply to it ({lacking})")
        missing = entry.missing_headers(raw.header)
        if missing:
            raise fail(raw.name, f"the column(s) {', '.join(missing)} named in mapping "
                                 f"{mapping.name} are not in the header")
        return scoped.binding(entry, raw.header)
    found = detect_format(raw.header)
    if found is None or found[0].entity is not OPPORTUNITIES:
        raise fail(raw.name, "the header is not a recognised opportunity export (Salesforce "
                             "Opportunity or HubSpot deals); pass a column-mapping file (see "
                             "docs/IMPORT.md)")
    return binding_for(*found)


def _check_columns(raw: RawFile, binding: FileBinding) -> None:
    missing = [name for name in OPPORTUNITIES.required if name not in binding.columns]
    if missing:
        raise fail(raw.name, f"read as {binding.label} but no column gives "
                             f"{', '.join(missing)}; a deal model needs them")
    refuse_repeated_columns(raw, binding)


def read_opportunity_csv(csv_path: Path, mapping_path: Path | None = None, *,
                         currency: str = "USD", now: dt.datetime | None = None) -> CsvDeals:
    """Read an opportunity export into clean, typed rows, as an import would check them.

    Raises ImportFileError or MappingError for a file or mapping that cannot be used at all.
    """
    csv_path = Path(csv_path)
    raw = read_csv_file(csv_path, csv_path.name)
    mapping = load_mapping(Path(mapping_path)) if mapping_path is not None else None
    binding = _opportunity_binding(raw, mapping)
    forced = binding.options.delimiter
    if forced and forced != raw.delimiter:
        raw = read_csv_file(csv_path, csv_path.name, delimiter=forced)
        binding = _opportunity_binding(raw, mapping)
    _check_columns(raw, binding)
    moment = now or now_utc()
    prepared = prepare(raw, binding, Context(currency=currency.upper(), now=moment))

    problems = prepared.problems
    rejected_rows = problems.rows(prepared.size)
    by_reason: dict[str, set[int]] = {}
    for rows, reason in zip(problems.positions, problems.reasons, strict=True):
        by_reason.setdefault(reason, set()).update(int(r) for r in rows)
    counts = {reason: len(rows) for reason, rows in sorted(by_reason.items())}
    if raw.ragged:
        counts[reasons.WRONG_FIELD_COUNT] = len(raw.ragged)

    values = prepared.values
    categorical = tuple(c for c in OPTIONAL_CATEGORICAL if c in binding.columns)
    has_amount = "amount" in binding.columns
    amount = values["amount"] if has_amount else pa.nulls(prepared.size, pa.int64())
    closed_at = (values["closed_at"] if "closed_at" in binding.columns
                 else pa.nulls(prepared.size, pa.timestamp("us")))
    table = pa.table({
        "opportunity_id": values["opportunity_id"], "account_id": values["account_id"],
        "owner_id": values["owner_id"], "stage": values["stage"], "status": values["status"],
        "amount_cents": amount, "created_at": values["created_at"],
        "close_date": values["close_date"], "closed_at": closed_at,
        **{c: values[c] for c in categorical},
    }).filter(pa.array(~rejected_rows))
    frame = table.to_pandas(date_as_object=False)[[*FRAME_COLUMNS, *categorical]]
    for column in ("created_at", "close_date", "closed_at"):
        frame[column] = frame[column].astype("datetime64[us]")
    frame["amount_cents"] = frame["amount_cents"].astype("Int64")
    return CsvDeals(frame=frame, file=raw.name, read_as=binding.label,
                    rows_read=raw.records, rows_rejected=int(rejected_rows.sum())
                    + len(raw.ragged), rejected_by_reason=counts, categorical=categorical,
                    has_amount=has_amount)


def outcome_known_at(deals: pd.DataFrame) -> pd.Series:
    """When each closed deal's outcome became known: `closed_at` when given, else the end of
    its close date; NaT for open deals."""
    closed = deals["status"].isin(["won", "lost"])
    end_of_close_day = deals["close_date"] + pd.Timedelta(days=1)
    known = deals["closed_at"].where(deals["closed_at"].notna(), end_of_close_day)
    return known.where(closed)


def _record_before(deals: pd.DataFrame, known_at: pd.Series, key: str | None
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Per deal, closed deals (and wins among them) of the same `key` (all deals when None)
    whose outcome was known strictly before the deal was created; never the deal itself."""
    closed = known_at.notna()
    won = (deals["status"] == "won").astype(float)
    history = pd.DataFrame({
        "group": "" if key is None else deals.loc[closed, key].astype(str),
        "moment": known_at[closed], "won": won[closed], "one": 1.0,
    })
    history = history.groupby(["group", "moment"], as_index=False)[["one", "won"]].sum()
    history["closed_cum"] = history.groupby("group")["one"].cumsum()
    history["won_cum"] = history.groupby("group")["won"].cumsum()
    history = history.sort_values("moment", kind="stable")
    queries = pd.DataFrame({
        "group": "" if key is None else deals[key].astype(str),
        "moment": deals["created_at"], "row": np.arange(len(deals)),
    }).sort_values("moment", kind="stable")
    matched = pd.merge_asof(
        queries, history[["group", "moment", "closed_cum", "won_cum"]], on="moment",
        by="group", direction="backward", allow_exact_matches=False,
    ).sort_values("row")
    itself = (closed & (known_at < deals["created_at"])).to_numpy()
    count = matched["closed_cum"].fillna(0).to_numpy(dtype=float) - itself
    wins = (matched["won_cum"].fillna(0).to_numpy(dtype=float)
            - (itself & (deals["status"] == "won").to_numpy()))
    return count, wins


def _median_before(deals: pd.DataFrame, key: str | None = None) -> np.ndarray:
    """Per deal, the median amount of the deals (of the same `key`, or all) created strictly
    before it; NaN when there are none."""
    amounts = deals["amount_cents"].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    ordered = pd.DataFrame({
        "group": "" if key is None else deals[key].astype(str).to_numpy(),
        "created": deals["created_at"].to_numpy(), "amount": amounts,
        "row": np.arange(len(deals)),
    }).sort_values(["group", "created"], kind="stable")
    running = ordered.groupby("group", sort=False)["amount"].transform(
        lambda s: s.expanding().median().shift(1)).to_numpy()
    group = ordered["group"].to_numpy()
    created = ordered["created"].to_numpy()
    starts = np.ones(len(ordered), dtype=bool)
    starts[1:] = (group[1:] != group[:-1]) | (created[1:] != created[:-1])
    block = np.cumsum(starts) - 1
    out = np.empty(len(deals))
    out[ordered["row"].to_numpy()] = running[np.flatnonzero(starts)][block]
    return out


def creation_features(deals: pd.DataFrame, categorical: tuple[str, ...] = (),
                      with_amount: bool = True) -> pd.DataFrame:
    """The model inputs of every deal, from what was known when it was created.

    Reads the deals' ids, owners, accounts, amounts (unless `with_amount` is False: then the
    amount features are absent), creation times, the mapped categoricals, and for the history
    of other deals their status and when it became known.
    """
    known_at = outcome_known_at(deals)
    company_count, company_wins = _record_before(deals, known_at, None)
    company_rate = (company_wins + 1.0) / (company_count + 2.0)
    amount = deals["amount_cents"].astype("Float64").to_numpy(dtype=float, na_value=np.nan) / 100
    with np.errstate(divide="ignore", invalid="ignore"):
        features = pd.DataFrame({
            "amount": amount,
            "log_amount": np.log1p(np.clip(amount, 0, None)),
            "amount_vs_median": amount * 100 / _median_before(deals),
            "amount_vs_owner_median": amount * 100 / _median_before(deals, "owner_id"),
        }, index=deals.index)
    for key, prefix in (("owner_id", "owner"), ("account_id", "account")):
        count, wins = _record_before(deals, known_at, key)
        features[f"{prefix}_win_rate"] = ((wins + PRIOR_DEALS * company_rate)
                                          / (count + PRIOR_DEALS))
        features[f"{prefix}_closed_before"] = count
    features["created_month"] = deals["created_at"].dt.month.astype(float).to_numpy()
    features["created_weekday"] = deals["created_at"].dt.day_of_week.astype(float).to_numpy()
    numeric = [c for c in NUMERIC_FEATURES if with_amount or c not in AMOUNT_FEATURES]
    features = features[numeric].replace([np.inf, -np.inf], np.nan)
    for column in categorical:
        features[column] = deals[column].fillna("").astype(str).to_numpy()
    return features


@dataclass
class CsvTrainingReport:
    """What a training run on an export used and how well the model did on newer deals."""

    file: str
    read_as: str
    rows_read: int
    rows_rejected: int
    rejected_by_reason: dict[str, int]
    rows_open: int
    rows_train: int
    rows_test: int
    train_from: str
    train_to: str
    test_from: str
    test_to: str
    train_base_rate: float
    test_base_rate: float
    auc: float
    brier: float
    base_rate_brier: float
    features: list[str]
    importance: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    dropped_features: list[str] = field(default_factory=list)
    """Features the leakage guard left out."""
    leaks: list[dict[str, object]] = field(default_factory=list)
    """Each left-out feature with the rule it broke, its AUC and the evidence in words."""

    def to_dict(self) -> dict[str, object]:
        """Plain JSON-ready values."""
        return asdict(self)

    def to_text(self) -> str:
        """A few lines for people."""
        rejected = ", ".join(f"{reason} {count:,}"
                             for reason, count in self.rejected_by_reason.items())
        lines = [
            f"Read {self.rows_read:,} rows of {self.file} ({self.read_as}); "
            f"{self.rows_rejected:,} rejected" + (f" ({rejected})" if rejected else "")
            + f", {self.rows_open:,} still open and left out.",
            f"Trained on {self.rows_train:,} deals closing {self.train_from}..{self.train_to} "
            f"(win rate {self.train_base_rate:.1%}); tested on {self.rows_test:,} deals closing "
            f"{self.test_from}..{self.test_to} (win rate {self.test_base_rate:.1%}).",
            f"Held-out AUC {self.auc:.3f}, Brier {self.brier:.4f} (base-rate Brier "
            f"{self.base_rate_brier:.4f}).",
            "Features known at creation: " + ", ".join(self.features) + ".",
        ]
        lines += [f"Warning: {leak['message']}." for leak in self.leaks]
        return "\n".join(lines)


def _categorised(features: pd.DataFrame, categories: dict[str, list[str]]) -> pd.DataFrame:
    out = features.copy()
    for column, known in categories.items():
        out[column] = pd.Categorical(out[column], categories=known)
    return out


def _importance(model: HistGradientBoostingClassifier, data: pd.DataFrame, labels: np.ndarray,
                seed: int) -> dict[str, float]:
    """AUC lost on the held-out deals when each feature is shuffled."""
    rng = np.random.default_rng(seed)
    base = roc_auc_score(labels, model.predict_proba(data)[:, 1])
    out = {}
    for column in data.columns:
        shuffled = data.copy()
        shuffled[column] = shuffled[column].to_numpy()[rng.permutation(len(shuffled))]
        if isinstance(data[column].dtype, pd.CategoricalDtype):
            shuffled[column] = pd.Categorical(shuffled[column],
                                              categories=data[column].cat.categories)
        out[column] = round(float(base - roc_auc_score(
            labels, model.predict_proba(shuffled)[:, 1])), 4)
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def _rejected_note(deals: CsvDeals) -> str:
    """What a refusal adds when rows were rejected: how many, and the most frequent reason."""
    if not deals.rows_rejected:
        return ""
    reason, count = max(deals.rejected_by_reason.items(), key=lambda item: item[1])
    return (f" {deals.rows_rejected:,} of {deals.rows_read:,} rows of {deals.file} were "
            f"rejected, most as {reason} ({count:,}).")


def train_from_csv(csv_path: Path, mapping_path: Path | None = None, *, currency: str = "USD",
                   seed: int = 7, progress: ProgressCallback = no_progress
                   ) -> CsvTrainingReport:
    """Train and evaluate a win-probability model on an opportunity export (see module doc)."""
    started = time.perf_counter()
    progress(0.05, "reading and checking the export")
    deals = read_opportunity_csv(csv_path, mapping_path, currency=currency)
    frame = deals.frame
    closed = frame["status"].isin(["won", "lost"]).to_numpy()
    if closed.sum() < MIN_CLOSED_DEALS:
        raise RevPlanError(f"The export has {int(closed.sum())} valid closed deals; at least "
                           f"{MIN_CLOSED_DEALS} are needed to train and test a model."
                           f"{_rejected_note(deals)}")
    progress(0.3, "building features known at deal creation")
    features = creation_features(frame, deals.categorical, with_amount=deals.has_amount)
    order = frame.loc[closed].sort_values(["close_date", "created_at", "opportunity_id"],
                                          kind="stable").index
    cut = int(len(order) * (1 - TEST_SHARE))
    train_index, test_index = order[:cut], order[cut:]
    labels = (frame["status"] == "won").to_numpy(dtype=int)
    y_train, y_test = labels[train_index], labels[test_index]
    if y_train.min() == y_train.max() or y_test.min() == y_test.max():
        raise RevPlanError("The training or the test deals all have the same outcome; a win "
                           "model needs both won and lost deals in each.")
    kept, leaks = without_leaks(features.loc[train_index], y_train,
                                sources=DEAL_FEATURE_SOURCES)
    features = features[list(kept.columns)]
    categories = {c: sorted(features.loc[train_index, c].unique().tolist())
                  for c in deals.categorical if c in features.columns}
    x_train = _categorised(features.loc[train_index], categories)
    x_test = _categorised(features.loc[test_index], categories)

    progress(0.45, "training the win-probability model")
    model = HistGradientBoostingClassifier(
        max_iter=100, learning_rate=0.05, max_depth=3,
        min_samples_leaf=max(10, min(80, len(train_index) // 30)),
        l2_regularization=1.0, categorical_features="from_dtype", random_state=seed,
    )
    model.fit(x_train, y_train)
    progress(0.8, "evaluating on the newest deals")
    predicted = model.predict_proba(x_test)[:, 1]
    base_rate = float(y_train.mean())
    importance = _importance(model, x_test, y_test, seed)
    progress(1.0, "done")

    def day(index: pd.Index, pick: str) -> str:
        return str(getattr(frame.loc[index, "close_date"], pick)().date())

    return CsvTrainingReport(
        file=deals.file, read_as=deals.read_as, rows_read=deals.rows_read,
        rows_rejected=deals.rows_rejected, rejected_by_reason=deals.rejected_by_reason,
        rows_open=int((~closed).sum()), rows_train=len(train_index), rows_test=len(test_index),
        train_from=day(train_index, "min"), train_to=day(train_index, "max"),
        test_from=day(test_index, "min"), test_to=day(test_index, "max"),
        train_base_rate=round(base_rate, 4), test_base_rate=round(float(y_test.mean()), 4),
        auc=round(float(roc_auc_score(y_test, predicted)), 4),
        brier=round(float(brier_score_loss(y_test, predicted)), 4),
        base_rate_brier=round(float(brier_score_loss(y_test, np.full(len(y_test), base_rate))),
                              4),
        features=list(features.columns), importance=importance,
        seconds=round(time.perf_counter() - started, 2),
        dropped_features=[leak.feature for leak in leaks],
        leaks=[leak.to_dict() for leak in leaks],
    )
