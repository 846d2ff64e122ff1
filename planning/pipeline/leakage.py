"""Leakage guard: features that give the outcome away are left out before a model is fitted.

A feature leaks when it was written at or after the outcome it should predict: a CRM's booked
value that is 0 on every lost deal, a loss reason filled only on lost deals, a stage age frozen
at close. Such a feature makes a model look perfect on held-out rows and useless on open ones.
Every trainer calls `without_leaks` on its training rows only, before fitting. A feature leaks
when, on those rows:

- it has one value on every row of one class while varying in the other, and that value is on
  fewer than half of the other class's rows ("amount is 0 on 100% of lost deals"); or
- alone it separates the classes almost perfectly: single-feature ROC AUC of at least
  `SEPARATION_AUC` or at most 1 − `SEPARATION_AUC`. A numeric feature's values are the score,
  with missing values placed at whichever end separates more; a categorical feature's score is
  its category's positive rate, fitted on the other folds of the training rows (so an id-like
  column with one row per category does not look perfect).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from planning.errors import RevPlanError

SEPARATION_AUC = 0.95
MIN_CLASS_ROWS = 20
"""A class needs this many rows before one value on all of them counts as evidence."""
MAX_OTHER_SHARE = 0.5
"""The constant value must be on fewer than this share of the other class's rows."""
FOLDS = 5
CATEGORY_PRIOR = 1.0
"""Weight of the overall positive rate in a category's out-of-fold rate."""
CONSTANT_IN_CLASS = "constant_within_class"
SEPARATES_ALONE = "separates_alone"
SAME_SOURCE = "same_source"
DEAL_FEATURE_SOURCES: dict[str, str] = {
    name: "amount" for name in ("amount", "log_amount", "amount_vs_median",
                                "amount_vs_owner_median", "size_vs_segment")}
"""The CRM field each deal feature is computed from, where several share one: when one of
them leaks, the field was written at close, so every feature built from it goes too (a ratio
of a booked value to an owner's median can hide the leak behind missing values)."""


class LeakageError(RevPlanError):
    """Every feature gives the outcome away on its own: nothing honest is left to train on."""


@dataclass(frozen=True)
class Leak:
    """A feature left out of a model, why, and the evidence in words."""

    feature: str
    rule: str
    """CONSTANT_IN_CLASS or SEPARATES_ALONE."""
    auc: float
    """The feature's single-feature AUC on the training rows."""
    message: str

    def to_dict(self) -> dict[str, object]:
        """Plain JSON-ready values."""
        return asdict(self)


def _numeric(column: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column)


def _numeric_auc(values: np.ndarray, label: np.ndarray, weights: np.ndarray) -> float:
    """AUC of the values as a score; missing values at whichever end separates more."""
    missing = ~np.isfinite(values)
    if missing.all():
        return 0.5
    if not missing.any():
        return float(roc_auc_score(label, values, sample_weight=weights))
    present = values[~missing]
    ends = (present.min() - 1.0, present.max() + 1.0)
    aucs = [float(roc_auc_score(label, np.where(missing, end, values), sample_weight=weights))
            for end in ends]
    return max(aucs, key=lambda auc: abs(auc - 0.5))


def _folds(size: int, groups: np.ndarray | None) -> np.ndarray:
    """A deterministic fold per row; rows of one group share a fold."""
    rng = np.random.default_rng(0)
    if groups is None:
        return rng.permutation(size) % FOLDS
    codes, uniques = pd.factorize(pd.Series(groups), use_na_sentinel=False)
    return rng.permutation(len(uniques))[codes] % FOLDS


def _category_auc(codes: np.ndarray, label: np.ndarray, weights: np.ndarray,
                  groups: np.ndarray | None) -> float:
    """AUC of each row's category's positive rate, fitted on the other folds."""
    size = int(codes.max()) + 1
    prior = float(np.average(label, weights=weights))
    fold = _folds(len(codes), groups)
    score = np.empty(len(codes))
    for k in range(FOLDS):
        held = fold == k
        if not held.any():
            continue
        fitted = ~held
        wins = np.bincount(codes[fitted], weights=(label * weights)[fitted], minlength=size)
        total = np.bincount(codes[fitted], weights=weights[fitted], minlength=size)
        rate = (wins + CATEGORY_PRIOR * prior) / (total + CATEGORY_PRIOR)
        score[held] = rate[codes[held]]
    return float(roc_auc_score(label, score, sample_weight=weights))


