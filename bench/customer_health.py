"""Customer health on the `large` demo: training the churn model (point-in-time rows, fit,
held-out evaluation, scoring) and rescoring every account with a live subscription."""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

from bench.large_workspace import large_workspace_dir
from bench.report import Report
from planning.health.training import score_accounts, train_health_model
from planning.store import close_all_workspaces, open_workspace
from planning.store.audit_anchor import anchor_path


def run(report: Report) -> None:
    """Train once, then time a full rescore, on a private copy of the large demo."""
    with tempfile.TemporaryDirectory(prefix="revplan-bench-health-") as folder:
        source = large_workspace_dir() / "large.duckdb"
        shutil.copy(source, Path(folder) / "large.duckdb")
        if anchor_path(source).exists():
            shutil.copy(anchor_path(source), anchor_path(Path(folder) / "large.duckdb"))
        workspace = open_workspace("large", base=Path(folder))
        try:
            started = time.perf_counter()
            trained = train_health_model(workspace)
            training = time.perf_counter() - started
            started = time.perf_counter()
            scored = score_accounts(workspace)
            scoring = time.perf_counter() - started
        finally:
            close_all_workspaces()
    metrics = trained.card.metrics
    report("health: train churn model on the large demo", training, "s")
    report("health: held-out AUC (large demo)", metrics["auc"] or float("nan"), "")
    report("health: held-out Brier (large demo)", metrics["brier"] or float("nan"), "")
    report(f"health: score all {scored.accounts:,} accounts (large demo)", scoring, "s")
