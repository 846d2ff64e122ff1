"""Train, store and apply the deal risk models (win probability and slip risk).

`train_deal_models` builds point-in-time training rows, fits both models, evaluates them on the
newest quarter of closed deals, stores each with its model card and makes them active, all in
one audited transaction. `score_open_deals` scores every open deal as of a moment and stores
the probabilities with the reasons behind them, worded from the model's own sensitivities.

A workspace without enough closed deals with field history (a flat export's import) gets a win
model trained on what was known when each deal was created (`planning.pipeline.creation_model`)
and no slip model; its card says so.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from planning import audit
from planning.asof import as_of_moment
from planning.clock import now_utc
from planning.errors import RevPlanError
from planning.pipeline import creation_model as cm
from planning.pipeline import model as dm
from planning.progress import ProgressCallback, no_progress
from planning.store import Workspace
from planning.store import deal_models as repo
from planning.store import pipeline_features as pf
from planning.store.kpis import fiscal_year_start_month

TEST_SHARE = 0.25
MIN_TRAINING_DEALS = 200
EXPLAINED_FEATURES = (
    "days_since_activity", "activities_30d", "pushes", "days_to_close", "has_next_step",
    "next_step_overdue_days", "stage_age_days", "size_vs_segment", "amount_change_ratio",
    "owner_win_rate", "deal_age_days", "forecast_category",
)


@dataclass
class TrainingReport:
    """Both model cards and how long training took."""

    win: dm.ModelCard
    slip: dm.ModelCard | None
    """None when the workspace has no field history to learn slips from."""
    win_model_id: str
    slip_model_id: str | None
    seconds: float
    snapshots: int
    scored_deals: int = 0
    """Open deals scored with the new models."""

    def to_text(self) -> str:
        """A few lines for people."""
        if self.win.note:
            lines = [f"Win model {self.win.note}; no slip model without it "
                     f"({self.snapshots:,} deals, {self.seconds:.1f} s)."]
        else:
            lines = [f"Trained on {self.snapshots:,} point-in-time snapshots in "
                     f"{self.seconds:.1f} s."]
        for label, card, model_id in (("Win probability", self.win, self.win_model_id),
                                      ("Slip risk", self.slip, self.slip_model_id)):
            if card is None:
                continue
            m = card.metrics
            baseline = "base-rate" if card.note else "stage"
            lines.append(
                f"{label} ({model_id}): held-out AUC {m['auc']:.3f}, Brier {m['brier']:.4f} "
                f"({baseline} baseline {m['baseline_brier']:.4f}); trained on "
                f"{card.rows_train:,} rows closing {card.train_from}..{card.train_to}, "
                f"tested on {card.rows_test:,} rows closing {card.test_from}..{card.test_to}."
            )
            lines += [f"Warning ({label.lower()}): {leak['message']}." for leak in card.leaks]
        return "\n".join(lines)


def _split(facts: pd.DataFrame) -> pd.Series:
    """True for rows of the newest TEST_SHARE of deals by close time."""
    closes = facts.groupby("opportunity_id")["closed_at"].first().sort_values(kind="stable")
    cut = closes.iloc[int(len(closes) * (1 - TEST_SHARE))]
    return facts["closed_at"] >= cut


def _card(target: str, facts: pd.DataFrame, test: pd.Series, metrics: dict,
          reliability: dict, importance: dict, fitted: dm.DealModel) -> dm.ModelCard:
    def span(rows: pd.DataFrame) -> tuple[dt.date | None, dt.date | None]:
        if rows.empty:
            return None, None
        return rows["closed_at"].min().date(), rows["closed_at"].max().date()

    train_from, train_to = span(facts[~test])
    test_from, test_to = span(facts[test])
    return dm.ModelCard(
        target=target, train_from=train_from, train_to=train_to, test_from=test_from,
        test_to=test_to, rows_train=int((~test).sum()), rows_test=int(test.sum()),
        features=list(fitted.features), metrics={k: dm.finite(v) for k, v in metrics.items()},
        reliability=reliability, importance=importance,
        leaks=[leak.to_dict() for leak in fitted.leaks],
        note=cm.NOTE if fitted.basis == "creation" else "",
    )


def _train_one(target: str, facts: pd.DataFrame, matrix: pd.DataFrame, labels: np.ndarray,
               start_month: int, seed: int, basis: str = "history"
               ) -> tuple[dm.DealModel, dm.ModelCard]:
    test = _split(facts)
    if labels[~test.to_numpy()].min() == labels[~test.to_numpy()].max():
        raise RevPlanError(f"The {target} training rows all have the same outcome.")
    weights = dm.deal_weights(facts["opportunity_id"])
    train_rows, test_rows = ~test.to_numpy(), test.to_numpy()
    fitted = dm.fit(matrix[train_rows], labels[train_rows], weights[train_rows],
                    pd.to_datetime(facts.loc[train_rows, "closed_at"]), target, start_month,
                    seed, groups=facts.loc[train_rows, "opportunity_id"].to_numpy(),
                    basis=basis)
    if "stage" in matrix.columns:
        baseline = dm.stage_baseline(matrix.loc[train_rows, "stage"], labels[train_rows],
                                     matrix.loc[test_rows, "stage"])
    else:
        baseline = np.full(int(test_rows.sum()), labels[train_rows].mean())
    metrics, reliability = dm.evaluate(fitted, matrix[test_rows], labels[test_rows],
                                       weights[test_rows], baseline)
    importance = dm.permutation_importance(fitted, matrix[test_rows].reset_index(drop=True),
                                           labels[test_rows], seed)
    return fitted, _card(target, facts, test, metrics, reliability, importance, fitted)


def build_training_rows(
    workspace: Workspace, as_of: dt.datetime, per_deal: int, max_deals: int | None, seed: int
) -> tuple[pd.DataFrame, int]:
    """Point-in-time facts of past moments of deals closed before `as_of`, and the fiscal
    start month."""
    def read(cur) -> tuple[pd.DataFrame, int]:
        snaps = pf.training_snapshots(cur, per_deal, max_deals, seed, as_of)
        facts = pf.snapshot_features(cur, snaps)
        facts = facts.merge(snaps[["snapshot_id", "closed_at", "status"]], on="snapshot_id")
        return facts, fiscal_year_start_month(cur)

    return workspace.read_snapshot(read)


def slip_rows(
    facts: pd.DataFrame, matrix: pd.DataFrame, as_of: dt.datetime, start_month: int
) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """Rows for the slip model and their labels.

    A row counts when, at its moment, the deal's close date lay inside the current fiscal
    quarter, that quarter had ended by `as_of`, and the deal was eventually won; it slipped
    when it was won after the quarter's last day. Slip risk is thus the chance that a deal,
    if won, is won too late for this quarter, and win probability × (1 − slip risk) is the
    chance it books this quarter.
    """
    q_end = dm.quarter_end(pd.to_datetime(facts["moment"]), start_month)
    close_at = pd.to_datetime(facts["close_date_at"])
    keep = ((close_at <= q_end) & (q_end < pd.Timestamp(as_of).normalize())
            & (facts["status"] == "won")).to_numpy()
    labels = (pd.to_datetime(facts["closed_at"]).dt.normalize() > q_end).to_numpy()[keep]
    return (facts[keep].reset_index(drop=True), matrix[keep].reset_index(drop=True),
            labels.astype(int))


@dataclass
class FittedAsOf:
    """Models fitted on what was known at a moment, for backtests."""

    win: dm.DealModel
    slip: dm.DealModel | None
    start_month: int


def fit_models_as_of(
    workspace: Workspace, moment: dt.datetime, *, per_deal: int = 3,
    max_deals: int | None = 20_000, seed: int = 7,
) -> FittedAsOf:
    """Win and slip models fitted on everything closed before `moment`, nothing after.

    For backtests: no evaluation split, nothing stored. The slip model is None when too few
    quarters had ended to learn it.
    """
    facts, start_month = build_training_rows(workspace, moment, per_deal, max_deals, seed)
    if facts["opportunity_id"].nunique() < MIN_TRAINING_DEALS:
        raise RevPlanError(
            f"Only {facts['opportunity_id'].nunique()} deals with stage history had closed "
            f"before {moment:%Y-%m-%d}; at least {MIN_TRAINING_DEALS} are needed to train. "
            f"A backtest replays deals as they stood each week, which needs {cm.HISTORY_EXPORT}; "
            "deal scores and the live forecast work without it."
        )
    matrix = dm.model_matrix(facts, start_month)
    labels = (facts["status"] == "won").to_numpy(dtype=int)
    win = dm.fit(matrix, labels, dm.deal_weights(facts["opportunity_id"]),
                 pd.to_datetime(facts["closed_at"]), "win", start_month, seed)
    slip_facts, slip_matrix, slip_labels = slip_rows(facts, matrix, moment, start_month)
    slip = None
    if slip_facts["opportunity_id"].nunique() >= MIN_TRAINING_DEALS and 0 < slip_labels.mean() < 1:
        slip = dm.fit(slip_matrix, slip_labels, dm.deal_weights(slip_facts["opportunity_id"]),
                      pd.to_datetime(slip_facts["closed_at"]), "slip", start_month, seed)
    return FittedAsOf(win, slip, start_month)


@dataclass
class TrainingInput:
    """What training reads from the workspace: the closed deals' point-in-time rows and the open
    deals to score, as of one moment. Plain data, so that a job process can fit from it."""

    as_of: dt.datetime
    start_month: int
    basis: str
    """"history" (snapshots of deals as they stood) or "creation" (what was known at creation)."""
    facts: pd.DataFrame
    matrix: pd.DataFrame
    open_ids: pd.Series
    open_matrix: pd.DataFrame
    seed: int


@dataclass
class FittedModels:
    """Fitted win and slip models, their cards and the open deals' scores, not yet stored."""

    win: dm.DealModel
    win_card: dm.ModelCard
    slip: dm.DealModel | None
    slip_card: dm.ModelCard | None
    scores: pd.DataFrame
    """opportunity_id, win_probability, slip_probability, reasons_json."""
    trained_at: dt.datetime
    as_of: dt.datetime
    snapshots: int
    seconds: float

    @property
    def model_ids(self) -> dict[str, str | None]:
        """The ids the models are stored under (from the moment they were trained)."""
        stamp = (f"{self.trained_at:%Y%m%d-%H%M%S}-"
                 f"{self.trained_at.microsecond // 1000:03d}")
        return {"win": f"win-{stamp}", "slip": f"slip-{stamp}" if self.slip else None}


