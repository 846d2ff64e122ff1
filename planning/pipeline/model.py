"""Deal risk models: win probability and slip risk, trained point in time, calibrated.

Training rows are past moments in the life of closed deals (see
`planning.store.pipeline_features`), so every feature is what a CRM showed at that moment. The
model is a gradient-boosted tree ensemble with isotonic calibration on the newest training
rows. Evaluation holds out the newest quarter of closed deals by close date and compares the
Brier score with the classic stage-probability baseline (the win rate of each stage in the
training rows). Before fitting, the leakage guard (`planning.pipeline.leakage`) leaves out any
feature that gives the outcome away on the training rows; the model keeps the features it used.
"""

from __future__ import annotations

import datetime as dt
import io
import math
import pickle
import warnings
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Self

import numpy as np
import pandas as pd
from sklearn.calibration import CalibratedClassifierCV, calibration_curve
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.frozen import FrozenEstimator
from sklearn.metrics import brier_score_loss, roc_auc_score

from planning.pipeline.leakage import DEAL_FEATURE_SOURCES, Leak, without_leaks

NUMERIC_FEATURES = (
    "stage_age_days", "days_to_close", "pushes", "log_amount", "amount_change_ratio",
    "amount_changes", "activities_14d", "activities_30d", "days_since_activity",
    "deal_age_days", "owner_win_rate", "owner_closed_365d", "size_vs_segment",
    "has_next_step", "next_step_overdue_days", "days_to_quarter_end",
)
CATEGORICAL_FEATURES = ("stage", "forecast_category", "type", "product_id", "segment")
FEATURES = NUMERIC_FEATURES + CATEGORICAL_FEATURES
CALIBRATION_SHARE = 0.2
OWNER_PRIOR_WINS, OWNER_PRIOR_DEALS = 1.4, 4.0
"""Smoothing of an owner's trailing win rate toward 35 % for owners with few closed deals."""


def quarter_end(moments: pd.Series, start_month: int) -> pd.Series:
    """Last day of the fiscal quarter containing each moment."""
    months = moments.dt.year * 12 + moments.dt.month - 1
    into_quarter = (months - (start_month - 1)) % 3
    next_quarter = months - into_quarter + 3
    first_of_next = pd.to_datetime(
        {"year": next_quarter // 12, "month": next_quarter % 12 + 1, "day": 1}
    )
    return first_of_next - pd.Timedelta(days=1)


def model_matrix(facts: pd.DataFrame, start_month: int) -> pd.DataFrame:
    """Model inputs from raw point-in-time facts (one row per snapshot)."""
    moment = pd.to_datetime(facts["moment"])
    amount = facts["amount_cents_at"].astype(float).clip(lower=0)
    initial = facts["initial_amount_cents"].astype(float)
    next_step_date = pd.to_datetime(facts["next_step_date"])
    overdue = (moment.dt.normalize() - next_step_date).dt.days.astype(float)
    matrix = pd.DataFrame({
        "stage_age_days": facts["stage_age_days"].astype(float),
        "days_to_close": facts["days_to_close"].astype(float),
        "pushes": facts["pushes"].astype(float),
        "log_amount": np.log1p(amount / 100),
        "amount_change_ratio": np.where(initial > 0, amount / initial.where(initial > 0), 1.0),
        "amount_changes": facts["amount_changes"].astype(float),
        "activities_14d": facts["activities_14d"].astype(float),
        "activities_30d": facts["activities_30d"].astype(float),
        "days_since_activity": facts["days_since_activity"].astype(float),
        "deal_age_days": facts["deal_age_days"].astype(float),
        "owner_win_rate": (facts["owner_won_365d"].astype(float) + OWNER_PRIOR_WINS)
        / (facts["owner_closed_365d"].astype(float) + OWNER_PRIOR_DEALS),
        "owner_closed_365d": facts["owner_closed_365d"].astype(float),
        "size_vs_segment": amount / facts["segment_median_cents"].astype(float),
        "has_next_step": facts["next_step"].notna().astype(float),
        "next_step_overdue_days": overdue.clip(lower=0),
        "days_to_quarter_end": (quarter_end(moment, start_month) - moment.dt.normalize())
        .dt.days.astype(float),
    }, index=facts.index)
    for column in CATEGORICAL_FEATURES:
        matrix[column] = facts[column].fillna("").astype(str)
    return matrix


def _categorise(matrix: pd.DataFrame, categories: dict[str, list[str]]) -> pd.DataFrame:
    out = matrix.copy()
    for column, known in categories.items():
        if column in out.columns:
            out[column] = pd.Categorical(out[column], categories=known)
    return out


def _is_categorical(column: pd.Series) -> bool:
    return not (pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column))


