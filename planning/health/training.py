"""Train the churn model, score every customer's health, and measure the model over time.

`read_health_input` reads the workspace (past renewals with point-in-time features, the
accounts to score now and a week earlier); `fit_health_model` fits and evaluates the model and
scores the accounts, a pure computation a job process runs (`planning.health.jobs`);
`store_health_model` stores the model, its card, its held-out quality and the scores in one
audited transaction. `train_health_model` does all three in this process (the command line).
`score_accounts` rescores with the active model; `measure_model_quality` records how the stored
models did on the renewals that resolved after they were trained.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from planning import audit
from planning.access.acting import acting_identity
from planning.access.policy import Action, require
from planning.access.users import User
from planning.asof import as_of_moment
from planning.clock import now_utc
from planning.errors import RevPlanError
from planning.health import features as hf
from planning.health import model as cm
from planning.health import scoring
from planning.progress import ProgressCallback, no_progress
from planning.store import Workspace
from planning.store import health as repo

TEST_SHARE = 0.25
"""The newest share of renewals (by renewal date) held out to test a model."""
COMPARE_DAYS = 7
"""Scores are also taken this many days earlier, for "what changed since last week"."""
SCORE_COLUMNS = ["model_id", "account_id", "as_of", "scored_at", "subscription_id",
                 "renewal_date", "arr_cents", "health_score", "components_json",
                 "features_json", "churn_probability", "reasons_json"]


class NoChurnModelError(RevPlanError):
    """Health is asked for before any churn model was trained."""


def feature_windows(workspace: Workspace, horizon_days: int | None = None) -> hf.FeatureWindows:
    """The windows features are measured over: `horizon_days` if given, else the workspace's
    setting `health_horizon_days`, else 60."""
    if horizon_days is None:
        horizon_days = workspace.read(repo.horizon_days) or hf.HORIZON_DAYS
    if horizon_days < 1:
        raise RevPlanError(f"The health horizon must be at least 1 day (got {horizon_days}).")
    return hf.FeatureWindows(horizon_days=horizon_days)


@dataclass
class HealthTrainingInput:
    """What training reads from the workspace, as plain data a job process can fit from."""

    as_of: dt.datetime
    windows: hf.FeatureWindows
    training: hf.RenewalRows
    now: hf.RenewalRows
    """Accounts with a live subscription at `as_of`, to score."""
    week_before: hf.RenewalRows
    """The same as of COMPARE_DAYS earlier."""
    seed: int = 7


@dataclass
class HealthScores:
    """Scores of accounts at one moment, not yet stored (columns of SCORE_COLUMNS less model
    id and scored_at)."""

    as_of: dt.datetime
    frame: pd.DataFrame


@dataclass
class FittedHealthModel:
    """A fitted churn model, its card and the accounts' scores, not yet stored."""

    model: cm.ChurnModel
    card: cm.ChurnModelCard
    scores: list[HealthScores]
    as_of: dt.datetime
    trained_at: dt.datetime
    seconds: float

    @property
    def model_id(self) -> str:
        """The id the model is stored under (from the moment it was trained)."""
        stamp = f"{self.trained_at:%Y%m%d-%H%M%S}-{self.trained_at.microsecond // 1000:03d}"
        return f"churn-{stamp}"


@dataclass
class HealthTrainingReport:
    """The stored model's card and what was scored."""

    model_id: str
    card: cm.ChurnModelCard
    accounts_scored: int
    seconds: float

    def to_text(self) -> str:
        """A few lines for people."""
        m, card = self.card.metrics, self.card
        auc = "n/a" if m["auc"] is None else f"{m['auc']:.3f}"
        baseline_auc = ("n/a" if m["health_score_auc"] is None
                        else f"{m['health_score_auc']:.3f}")
        lines = [
            f"Churn model {self.model_id}: held-out AUC {auc}, Brier {m['brier']:.4f} "
            f"(base-rate Brier {m['base_rate_brier']:.4f}; health score alone: AUC "
            f"{baseline_auc}, Brier {m['health_score_brier']:.4f}).",
            f"Trained on {card.rows_train:,} renewals ({card.churned_train} churned) due "
            f"{card.train_from}..{card.train_to}, tested on {card.rows_test:,} "
            f"({card.churned_test} churned) due {card.test_from}..{card.test_to}; features as "
            f"of {card.horizon_days} days before each renewal.",
            f"Scored {self.accounts_scored:,} accounts in {self.seconds:.1f} s.",
        ]
        lines += [f"Warning: {leak['message']}." for leak in card.leaks]
        return "\n".join(lines)


