"""A churn model trained and evaluated on one account-level churn table, without a workspace.

Any table with one row per account, a churn label column and mixed numeric and categorical
columns works, through a small TOML mapping file (see `data/samples/telco_churn_mapping.toml`):

    id = "customerID"                  # optional; must be unique, never a feature
    [label]
    column = "Churn"
    positive = ["Yes"]                 # values meaning "churned" (case and spaces ignored)
    negative = ["No"]                  # optional; when given, any other label is an error
    [columns]                          # optional; unlisted columns are inferred
    numeric = ["tenure", "TotalCharges"]
    categorical = ["Contract"]
    ignore = ["Notes"]

Cells are read as an import reads them (`planning.ingest.csvfile`, `planning.ingest.values`):
blanks and stand-ins such as "N/A" are missing, numbers may carry currency symbols and thousands
separators ("$1,234.50"), a trailing "%" ("12%") or be written yes/no (1/0). Rows with a blank
label are left out and counted.

The table is split into stratified 25 % hold-outs, one per seed. On each, two models are fitted
on the training rows and scored on the held-out ones:

- the churn model: numeric columns with missing-value indicators and, for columns never
  negative in training, their log1p, standardised; categoricals one-hot (rare levels pooled,
  levels unseen in training score as none of the known ones); an L2 logistic regression whose
  strength is chosen by 5-fold cross-validated log loss on the training rows;
- the plain baseline: median-filled, standardised numeric columns and one-hot categoricals into
  an unregularised-by-choice (C = 1) logistic regression, so the gain is measured, not assumed.

Before fitting, the leakage guard (`planning.pipeline.leakage.find_leaks`) leaves out columns
that give the label away on the training rows (a churn reason filled only for churners).
"""

from __future__ import annotations

import time
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, LogisticRegressionCV
from sklearn.metrics import brier_score_loss, roc_auc_score
from sklearn.model_selection import StratifiedKFold, train_test_split
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

from planning.errors import RevPlanError
from planning.ingest import reasons
from planning.ingest.csvfile import RawFile, read_csv_file
from planning.ingest.values import FALSE_WORDS, TRUE_WORDS, clean, mask_of, read_numbers
from planning.pipeline.leakage import find_leaks
from planning.progress import ProgressCallback, no_progress

TEST_SHARE = 0.25
DEFAULT_SEEDS = (0, 1, 2, 3, 4)
MIN_ROWS = 40
"""Fewer labelled rows than this cannot be split into a meaningful training and test set."""
MIN_CLASS_ROWS = 8
"""Each class (churned, stayed) needs this many labelled rows."""
MISSING_TOKENS = ("na", "n/a", "nan", "null", "none", "-", "?", "#n/a")
"""Cell values read as missing, besides blanks (compared without case)."""
MAX_INFERRED_LEVELS = 50
"""An unlisted text column with more distinct values than this (and than 5 % of the rows) is
free text or an identifier, not a category: it is ignored and reported."""
RARE_LEVEL_ROWS = 5
"""Categorical levels on fewer training rows than this are pooled into one level."""
REGULARISATION_GRID = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0)
"""Inverse L2 strengths the churn model chooses from by cross-validated log loss."""
TOP_FEATURES = 10
MAPPING_KEYS = {"id", "label", "columns"}
LABEL_KEYS = {"column", "positive", "negative"}
COLUMN_KEYS = {"numeric", "categorical", "ignore"}


class ChurnTableError(RevPlanError):
    """The churn table or its mapping cannot be used; the message names what to change."""


@dataclass(frozen=True)
class ChurnMapping:
    """How to read a churn table: its id and label columns and the kind of every column."""

    name: str
    label_column: str
    positive: tuple[str, ...]
    negative: tuple[str, ...] = ()
    id_column: str | None = None
    numeric: tuple[str, ...] = ()
    categorical: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()


def _folded(value: str) -> str:
    return " ".join(value.split()).casefold()