def read_training_input(
    workspace: Workspace, *, as_of: dt.datetime | None = None, per_deal: int = 4,
    max_deals: int | None = 60_000, seed: int = 7, progress: ProgressCallback = no_progress,
) -> TrainingInput:
    """Read the rows to train on and the open deals to score, as of `as_of` (default: the end
    of the workspace's as-of day). Refuses, in words, a workspace with too few closed deals."""
    as_of = as_of or as_of_moment(workspace)
    progress(0.1, "building point-in-time training rows")
    facts, start_month = build_training_rows(workspace, as_of, per_deal, max_deals, seed)
    if facts["opportunity_id"].nunique() < MIN_TRAINING_DEALS:
        progress(0.5, "no field history: building what was known at each deal's creation")
        deals, matrix = cm.creation_rows(workspace, as_of)
        cm.check_trainable(deals, facts["opportunity_id"].nunique(), MIN_TRAINING_DEALS, as_of)
        closed = deals["status"].isin(["won", "lost"]).to_numpy()
        open_now = deals["open_now"].astype(bool).to_numpy()
        return TrainingInput(
            as_of, start_month, "creation", deals[closed].reset_index(drop=True),
            matrix[closed].reset_index(drop=True),
            deals.loc[open_now, "opportunity_id"].reset_index(drop=True),
            matrix[open_now].reset_index(drop=True), seed)
    progress(0.6, "reading open deals as of the as-of date")
    open_facts = workspace.read_snapshot(
        lambda cur: pf.snapshot_features(cur, pf.open_deal_snapshots(cur, as_of)))
    open_matrix = (dm.model_matrix(open_facts, start_month) if not open_facts.empty
                   else pd.DataFrame())
    return TrainingInput(as_of, start_month, "history", facts,
                         dm.model_matrix(facts, start_month),
                         open_facts.get("opportunity_id", pd.Series(dtype=str)),
                         open_matrix, seed)