def read_health_input(workspace: Workspace, *, as_of: dt.datetime | None = None,
                      horizon_days: int | None = None, seed: int = 7,
                      progress: ProgressCallback = no_progress) -> HealthTrainingInput:
    """Read past renewals before `as_of` (default: the end of the workspace's as-of day) with
    their features, and the accounts to score then and a week earlier. Refuses, in words,
    too few resolved renewals."""
    as_of = as_of or as_of_moment(workspace)
    windows = feature_windows(workspace, horizon_days)
    subscriptions = workspace.read(repo.subscriptions)
    progress(0.1, "building point-in-time renewal rows")
    training = hf.training_rows(workspace, as_of, windows, subscriptions)
    cm.check_trainable(training.rows["churned"].to_numpy(dtype=int), as_of)
    progress(0.7, "reading the accounts to score")
    now = hf.scoring_rows(workspace, as_of, windows, subscriptions)
    before = hf.scoring_rows(workspace, as_of - dt.timedelta(days=COMPARE_DAYS), windows,
                             subscriptions)
    return HealthTrainingInput(as_of, windows, training, now, before, seed)


def _split(renewal_on: pd.Series) -> np.ndarray:
    """True for the newest TEST_SHARE of rows by renewal date."""
    ordered = pd.to_datetime(renewal_on).sort_values(kind="stable")
    cut = ordered.iloc[int(len(ordered) * (1 - TEST_SHARE))]
    return (pd.to_datetime(renewal_on) >= cut).to_numpy()


def _span(days: pd.Series) -> tuple[dt.date | None, dt.date | None]:
    if days.empty:
        return None, None
    days = pd.to_datetime(days)
    return days.min().date(), days.max().date()


def fit_health_model(data: HealthTrainingInput,
                     progress: ProgressCallback = no_progress) -> FittedHealthModel:
    """Fit the churn model on the older renewals, test it on the newest, and score the
    accounts. Pure computation: runs in a job process."""
    started = time.perf_counter()
    rows, matrix = data.training.rows, data.training.matrix
    labels = rows["churned"].to_numpy(dtype=int)
    test = _split(rows["renewal_on"])
    train = ~test
    if labels[train].min() == labels[train].max() or labels[test].min() == labels[test].max():
        test = np.arange(len(labels)) % 4 == 0
        train = ~test
    progress(0.1, "fitting the churn model")
    fitted = cm.fit(matrix[train].reset_index(drop=True), labels[train],
                    data.windows.horizon_days, groups=rows.loc[train, "account_id"].to_numpy())
    progress(0.6, "testing on the newest renewals")
    train_health = scoring.health_scores(scoring.components(matrix[train]))
    test_health = scoring.health_scores(scoring.components(matrix[test]))
    baseline = cm.baseline_probability(100.0 - train_health, labels[train], 100.0 - test_health)
    base_rate = float(labels[train].mean())
    test_matrix = matrix[test].reset_index(drop=True)
    metrics, reliability = cm.evaluate(fitted, test_matrix, labels[test], base_rate, baseline)
    importance = cm.permutation_importance(fitted, test_matrix, labels[test], data.seed)
    train_from, train_to = _span(rows.loc[train, "renewal_on"])
    test_from, test_to = _span(rows.loc[test, "renewal_on"])
    card = cm.ChurnModelCard(
        horizon_days=data.windows.horizon_days, train_from=train_from, train_to=train_to,
        test_from=test_from, test_to=test_to, rows_train=int(train.sum()),
        rows_test=int(test.sum()), churned_train=int(labels[train].sum()),
        churned_test=int(labels[test].sum()), features=list(fitted.features),
        metrics={k: cm.finite(v) for k, v in metrics.items()}, reliability=reliability,
        importance=importance, leaks=[leak.to_dict() for leak in fitted.leaks])
    progress(0.8, "scoring the accounts")
    scores = [HealthScores(data.as_of, score_rows(fitted, data.now, data.windows)),
              HealthScores(data.as_of - dt.timedelta(days=COMPARE_DAYS),
                           score_rows(fitted, data.week_before, data.windows))]
    progress(1.0, "done")
    return FittedHealthModel(fitted, card, scores, data.as_of, now_utc(),
                             time.perf_counter() - started)