def _text_list(name: str, key: str, value: object) -> tuple[str, ...]:
    """A TOML string or list of strings as a tuple; anything else is a mapping error."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ChurnTableError(f"{name}: {key} must be a text or a list of texts")
    return tuple(v.strip() for v in value)


def _unknown_keys(name: str, where: str, given: dict, known: set[str]) -> None:
    extra = sorted(set(given) - known)
    if extra:
        raise ChurnTableError(f"{name}: unknown key(s) {', '.join(extra)} in {where}; "
                              f"known: {', '.join(sorted(known))}")


def load_churn_mapping(path: Path) -> ChurnMapping:
    """Read and check a churn mapping file (format in the module doc)."""
    path = Path(path)
    name = path.name
    if not path.is_file():
        raise ChurnTableError(f"{name}: mapping file not found")
    try:
        content = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ChurnTableError(f"{name}: not valid TOML ({exc})") from None
    _unknown_keys(name, "the mapping", content, MAPPING_KEYS)
    label = content.get("label")
    if not isinstance(label, dict) or "column" not in label or "positive" not in label:
        raise ChurnTableError(f"{name}: add a [label] table with column = \"...\" and "
                              "positive = [\"...\"] (the values meaning churned)")
    _unknown_keys(name, "[label]", label, LABEL_KEYS)
    label_column = _text_list(name, "label.column", label["column"])
    positive = _text_list(name, "label.positive", label["positive"])
    negative = _text_list(name, "label.negative", label.get("negative", []))
    both = sorted({_folded(v) for v in positive} & {_folded(v) for v in negative})
    if both:
        raise ChurnTableError(f"{name}: label value(s) {', '.join(both)} are both positive "
                              "and negative")
    id_column = content.get("id")
    if id_column is not None and (not isinstance(id_column, str) or not id_column.strip()):
        raise ChurnTableError(f"{name}: id must be the name of the id column")
    columns = content.get("columns", {})
    if not isinstance(columns, dict):
        raise ChurnTableError(f"{name}: columns must be a table ([columns])")
    _unknown_keys(name, "[columns]", columns, COLUMN_KEYS)
    kinds = {key: _text_list(name, f"columns.{key}", columns.get(key, []))
             for key in sorted(COLUMN_KEYS)}
    seen: dict[str, str] = {}
    reserved = {label_column[0]: "the label", **({id_column.strip(): "the id"}
                                                 if id_column else {})}
    for key, listed in kinds.items():
        for column in listed:
            if column in reserved:
                raise ChurnTableError(f"{name}: {column} is {reserved[column]} column; remove "
                                      f"it from columns.{key}")
            if column in seen:
                raise ChurnTableError(f"{name}: {column} is listed in both columns."
                                      f"{seen[column]} and columns.{key}")
            seen[column] = key
    return ChurnMapping(name=name, label_column=label_column[0], positive=positive,
                        negative=negative, id_column=id_column.strip() if id_column else None,
                        numeric=kinds["numeric"], categorical=kinds["categorical"],
                        ignore=kinds["ignore"])


@dataclass
class ChurnTable:
    """The labelled rows of a churn table, typed, and how each column is used."""

    file: str
    features: pd.DataFrame
    """One row per labelled account: numeric columns as float (NaN = missing), categorical
    columns as text ("" = missing), indexed by the account id when the mapping names one."""
    label: np.ndarray
    """1 = churned, 0 = stayed."""
    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    ignored: dict[str, str] = field(default_factory=dict)
    """Columns not used, with why."""
    rows_read: int = 0
    rows_unlabelled: int = 0
    rows_ragged: int = 0


def _where(raw: RawFile, row: int, column: str) -> str:
    return f"{raw.name}, line {int(raw.lines[row])}, column {column}"


def parse_numeric_cells(cells: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Numbers from text cells: floats (NaN where missing) and a mask of unreadable cells.

    Reads "1,234.50", "$1,234.50", "(300)", "1.5e6", "12%" (as 12) and yes/no, true/false
    (as 1 and 0); blanks and MISSING_TOKENS are missing.
    """
    cells = clean(cells.cast(pa.string()), MISSING_TOKENS)
    lower = pc.utf8_lower(cells)
    truth = mask_of(pc.is_in(lower, value_set=pa.array(TRUE_WORDS)))
    falsity = mask_of(pc.is_in(lower, value_set=pa.array(FALSE_WORDS)))
    worded = (truth | falsity) & ~mask_of(pc.match_substring_regex(cells, r"^[0-9]$"))
    unpercented = pc.utf8_trim_whitespace(pc.replace_substring_regex(cells, r"\s*%$", ""))
    numbers = read_numbers(pc.if_else(pa.array(worded), pa.scalar(None, pa.string()),
                                      unpercented),
                           None, whole=False, invalid_reason=reasons.INVALID_NUMBER,
                           allow_currency=True)
    readable = mask_of(pc.is_valid(numbers.digits))
    values = np.asarray(pc.cast(pc.fill_null(numbers.digits, "0"), pa.float64()).to_numpy(),
                        dtype=float)
    values = np.where(numbers.scientific, numbers.floats, values)
    values = np.where(numbers.negative, -values, values)
    values = np.where(readable | numbers.scientific, values, np.nan)
    values = np.where(worded, truth.astype(float), values)
    return values, numbers.taken


