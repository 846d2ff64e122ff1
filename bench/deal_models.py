"""Deal risk model training time and scoring throughput on the `large` demo workspace."""

from __future__ import annotations

import datetime as dt

from bench.large_workspace import AS_OF, large_workspace_dir
from bench.report import Report
from planning.pipeline.training import score_open_deals, train_deal_models
from planning.store import close_all_workspaces, open_workspace


def run(report: Report) -> None:
    """Train both models (default sampling: up to 60,000 deals, 4 moments each), then score
    every open deal with reasons."""
    workspace = open_workspace("large", base=large_workspace_dir())
    moment = dt.datetime.combine(AS_OF, dt.time(12))
    trained = train_deal_models(workspace, as_of=moment, actor="bench")
    report("large: training rows (point-in-time snapshots)", trained.snapshots, "rows")
    report("large: train both models", trained.seconds, "s")
    report("large: win model held-out AUC", trained.win.metrics["auc"], "")
    report("large: win model Brier", trained.win.metrics["brier"], "")
    report("large: stage baseline Brier", trained.win.metrics["baseline_brier"], "")
    scored = score_open_deals(workspace, as_of=moment)
    report("large: open deals scored (with reasons)", scored.deals, "deals")
    report("large: scoring seconds", scored.seconds, "s")
    report("large: scoring throughput", scored.deals / scored.seconds, "deals/s")
    close_all_workspaces()