def score_rows(model: cm.ChurnModel, rows: hf.RenewalRows, windows: hf.FeatureWindows
               ) -> pd.DataFrame:
    """Health score, components, churn probability and reasons of each account's row."""
    upcoming, matrix = rows.rows, rows.matrix
    if upcoming.empty:
        return pd.DataFrame(columns=SCORE_COLUMNS[2:] + ["account_id"])
    parts = scoring.components(matrix)
    probability = model.predict(matrix)
    effects = model.effects(matrix, scoring.explained_features())
    reasons = scoring.reasons(matrix, effects, windows.window_days)
    measures = matrix[list(hf.NUMERIC_FEATURES)].astype(float).round(4)
    return pd.DataFrame({
        "account_id": upcoming["account_id"].to_numpy(),
        "subscription_id": upcoming["subscription_id"].to_numpy(),
        "renewal_date": pd.to_datetime(upcoming["renewal_on"]).dt.date.to_numpy(),
        "arr_cents": upcoming["renewing_arr_cents"].to_numpy(dtype="int64"),
        "health_score": scoring.health_scores(parts),
        "components_json": scoring.components_json(parts),
        "features_json": [json.dumps({k: (None if not np.isfinite(v) else v)
                                      for k, v in row.items()})
                          for row in measures.to_dict("records")],
        "churn_probability": probability,
        "reasons_json": [json.dumps(r) for r in reasons],
    })


def _stored_scores(model_id: str, scored_at: dt.datetime, batch: HealthScores) -> pd.DataFrame:
    return batch.frame.assign(model_id=model_id, as_of=batch.as_of,
                              scored_at=scored_at)[SCORE_COLUMNS]


def store_health_model(workspace: Workspace, fitted: FittedHealthModel, *,
                       actor: str = "system", actor_role: str | None = None
                       ) -> HealthTrainingReport | None:
    """Store the fitted model as the active one with its card, its held-out quality and the
    accounts' scores, in one audited transaction. None when it is stored already (two
    sessions may store the same finished job)."""
    model_id, card = fitted.model_id, fitted.card

    def store(cur) -> bool:
        if repo.model_exists(cur, model_id):
            return False
        repo.insert_model(cur, {
            "model_id": model_id, "trained_at": fitted.trained_at, "trained_by": actor,
            "as_of": fitted.as_of, "horizon_days": card.horizon_days,
            "train_from": card.train_from, "train_to": card.train_to,
            "test_from": card.test_from, "test_to": card.test_to,
            "rows_train": card.rows_train, "rows_test": card.rows_test,
            "features": card.features, "card_json": json.dumps(card.to_dict()),
            "model_blob": fitted.model.to_bytes()})
        repo.insert_quality(cur, {
            "model_id": model_id, "measured_at": fitted.trained_at, "kind": "held_out",
            "period_from": card.test_from, "period_to": card.test_to,
            "renewals": card.rows_test, "churned": card.churned_test,
            "auc": card.metrics["auc"], "brier": card.metrics["brier"],
            "base_rate_brier": card.metrics["base_rate_brier"]})
        for batch in fitted.scores:
            repo.replace_scores(cur, _stored_scores(model_id, fitted.trained_at, batch))
        audit.record(cur, actor=actor, actor_role=actor_role, action="health.train",
                     entity="churn_model", entity_id=model_id,
                     after={"metrics": card.metrics, "as_of": fitted.as_of.isoformat(),
                            "horizon_days": card.horizon_days,
                            "accounts_scored": len(fitted.scores[0].frame),
                            "leaks": [leak["feature"] for leak in card.leaks]})
        return True

    if not workspace.write(store):
        return None
    return HealthTrainingReport(model_id, card, len(fitted.scores[0].frame), fitted.seconds)