def _text_cells(cells: pa.Array) -> np.ndarray:
    cleaned = clean(cells.cast(pa.string()), MISSING_TOKENS)
    return np.asarray(pc.fill_null(cleaned, "").to_numpy(zero_copy_only=False), dtype=object)


def _labels(raw: RawFile, mapping: ChurnMapping) -> tuple[np.ndarray, np.ndarray]:
    """1/0 labels and the mask of labelled rows; a value outside the mapping is an error."""
    text = _text_cells(raw.column(mapping.label_column))
    folded = np.array([_folded(v) for v in text], dtype=object)
    labelled = folded != ""
    positive = np.isin(folded, [_folded(v) for v in mapping.positive])
    if mapping.negative:
        negative = np.isin(folded, [_folded(v) for v in mapping.negative])
        unknown = np.flatnonzero(labelled & ~positive & ~negative)
        if len(unknown):
            row = int(unknown[0])
            others = sorted({str(v) for v in text[unknown]})
            raise ChurnTableError(
                f"{_where(raw, row, mapping.label_column)}: label {text[row]!r} is neither "
                f"positive ({', '.join(mapping.positive)}) nor negative "
                f"({', '.join(mapping.negative)}); {len(unknown):,} row(s) have such labels "
                f"({', '.join(others[:5])}); add them to [label] positive or negative in "
                f"{mapping.name}")
    return positive.astype(int), labelled


def _check_header(raw: RawFile, mapping: ChurnMapping) -> None:
    header = set(raw.header)
    if mapping.label_column not in header:
        raise ChurnTableError(f"{raw.name}: the label column {mapping.label_column!r} named in "
                              f"{mapping.name} is not in the header (columns: "
                              f"{', '.join(raw.header)})")
    named = [mapping.id_column] if mapping.id_column else []
    named += [*mapping.numeric, *mapping.categorical, *mapping.ignore]
    missing = [c for c in named if c not in header]
    if missing:
        raise ChurnTableError(f"{raw.name}: column(s) {', '.join(missing)} named in "
                              f"{mapping.name} are not in the header")
    repeated = sorted({c for c in raw.header if raw.header.count(c) > 1})
    if repeated:
        raise ChurnTableError(f"{raw.name}: the header repeats column(s) {', '.join(repeated)}; "
                              "rename them so each column has one name")


def _inferred_kind(values: np.ndarray, unreadable: np.ndarray, text: np.ndarray
                   ) -> tuple[str, str]:
    """How an unlisted column is used ("numeric", "categorical" or "ignore") and why."""
    filled = text != ""
    if not filled.any():
        return "ignore", "no values"
    if not unreadable.any():
        return "numeric", "all values are numbers"
    levels = len(set(text[filled]))
    if levels > max(MAX_INFERRED_LEVELS, 0.05 * len(text)):
        return "ignore", f"{levels:,} distinct text values (free text or an identifier)"
    return "categorical", "text values"