def fit_deal_models(data: TrainingInput,
                    progress: ProgressCallback = no_progress) -> FittedModels:
    """Fit the win model (and the slip model on field history), evaluate them on the newest
    quarter and score the open deals. Pure computation: runs in a job process."""
    started = time.perf_counter()
    facts, matrix, start_month, seed = data.facts, data.matrix, data.start_month, data.seed
    slip_model = slip_card = None
    win_labels = (facts["status"] == "won").to_numpy(dtype=int)
    if data.basis == "creation":
        progress(0.1, "training the win-probability model on creation-time features")
        win_model, win_card = _train_one("win", facts, matrix, win_labels, start_month, seed,
                                         "creation")
        explained = cm.EXPLAINED_FEATURES
    else:
        progress(0.1, "training the win-probability model")
        win_model, win_card = _train_one("win", facts, matrix, win_labels, start_month, seed)
        progress(0.55, "training the slip-risk model")
        slip_facts, slip_matrix, slip_labels = slip_rows(facts, matrix, data.as_of, start_month)
        slip_model, slip_card = _train_one("slip", slip_facts, slip_matrix, slip_labels,
                                           start_month, seed)
        explained = EXPLAINED_FEATURES
    progress(0.85, "scoring the open deals")
    scores = _scores(win_model, slip_model, data.open_ids, data.open_matrix, explained)
    progress(1.0, "done")
    return FittedModels(win_model, win_card, slip_model, slip_card, scores, now_utc(), data.as_of,
                        len(facts), time.perf_counter() - started)