def train_health_model(workspace: Workspace, actor: User | str = "system", *,
                       as_of: dt.datetime | None = None, horizon_days: int | None = None,
                       seed: int = 7, progress: ProgressCallback = no_progress
                       ) -> HealthTrainingReport:
    """Train the churn model on the renewals before `as_of`, make it active and score every
    account with a live subscription, in this process (the app runs the fit as a job instead:
    `planning.health.jobs`). A user needs TRAIN_HEALTH_MODEL."""
    name, role = acting_identity(workspace, actor, Action.TRAIN_HEALTH_MODEL)
    started = time.perf_counter()
    data = read_health_input(workspace, as_of=as_of, horizon_days=horizon_days, seed=seed,
                             progress=lambda f, m: progress(0.4 * f, m))
    fitted = fit_health_model(data, progress=lambda f, m: progress(0.4 + 0.5 * f, m))
    progress(0.9, "storing the model and scores")
    report = store_health_model(workspace, fitted, actor=name, actor_role=role)
    if report is None:
        raise RevPlanError("This churn model was stored already; train again for a new one.")
    report.seconds = time.perf_counter() - started
    progress(1.0, "done")
    return report


def load_active_model(workspace: Workspace) -> tuple[str, cm.ChurnModel]:
    """The active churn model and its id; NoChurnModelError saying how to train one."""
    entry = workspace.read(repo.active_model)
    if entry is None:
        raise NoChurnModelError(
            "No churn model is trained yet: run `revplan health train-workspace --workspace "
            f"{workspace.name}` (or train it on the Customer health page) first.")
    return entry[0], cm.ChurnModel.from_bytes(entry[1])


@dataclass
class HealthScoringReport:
    """How many accounts were scored, by which model, at which moment, in how long."""

    model_id: str
    as_of: dt.datetime
    accounts: int
    at_risk: int
    """Accounts whose churn probability is at least AT_RISK_PROBABILITY."""
    seconds: float

    def to_text(self) -> str:
        """One line for people."""
        return (f"Scored {self.accounts:,} accounts as of {self.as_of:%Y-%m-%d %H:%M} with "
                f"{self.model_id}: {self.at_risk:,} at risk (churn probability ≥ "
                f"{AT_RISK_PROBABILITY:.0%}) in {self.seconds:.1f} s.")


AT_RISK_PROBABILITY = 0.3


def score_accounts(workspace: Workspace, actor: User | str = "system", *,
                   as_of: dt.datetime | None = None, progress: ProgressCallback = no_progress
                   ) -> HealthScoringReport:
    """Score every account with a live subscription at `as_of` (default: the end of the
    workspace's as-of day) with the active churn model, and the week before when that is not
    stored yet; audited. A user needs TRAIN_HEALTH_MODEL."""
    name, role = acting_identity(workspace, actor, Action.TRAIN_HEALTH_MODEL)
    started = time.perf_counter()
    model_id, model = load_active_model(workspace)
    moment = as_of or as_of_moment(workspace)
    windows = feature_windows(workspace, model.horizon_days)
    stored = set(workspace.read(lambda cur: repo.scored_moments(cur, model_id)))
    subscriptions = workspace.read(repo.subscriptions)
    batches = []
    moments = [moment] + [m for m in (moment - dt.timedelta(days=COMPARE_DAYS),)
                          if pd.Timestamp(m) not in {pd.Timestamp(s) for s in stored}]
    for i, when in enumerate(moments):
        progress(0.1 + 0.4 * i, f"scoring accounts as of {when:%Y-%m-%d}")
        rows = hf.scoring_rows(workspace, when, windows, subscriptions)
        batches.append(HealthScores(when, score_rows(model, rows, windows)))
    progress(0.9, "storing scores")
    scored_at = now_utc()
    current = batches[0].frame
    at_risk = int((current["churn_probability"] >= AT_RISK_PROBABILITY).sum())

    def store(cur) -> None:
        for batch in batches:
            repo.replace_scores(cur, _stored_scores(model_id, scored_at, batch))
        audit.record(cur, actor=name, actor_role=role, action="health.score",
                     entity="churn_model", entity_id=model_id,
                     after={"as_of": moment.isoformat(), "accounts": len(current),
                            "at_risk": at_risk})

    workspace.write(store)
    progress(1.0, "done")
    return HealthScoringReport(model_id, moment, len(current), at_risk,
                               time.perf_counter() - started)