def read_churn_table(csv_path: Path, mapping: ChurnMapping) -> ChurnTable:
    """Read a churn table through its mapping into typed, labelled rows (see module doc)."""
    csv_path = Path(csv_path)
    raw = read_csv_file(csv_path, csv_path.name)
    _check_header(raw, mapping)
    label, labelled = _labels(raw, mapping)
    listed = {**dict.fromkeys(mapping.numeric, "numeric"),
              **dict.fromkeys(mapping.categorical, "categorical"),
              **dict.fromkeys(mapping.ignore, "ignore")}
    features: dict[str, np.ndarray] = {}
    numeric: list[str] = []
    categorical: list[str] = []
    ignored = {c: "ignored in the mapping" for c in mapping.ignore}
    for column in raw.header:
        if column in (mapping.label_column, mapping.id_column) or listed.get(column) == "ignore":
            continue
        cells = raw.column(column)
        text = _text_cells(cells)
        kind = listed.get(column)
        if kind == "categorical":
            features[column] = text
            categorical.append(column)
            continue
        values, unreadable = parse_numeric_cells(cells)
        if kind == "numeric":
            bad = np.flatnonzero(unreadable & labelled)
            if len(bad):
                row = int(bad[0])
                raise ChurnTableError(
                    f"{_where(raw, row, column)}: {text[row]!r} is not a number "
                    f"({len(bad):,} such cell(s)); fix the cells or list {column} under "
                    f"columns.categorical in {mapping.name}")
            kind = "numeric"
        else:
            kind, why = _inferred_kind(values[labelled], unreadable[labelled], text[labelled])
            if kind == "ignore":
                ignored[column] = why
                continue
        if kind == "numeric":
            features[column] = values
            numeric.append(column)
        else:
            features[column] = text
            categorical.append(column)
    index = None
    if mapping.id_column is not None:
        ids = _text_cells(raw.column(mapping.id_column))
        blank = np.flatnonzero(ids == "")
        if len(blank):
            raise ChurnTableError(f"{_where(raw, int(blank[0]), mapping.id_column)}: the id is "
                                  "blank; every account needs an id")
        repeated = pd.Series(ids).duplicated(keep="first").to_numpy()
        if repeated.any():
            row = int(np.flatnonzero(repeated)[0])
            raise ChurnTableError(f"{_where(raw, row, mapping.id_column)}: id {ids[row]!r} "
                                  "appears more than once; the table needs one row per account")
        index = pd.Index(ids[labelled], name=mapping.id_column)
    frame = pd.DataFrame({c: v[labelled] for c, v in features.items()}, index=index)
    if not numeric and not categorical:
        raise ChurnTableError(f"{raw.name}: no column is left to learn from; list columns "
                              f"under [columns] numeric or categorical in {mapping.name}")
    return ChurnTable(file=raw.name, features=frame, label=label[labelled],
                      numeric=tuple(numeric), categorical=tuple(categorical), ignored=ignored,
                      rows_read=raw.records, rows_unlabelled=int((~labelled).sum()),
                      rows_ragged=len(raw.ragged))


def _log1p_clipped(values: np.ndarray) -> np.ndarray:
    return np.log1p(np.clip(values, 0, None))


def _one_hot() -> OneHotEncoder:
    return OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=RARE_LEVEL_ROWS)


def churn_model(numeric: list[str], non_negative: list[str], categorical: list[str],
                seed: int) -> Pipeline:
    """The churn model (module doc): engineered numerics and one-hot categoricals into an L2
    logistic regression with cross-validated strength."""
    parts = []
    if numeric:
        parts.append(("numeric", make_pipeline(
            SimpleImputer(strategy="median", add_indicator=True), StandardScaler()), numeric))
    if non_negative:
        parts.append(("log", make_pipeline(
            SimpleImputer(strategy="median"), FunctionTransformer(_log1p_clipped),
            StandardScaler()), non_negative))
    if categorical:
        parts.append(("categorical", _one_hot(), categorical))
    return make_pipeline(ColumnTransformer(parts), LogisticRegressionCV(
        Cs=list(REGULARISATION_GRID), cv=StratifiedKFold(5, shuffle=True, random_state=seed),
        l1_ratios=(0.0,), scoring="neg_log_loss", max_iter=5000,
        use_legacy_attributes=False))


def baseline_model(numeric: list[str], categorical: list[str]) -> Pipeline:
    """The plain baseline: median-filled standardised numerics and one-hot categoricals into a
    default logistic regression."""
    parts = []
    if numeric:
        parts.append(("numeric", make_pipeline(SimpleImputer(strategy="median"),
                                               StandardScaler()), numeric))
    if categorical:
        parts.append(("categorical", OneHotEncoder(handle_unknown="ignore"), categorical))
    return make_pipeline(ColumnTransformer(parts), LogisticRegression(max_iter=5000))