def _words(value: object) -> str:
    """A feature value as a person would say it."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "missing"
    if isinstance(value, str):
        return "empty" if value == "" else f"'{value}'"
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return f"{int(value)}"
    return f"{value:g}" if isinstance(value, (float, np.floating)) else str(value)


def _constant_leak(name: str, codes: np.ndarray, uniques: np.ndarray, label: np.ndarray,
                   weights: np.ndarray, classes: tuple[str, str], noun: str) -> str | None:
    """The evidence sentence when one class has a single value the other mostly lacks."""
    for cls, inside_name, other_name in ((1, *classes), (0, *reversed(classes))):
        inside = codes[label == cls]
        other = codes[label != cls]
        if len(inside) < MIN_CLASS_ROWS or len(np.unique(other)) < 2:
            continue
        values = np.unique(inside)
        if len(values) != 1:
            continue
        share = float(np.average(other == values[0], weights=weights[label != cls]))
        if share >= MAX_OTHER_SHARE:
            continue
        other_part = (f"on no {other_name} {noun}" if share == 0
                      else f"on only {share:.0%} of {other_name} {noun}")
        return (f"{name} is {_words(uniques[values[0]])} on 100% of {inside_name} {noun} and "
                f"{other_part}: it looks set at close, so it was left out")
    return None


def find_leaks(features: pd.DataFrame, label: np.ndarray, *, weights: np.ndarray | None = None,
               groups: np.ndarray | None = None, classes: tuple[str, str] = ("won", "lost"),
               noun: str = "deals") -> list[Leak]:
    """The features of the training rows that give the label away on their own.

    `label` is 1 for the positive class, named `classes[0]`, and 0 for `classes[1]`; `noun`
    names the rows in messages. `weights` weigh rows (e.g. one total weight per deal), `groups`
    keep a deal's rows in one fold. Returns nothing when the label has a single class.
    """
    label = np.asarray(label, dtype=int)
    weights = np.ones(len(label)) if weights is None else np.asarray(weights, dtype=float)
    if len(label) == 0 or label.min() == label.max():
        return []
    leaks = []
    for name in features.columns:
        column = features[name]
        numeric = _numeric(column)
        if numeric:
            values = column.astype(float).to_numpy(dtype=float, na_value=np.nan)
            values = np.where(np.isfinite(values), values, np.nan)
            codes, uniques = pd.factorize(pd.Series(values), use_na_sentinel=False)
        else:
            text = column.astype(object).where(column.notna(), None)
            codes, uniques = pd.factorize(text, use_na_sentinel=False)
        if len(uniques) < 2:
            continue
        auc = (_numeric_auc(values, label, weights) if numeric
               else _category_auc(codes, label, weights, groups))
        message = _constant_leak(name, codes, np.asarray(uniques, dtype=object), label,
                                 weights, classes, noun)
        if message is not None:
            leaks.append(Leak(name, CONSTANT_IN_CLASS, round(auc, 4), message))
        elif auc >= SEPARATION_AUC or auc <= 1 - SEPARATION_AUC:
            leaks.append(Leak(name, SEPARATES_ALONE, round(auc, 4), (
                f"{name} separates {classes[0]} from {classes[1]} {noun} almost perfectly on "
                f"its own (AUC {auc:.2f}): it was left out")))
    return leaks


def _same_source(leaks: list[Leak], columns: list[str], sources: Mapping[str, str]
                 ) -> list[Leak]:
    """Leaks for the features built from the same field as a leaking one."""
    leaked = {leak.feature: leak for leak in leaks}
    fields: dict[str, Leak] = {}
    for leak in leaks:
        fields.setdefault(sources.get(leak.feature, leak.feature), leak)
    return [Leak(name, SAME_SOURCE, fields[sources[name]].auc,
                 f"{name} is computed from {sources[name]}, which leaks "
                 f"(see {fields[sources[name]].feature}): it was left out too")
            for name in columns
            if name not in leaked and sources.get(name) in fields]


def without_leaks(features: pd.DataFrame, label: np.ndarray,
                  sources: Mapping[str, str] | None = None, **options: object
                  ) -> tuple[pd.DataFrame, list[Leak]]:
    """The training features less those `find_leaks` flags (same options), and the leaks.

    `sources` names the field each feature is computed from (see DEAL_FEATURE_SOURCES): a
    leaking feature takes every feature of the same field with it.

    Features with no value on any training row carry nothing and break tree binning, so they
    are left out too (silently: an empty column is not a leak). Raises LeakageError when every
    feature leaks.
    """
    features = features.loc[:, features.notna().any()]
    if features.empty:
        raise LeakageError("No feature has a value on any training deal: map at least one "
                           "column that is known while a deal is open (stage, type, amount...).")
    leaks = find_leaks(features, label, **options)
    leaks += _same_source(leaks, list(features.columns), sources or {})
    dropped = [leak.feature for leak in leaks]
    kept = [c for c in features.columns if c not in dropped]
    if not kept:
        raise LeakageError(
            f"Every feature ({', '.join(dropped)}) gives the outcome away on its own, as if "
            "recorded at close: map columns that are known while a deal is still open.")
    return features[kept], leaks