@dataclass
class QualityMeasurement:
    """How one stored model did on the renewals that resolved after it was trained."""

    model_id: str
    period_from: dt.date | None
    period_to: dt.date | None
    renewals: int
    churned: int
    auc: float | None
    brier: float | None
    base_rate_brier: float | None


def measure_model_quality(workspace: Workspace, actor: User | str = "system", *,
                          as_of: dt.datetime | None = None) -> list[QualityMeasurement]:
    """For every stored churn model, AUC and Brier on the renewals that resolved between its
    training as-of and `as_of` (each scored from features as of the horizon before it, as the
    model would have seen them); recorded as kind 'resolved', audited. A user needs
    TRAIN_HEALTH_MODEL."""
    name, role = acting_identity(workspace, actor, Action.TRAIN_HEALTH_MODEL)
    moment = as_of or as_of_moment(workspace)
    cards = workspace.read(repo.model_cards)
    subscriptions = workspace.read(repo.subscriptions)
    results = []
    for card in cards.itertuples(index=False):
        trained_as_of = pd.Timestamp(card.as_of).to_pydatetime()
        if trained_as_of >= moment:
            continue
        blob = workspace.read(lambda cur, mid=card.model_id: repo.model_blob(cur, mid))
        model = cm.ChurnModel.from_bytes(blob)
        windows = feature_windows(workspace, model.horizon_days)
        rows = hf.training_rows(workspace, moment, windows, subscriptions)
        since = (pd.to_datetime(rows.rows["renewal_on"]) >= pd.Timestamp(trained_as_of)
                 ).to_numpy()
        labels = rows.rows.loc[since, "churned"].to_numpy(dtype=int)
        predicted = model.predict(rows.matrix[since].reset_index(drop=True))
        base_rate = float(json.loads(card.card_json)["metrics"]["base_rate"])
        figures = cm.quality(labels, predicted, base_rate)
        span = _span(rows.rows.loc[since, "renewal_on"])
        results.append(QualityMeasurement(card.model_id, span[0], span[1], len(labels),
                                          int(labels.sum()), figures["auc"], figures["brier"],
                                          figures["base_rate_brier"]))
    measured_at = now_utc()

    def store(cur) -> None:
        for found in results:
            repo.insert_quality(cur, {**found.__dict__, "measured_at": measured_at,
                                      "kind": "resolved"})
        audit.record(cur, actor=name, actor_role=role, action="health.measure_quality",
                     entity="churn_model", entity_id=None,
                     after={"as_of": moment.isoformat(),
                            "models": {r.model_id: {"renewals": r.renewals, "auc": r.auc,
                                                    "brier": r.brier} for r in results}})

    if results:
        workspace.write(store)
    return results


def model_quality(workspace: Workspace, user: User | None = None) -> pd.DataFrame:
    """Every recorded quality measurement (held out at training, resolved since), oldest
    first: model_id, trained_at, measured_at, kind, period_from, period_to, renewals, churned,
    auc, brier, base_rate_brier."""
    if user is not None:
        require(user, Action.OPEN_WORKSPACE, workspace.name)
        require(user, Action.VIEW_HEALTH)
    return workspace.read(repo.model_quality)


def churn_model_cards(workspace: Workspace, user: User | None = None) -> pd.DataFrame:
    """Every stored churn model with its card (card_json), newest first."""
    if user is not None:
        require(user, Action.OPEN_WORKSPACE, workspace.name)
        require(user, Action.VIEW_HEALTH)
    return workspace.read(repo.model_cards)