@dataclass
class SeedResult:
    """One stratified hold-out: the churn model against the plain baseline."""

    seed: int
    rows_train: int
    rows_test: int
    auc: float
    brier: float
    base_rate_brier: float
    baseline_auc: float
    baseline_brier: float
    regularisation: float
    """The inverse L2 strength cross-validation chose."""


@dataclass
class ChurnTrainingReport:
    """What a churn table run used and how the churn model and the baseline did."""

    file: str
    mapping: str
    rows_read: int
    rows_used: int
    rows_unlabelled: int
    rows_ragged: int
    churn_rate: float
    numeric: list[str]
    categorical: list[str]
    ignored: dict[str, str]
    seeds: list[SeedResult]
    auc: float
    brier: float
    base_rate_brier: float
    baseline_auc: float
    baseline_brier: float
    importance: dict[str, float] = field(default_factory=dict)
    """Mean held-out AUC lost when each column is shuffled, largest first."""
    leaks: list[dict[str, object]] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, object]:
        """Plain JSON-ready values."""
        return asdict(self)

    def to_text(self) -> str:
        """A few lines for people: per-seed and mean figures side by side, top features."""
        lines = [
            f"Read {self.rows_read:,} rows of {self.file} through {self.mapping}: "
            f"{self.rows_used:,} labelled (churn rate {self.churn_rate:.1%}), "
            f"{self.rows_unlabelled:,} without a label and {self.rows_ragged:,} with the wrong "
            "number of fields left out.",
            f"Columns: {len(self.numeric)} numeric, {len(self.categorical)} categorical"
            + (", ignored: " + ", ".join(f"{c} ({why})" for c, why in self.ignored.items())
               if self.ignored else "") + ".",
            f"{len(self.seeds)} stratified {TEST_SHARE:.0%} hold-out(s):",
            f"  {'seed':>4}  {'AUC':>6}  {'Brier':>6}  {'baseline AUC':>12}  "
            f"{'baseline Brier':>14}  {'base-rate Brier':>15}",
        ]
        lines += [f"  {s.seed:>4}  {s.auc:>6.4f}  {s.brier:>6.4f}  {s.baseline_auc:>12.4f}  "
                  f"{s.baseline_brier:>14.4f}  {s.base_rate_brier:>15.4f}" for s in self.seeds]
        lines.append(f"  {'mean':>4}  {self.auc:>6.4f}  {self.brier:>6.4f}  "
                     f"{self.baseline_auc:>12.4f}  {self.baseline_brier:>14.4f}  "
                     f"{self.base_rate_brier:>15.4f}")
        lines.append("Churn model vs plain logistic baseline: AUC "
                     f"{self.auc - self.baseline_auc:+.4f}, Brier "
                     f"{self.brier - self.baseline_brier:+.4f}.")
        top = list(self.importance.items())[:TOP_FEATURES]
        lines.append("Top features (held-out AUC lost when shuffled): "
                     + ", ".join(f"{c} {v:.4f}" for c, v in top) + ".")
        lines += [f"Warning: {leak['message']}." for leak in self.leaks]
        lines.append(f"Took {self.seconds:.1f} s.")
        return "\n".join(lines)


def _permutation_loss(model: Pipeline, data: pd.DataFrame, labels: np.ndarray, seed: int
                      ) -> dict[str, float]:
    """Held-out AUC lost when each column is shuffled."""
    rng = np.random.default_rng(seed)
    base = roc_auc_score(labels, model.predict_proba(data)[:, 1])
    out = {}
    for column in data.columns:
        shuffled = data.copy()
        shuffled[column] = shuffled[column].to_numpy()[rng.permutation(len(shuffled))]
        out[column] = float(base - roc_auc_score(labels, model.predict_proba(shuffled)[:, 1]))
    return out


def _check_size(table: ChurnTable) -> None:
    churned = int(table.label.sum())
    stayed = len(table.label) - churned
    if len(table.label) < MIN_ROWS or min(churned, stayed) < MIN_CLASS_ROWS:
        raise ChurnTableError(
            f"{table.file}: {len(table.label):,} labelled rows ({churned:,} churned, "
            f"{stayed:,} stayed); at least {MIN_ROWS} rows with {MIN_CLASS_ROWS} of each are "
            "needed to train and test a model; check [label] positive and negative")