def _scores(win_model: dm.DealModel, slip_model: dm.DealModel | None, ids: pd.Series,
            matrix: pd.DataFrame, explained: tuple[str, ...]) -> pd.DataFrame:
    """Win and slip probabilities of the open deals, with the reasons behind them."""
    win = win_model.predict(matrix) if len(ids) else np.array([])
    slip = (slip_model.predict(matrix) if slip_model is not None and len(ids)
            else np.full(len(ids), np.nan))
    effects = win_model.effects(matrix, explained) if len(ids) else pd.DataFrame()
    return pd.DataFrame({"opportunity_id": ids.to_numpy(), "win_probability": win,
                         "slip_probability": slip,
                         "reasons_json": reasons_json(matrix, effects)})


def store_deal_models(workspace: Workspace, fitted: FittedModels, *, actor: str = "system",
                      actor_role: str | None = None) -> TrainingReport | None:
    """Store the fitted models as the active ones, with their cards and the open deals' scores,
    in one audited transaction. None when these fitted models are stored already (two
    sessions may store the same finished job)."""
    ids = fitted.model_ids

    def store(cur) -> bool:
        if repo.model_exists(cur, ids["win"]):
            return False
        if fitted.slip is None:
            repo.deactivate_models(cur, "slip")
        for target, model, card in (("win", fitted.win, fitted.win_card),
                                    ("slip", fitted.slip, fitted.slip_card)):
            if model is None:
                continue
            repo.insert_model_version(cur, {
                "model_id": ids[target], "target": target, "trained_at": fitted.trained_at,
                "trained_by": actor, "train_from": card.train_from, "train_to": card.train_to,
                "test_from": card.test_from, "test_to": card.test_to,
                "rows_train": card.rows_train, "rows_test": card.rows_test,
                "features": card.features,
                "metrics_json": json.dumps({**card.metrics, "importance": card.importance,
                                            "leaks": card.leaks, "note": card.note}),
                "reliability_json": json.dumps(card.reliability),
                "model_blob": model.to_bytes(),
            })
        repo.replace_scores(cur, ids["win"], fitted.scores.assign(
            model_id=ids["win"], scored_at=fitted.trained_at)[SCORE_COLUMNS])
        audit.record(
            cur, actor=actor, actor_role=actor_role, action="model.train",
            entity="model_version", entity_id=ids["win"],
            after={"models": ids, "win": fitted.win_card.metrics,
                   "slip": None if fitted.slip_card is None else fitted.slip_card.metrics,
                   "as_of": fitted.as_of.isoformat(), "scored_deals": len(fitted.scores)},
        )
        return True

    if not workspace.write(store):
        return None
    return TrainingReport(win=fitted.win_card, slip=fitted.slip_card, win_model_id=ids["win"],
                          slip_model_id=ids["slip"], seconds=fitted.seconds,
                          snapshots=fitted.snapshots, scored_deals=len(fitted.scores))