class ExplainedModel(ABC):
    """What every stored, explained classifier shares: explanations by sensitivity to each
    feature's typical value, and storage as bytes in the workspace. A subclass gives `predict`,
    `features` and `reference` (typical value per feature)."""

    features: tuple[str, ...]
    reference: dict[str, object]

    @abstractmethod
    def predict(self, matrix: pd.DataFrame) -> np.ndarray:
        """Calibrated probability of the model's target for each row."""

    def effects(self, matrix: pd.DataFrame, features: tuple[str, ...]) -> pd.DataFrame:
        """How much each feature's actual value moves each row's probability against its
        typical value (positive: the actual value raises the probability)."""
        base = self.predict(matrix)
        out = {}
        for feature in features:
            if feature not in self.features:
                continue
            typical = matrix.copy()
            typical[feature] = self.reference[feature]
            out[feature] = base - self.predict(typical)
        return pd.DataFrame(out, index=matrix.index)

    def to_bytes(self) -> bytes:
        """Serialised model for storage in the workspace."""
        buffer = io.BytesIO()
        pickle.dump(self, buffer, protocol=pickle.HIGHEST_PROTOCOL)
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, blob: bytes) -> Self:
        """A model stored by `to_bytes` (only ever read from the workspace's own table)."""
        model = pickle.loads(blob)  # noqa: S301 - our own model table, written by to_bytes
        if not isinstance(model, cls):
            raise TypeError(f"stored model is a {type(model).__name__}, not a {cls.__name__}")
        return model


@dataclass
class DealModel(ExplainedModel):
    """A fitted, calibrated classifier with what it needs to score and explain new rows."""

    target: str
    start_month: int
    categories: dict[str, list[str]]
    reference: dict[str, object]
    """Typical value per feature (median or most common in training), for explanations."""
    classifier: CalibratedClassifierCV
    features: tuple[str, ...] = FEATURES
    """The inputs the classifier uses, in order: the matrix's columns less any leaks."""
    leaks: tuple[Leak, ...] = ()
    """Features the leakage guard left out, with the evidence."""
    basis: str = "history"
    """"history": point-in-time rows from field history (`model_matrix`); "creation": what was
    known when each deal was created (`planning.pipeline.creation_model`)."""

    def predict(self, matrix: pd.DataFrame) -> np.ndarray:
        """Calibrated probability of the target for each row."""
        if matrix.empty:
            return np.zeros(0)
        return self.classifier.predict_proba(_categorise(matrix, self.categories)[
            list(self.features)])[:, 1]


@dataclass
class ModelCard:
    """What a trained model is and how well it did on held-out deals."""

    target: str
    train_from: dt.date | None
    train_to: dt.date | None
    test_from: dt.date | None
    test_to: dt.date | None
    rows_train: int
    rows_test: int
    features: list[str]
    metrics: dict[str, float]
    reliability: dict[str, list[float]]
    importance: dict[str, float] = field(default_factory=dict)
    leaks: list[dict[str, object]] = field(default_factory=list)
    """Features the leakage guard left out: feature, rule, AUC and the evidence in words."""
    note: str = ""
    """What the model was trained on, when it is not point-in-time field history."""


LEAK_CLASSES = {"win": ("won", "lost"), "slip": ("slipped", "on-time")}
"""How the leakage guard names each target's positive and negative rows."""