def evaluate_seed(table: ChurnTable, seed: int) -> tuple[SeedResult, dict[str, float], list]:
    """Fit the churn model and the baseline on one stratified split and score the hold-out.

    Returns the figures, the churn model's per-column AUC loss and the leaks left out.
    """
    rows = np.arange(len(table.label))
    train, test = train_test_split(rows, test_size=TEST_SHARE, stratify=table.label,
                                   random_state=seed)
    x_train, x_test = table.features.iloc[train], table.features.iloc[test]
    y_train, y_test = table.label[train], table.label[test]
    leaks = find_leaks(x_train.replace("", None), y_train, classes=("churned", "stayed"),
                       noun="accounts")
    leaked = {leak.feature for leak in leaks}
    kept = [c for c in x_train.columns if c not in leaked and (
        c in table.categorical or x_train[c].notna().any())]
    if not kept:
        raise ChurnTableError(f"{table.file}: every column gives the label away on its own "
                              f"({', '.join(sorted(leaked))}); map columns known before churn")
    numeric = [c for c in table.numeric if c in kept]
    categorical = [c for c in table.categorical if c in kept]
    non_negative = [c for c in numeric if np.nanmin(x_train[c].to_numpy(dtype=float)) >= 0]
    model = churn_model(numeric, non_negative, categorical, seed).fit(x_train[kept], y_train)
    baseline = baseline_model(numeric, categorical).fit(x_train[kept], y_train)
    predicted = model.predict_proba(x_test[kept])[:, 1]
    plain = baseline.predict_proba(x_test[kept])[:, 1]
    base_rate = np.full(len(test), float(y_train.mean()))
    result = SeedResult(
        seed=seed, rows_train=len(train), rows_test=len(test),
        auc=round(float(roc_auc_score(y_test, predicted)), 4),
        brier=round(float(brier_score_loss(y_test, predicted)), 4),
        base_rate_brier=round(float(brier_score_loss(y_test, base_rate)), 4),
        baseline_auc=round(float(roc_auc_score(y_test, plain)), 4),
        baseline_brier=round(float(brier_score_loss(y_test, plain)), 4),
        regularisation=float(model[-1].C_),
    )
    return result, _permutation_loss(model, x_test[kept], y_test, seed), leaks


def train_churn_table(csv_path: Path, mapping_path: Path, *,
                      seeds: tuple[int, ...] = DEFAULT_SEEDS,
                      progress: ProgressCallback = no_progress) -> ChurnTrainingReport:
    """Train and evaluate the churn model and the plain baseline on a churn table, one
    stratified 25 % hold-out per seed (see module doc)."""
    started = time.perf_counter()
    progress(0.02, "reading the mapping and the table")
    mapping = load_churn_mapping(Path(mapping_path))
    table = read_churn_table(Path(csv_path), mapping)
    _check_size(table)
    results: list[SeedResult] = []
    losses: dict[str, list[float]] = {}
    leaks: dict[str, dict[str, object]] = {}
    for done, seed in enumerate(seeds):
        progress(0.05 + 0.9 * done / len(seeds), f"hold-out {done + 1} of {len(seeds)}")
        result, loss, found = evaluate_seed(table, seed)
        results.append(result)
        for column, value in loss.items():
            losses.setdefault(column, []).append(value)
        for leak in found:
            leaks.setdefault(leak.feature, leak.to_dict())
    progress(1.0, "done")
    importance = {c: round(float(np.mean(v)), 4) for c, v in losses.items()}

    def mean(name: str) -> float:
        return round(float(np.mean([getattr(r, name) for r in results])), 4)

    return ChurnTrainingReport(
        file=table.file, mapping=mapping.name, rows_read=table.rows_read,
        rows_used=len(table.label), rows_unlabelled=table.rows_unlabelled,
        rows_ragged=table.rows_ragged, churn_rate=round(float(table.label.mean()), 4),
        numeric=list(table.numeric), categorical=list(table.categorical),
        ignored=table.ignored, seeds=results, auc=mean("auc"), brier=mean("brier"),
        base_rate_brier=mean("base_rate_brier"), baseline_auc=mean("baseline_auc"),
        baseline_brier=mean("baseline_brier"),
        importance=dict(sorted(importance.items(), key=lambda kv: -kv[1])),
        leaks=list(leaks.values()), seconds=round(time.perf_counter() - started, 2),
    )