SCORE_COLUMNS = ["model_id", "opportunity_id", "scored_at", "win_probability",
                 "slip_probability", "reasons_json"]


def train_deal_models(
    workspace: Workspace, *, actor: str = "system", actor_role: str | None = None,
    as_of: dt.datetime | None = None, per_deal: int = 4, max_deals: int | None = 60_000,
    seed: int = 7, progress: ProgressCallback = no_progress,
) -> TrainingReport:
    """Train the win and slip models on deals closed before `as_of`, make them active and score
    the open deals with them, in this process (the app runs the fit as a job instead: see
    `planning.pipeline.model_jobs`).

    `as_of` defaults to the end of the workspace's as-of day (see `planning.asof.as_of_moment`).
    """
    started = time.perf_counter()
    data = read_training_input(workspace, as_of=as_of, per_deal=per_deal, max_deals=max_deals,
                               seed=seed, progress=lambda f, m: progress(0.3 * f, m))
    fitted = fit_deal_models(data, progress=lambda f, m: progress(0.3 + 0.6 * f, m))
    progress(0.9, "storing the models")
    report = store_deal_models(workspace, fitted, actor=actor, actor_role=actor_role)
    if report is None:
        raise RevPlanError("These models were stored already; train again for new ones.")
    report.seconds = time.perf_counter() - started
    progress(1.0, "done")
    return report


REASON_TEMPLATES = {
    "days_since_activity": lambda v, f: f"no activity for {v:.0f} days"
    if v >= 7 else f"active in the last {max(v, 1):.0f} days",
    "activities_30d": lambda v, f: f"{v:.0f} activities in the last 30 days",
    "pushes": lambda v, f: f"close date pushed {v:.0f} times" if v else "close date never pushed",
    "days_to_close": lambda v, f: f"close date passed {-v:.0f} days ago"
    if v < 0 else f"closes in {v:.0f} days",
    "has_next_step": lambda v, f: "next step set" if v else "no next step",
    "next_step_overdue_days": lambda v, f: f"next step overdue by {v:.0f} days"
    if v > 0 else "next step on time",
    "stage_age_days": lambda v, f: f"{v:.0f} days in {f['stage']}",
    "size_vs_segment": lambda v, f: f"{v:.1f}x the segment's typical deal size",
    "amount_change_ratio": lambda v, f: f"amount cut by {100 * (1 - v):.0f}%"
    if v < 1 else (f"amount raised by {100 * (v - 1):.0f}%" if v > 1 else "amount unchanged"),
    "owner_win_rate": lambda v, f: f"owner's win rate {100 * v:.0f}% over the last year",
    "deal_age_days": lambda v, f: f"open for {v:.0f} days",
    "forecast_category": lambda v, f: f"forecast category {v}",
    "amount_vs_median": lambda v, f: f"{v:.1f}x the typical deal size when created",
    "amount_vs_owner_median": lambda v, f: f"{v:.1f}x the owner's typical deal size",
    "account_win_rate": lambda v, f: f"account's win rate {100 * v:.0f}% on earlier deals",
    "owner_closed_before": lambda v, f: f"owner had closed {v:.0f} deals when it was created",
}