def fit(
    matrix: pd.DataFrame, labels: np.ndarray, weights: np.ndarray, closed_at: pd.Series,
    target: str, start_month: int, seed: int, groups: np.ndarray | None = None,
    basis: str = "history",
) -> DealModel:
    """Fit the gradient-boosted classifier on the older rows and calibrate it on the newest.

    The leakage guard first leaves out features that give the label away on these rows
    (`groups`, e.g. deal ids, keep a deal's rows together in its folds). The newest
    CALIBRATION_SHARE of the training rows by close time calibrate the probabilities
    (isotonic), so calibration reflects the most recent behaviour and is fitted on rows the
    trees never saw.
    """
    kept, leaks = without_leaks(
        matrix, labels, sources=DEAL_FEATURE_SOURCES, weights=weights, groups=groups,
        classes=LEAK_CLASSES.get(target, (target, f"not {target}")),
        noun="won deals" if target == "slip" else "deals")
    features = tuple(kept.columns)
    categorical = [c for c in matrix.columns if _is_categorical(matrix[c])]
    categories = {c: sorted(matrix[c].astype(str).unique().tolist()) for c in categorical}
    data = _categorise(matrix, categories)[list(features)]
    cut = closed_at.quantile(1 - CALIBRATION_SHARE)
    calibrate = (closed_at >= cut).to_numpy()
    if calibrate.all() or not calibrate.any() or len(np.unique(labels[calibrate])) < 2:
        calibrate = np.arange(len(labels)) % 5 == 0
    booster = HistGradientBoostingClassifier(
        max_iter=250, learning_rate=0.06, max_leaf_nodes=31, min_samples_leaf=40,
        l2_regularization=1.0, categorical_features="from_dtype", random_state=seed,
    )
    booster.fit(data[~calibrate], labels[~calibrate], sample_weight=weights[~calibrate])
    classifier = CalibratedClassifierCV(FrozenEstimator(booster), method="isotonic")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Since FrozenEstimator")
        classifier.fit(data[calibrate], labels[calibrate], sample_weight=weights[calibrate])
    reference: dict[str, object] = {
        c: float(matrix[c].median()) for c in matrix.columns if c not in categories
    }
    reference.update({c: matrix[c].mode().iat[0] for c in categorical})
    return DealModel(target, start_month, categories, reference, classifier, features,
                     tuple(leaks), basis)


def evaluate(
    model: DealModel, matrix: pd.DataFrame, labels: np.ndarray, weights: np.ndarray,
    baseline: np.ndarray,
) -> tuple[dict[str, float], dict[str, list[float]]]:
    """AUC, Brier (model and baseline) and a 10-bin reliability curve on held-out rows."""
    predicted = model.predict(matrix)
    metrics = {
        "auc": float(roc_auc_score(labels, predicted, sample_weight=weights)),
        "brier": float(brier_score_loss(labels, predicted, sample_weight=weights)),
        "baseline_brier": float(brier_score_loss(labels, baseline, sample_weight=weights)),
        "baseline_auc": float(roc_auc_score(labels, baseline, sample_weight=weights)),
        "base_rate": float(np.average(labels, weights=weights)),
    }
    observed, mean_predicted = calibration_curve(labels, predicted, n_bins=10,
                                                 strategy="quantile")
    counts, _ = np.histogram(predicted, bins=np.quantile(predicted, np.linspace(0, 1, 11)))
    reliability = {
        "predicted": [round(float(v), 4) for v in mean_predicted],
        "observed": [round(float(v), 4) for v in observed],
        "rows": [int(v) for v in counts[: len(observed)]],
    }
    return metrics, reliability


def stage_baseline(train_stage: pd.Series, train_labels: np.ndarray,
                   stages: pd.Series) -> np.ndarray:
    """The stage-probability forecast: each stage's win rate in the training rows."""
    rates = pd.Series(train_labels, index=train_stage.index).groupby(train_stage).mean()
    overall = float(np.mean(train_labels))
    return stages.map(rates).fillna(overall).to_numpy(dtype=float)


def deal_weights(opportunity_ids: pd.Series) -> np.ndarray:
    """Weights that give every deal the same total weight, however many snapshots it has."""
    counts = opportunity_ids.map(opportunity_ids.value_counts())
    return (1.0 / counts).to_numpy(dtype=float)


def permutation_importance(model: DealModel, matrix: pd.DataFrame, labels: np.ndarray,
                           seed: int) -> dict[str, float]:
    """AUC lost when each feature is shuffled, on (a sample of) held-out rows."""
    rng = np.random.default_rng(seed)
    sample = matrix if len(matrix) <= 2_000 else matrix.sample(2_000, random_state=seed)
    y = labels[matrix.index.get_indexer(sample.index)]
    if len(np.unique(y)) < 2:
        return {}
    base = roc_auc_score(y, model.predict(sample))
    importance = {}
    for feature in model.features:
        shuffled = sample.copy()
        shuffled[feature] = rng.permutation(shuffled[feature].to_numpy())
        importance[feature] = round(float(base - roc_auc_score(y, model.predict(shuffled))), 4)
    return dict(sorted(importance.items(), key=lambda kv: -kv[1]))


def finite(value: float) -> float | None:
    """A metric as a JSON-safe number."""
    return None if value is None or not math.isfinite(value) else value