def reasons_json(matrix: pd.DataFrame, effects: pd.DataFrame, top: int = 3) -> list[str]:
    """Per row, the features that move its win probability most, worded, strongest first.

    A feature counts when its actual value moves the probability by at least a point against
    the feature's typical value.
    """
    if matrix.empty:
        return []
    names = list(effects.columns)
    values = effects.to_numpy()
    order = np.argsort(-np.abs(values), axis=1, kind="stable")[:, :top]
    records = matrix[names + [c for c in ("stage",) if c in matrix.columns]].to_dict("records")
    out = []
    for i, row in enumerate(records):
        reasons = []
        for j in order[i]:
            effect = values[i, j]
            value = row[names[j]]
            if abs(effect) < 0.01 or (isinstance(value, float) and np.isnan(value)):
                continue
            reasons.append({"feature": names[j], "effect": round(float(effect), 3),
                            "text": REASON_TEMPLATES[names[j]](value, row)})
        out.append(json.dumps(reasons))
    return out


@dataclass
class ScoringReport:
    """How many open deals were scored, by which models, in how long."""

    win_model_id: str
    slip_model_id: str | None
    deals: int
    seconds: float


def score_open_deals(
    workspace: Workspace, *, as_of: dt.datetime | None = None,
    progress: ProgressCallback = no_progress,
) -> ScoringReport:
    """Score every open deal with the active models, store probabilities and reasons.

    `as_of` defaults to the end of the workspace's as-of day, like training.
    """
    started = time.perf_counter()

    def load(cur):
        return (repo.active_model(cur, "win"), repo.active_model(cur, "slip"),
                fiscal_year_start_month(cur))

    win_entry, slip_entry, start_month = workspace.read(load)
    if win_entry is None:
        raise RevPlanError("No deal risk model is trained yet: train one first.")
    win_model = dm.DealModel.from_bytes(win_entry[1])
    slip_model = dm.DealModel.from_bytes(slip_entry[1]) if slip_entry else None
    moment = as_of or as_of_moment(workspace)
    progress(0.1, "reading open deals as of now")
    explained = EXPLAINED_FEATURES
    if win_model.basis == "creation":
        deals, matrix = cm.creation_rows(workspace, moment)
        facts = deals.loc[deals["open_now"].astype(bool), ["opportunity_id"]]
        matrix = matrix.loc[facts.index].reset_index(drop=True)
        facts = facts.reset_index(drop=True)
        slip_model, explained = None, cm.EXPLAINED_FEATURES
    else:
        facts = workspace.read_snapshot(
            lambda cur: pf.snapshot_features(cur, pf.open_deal_snapshots(cur, moment)))
        matrix = dm.model_matrix(facts, start_month) if not facts.empty else pd.DataFrame()
    progress(0.4, "scoring")
    win = win_model.predict(matrix)
    slip = slip_model.predict(matrix) if slip_model is not None else np.full(len(facts), np.nan)
    progress(0.6, "explaining")
    effects = win_model.effects(matrix, explained) if len(facts) else pd.DataFrame()
    reasons = reasons_json(matrix, effects)
    scores = pd.DataFrame({
        "model_id": win_entry[0], "opportunity_id": facts.get("opportunity_id", []),
        "scored_at": now_utc(), "win_probability": win, "slip_probability": slip,
        "reasons_json": reasons,
    })
    progress(0.9, "storing scores")
    workspace.write(lambda cur: repo.replace_scores(cur, win_entry[0], scores))
    progress(1.0, "done")
    return ScoringReport(win_entry[0], slip_entry[0] if slip_entry else None, len(scores),
                         time.perf_counter() - started)


def model_cards(workspace: Workspace) -> pd.DataFrame:
    """Every stored model version's card, newest first."""
    return workspace.read(repo.model_cards)


def card_dict(card: dm.ModelCard) -> dict[str, object]:
    """A model card as plain JSON-ready values."""
    out = asdict(card)
    for key in ("train_from", "train_to", "test_from", "test_to"):
        out[key] = None if out[key] is None else out[key].isoformat()
    return out
