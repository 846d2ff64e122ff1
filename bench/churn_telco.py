"""Churn model on the public IBM Telco sample against a plain one-hot logistic regression.

Reads `../shared/data/telco_churn.csv` (never copied into the project) through
`data/samples/telco_churn_mapping.toml` and runs `revplan health train`'s evaluation: 5
stratified 25 % hold-outs (seeds 0-4), the churn model and the plain baseline fitted side by
side on each. The bars (issue 14): mean ROC AUC >= 0.845 and mean Brier below the baseline's.
"""

from __future__ import annotations

from pathlib import Path

from bench.report import Report
from planning.health.csv_training import DEFAULT_SEEDS, train_churn_table

PROJECT = Path(__file__).resolve().parents[1]
TELCO = PROJECT.parent / "shared" / "data" / "telco_churn.csv"
MAPPING = PROJECT / "data" / "samples" / "telco_churn_mapping.toml"


def run(report: Report) -> None:
    """Per-seed and mean AUC and Brier of both models (in %, so the runner's two decimals keep
    four), and the run time."""
    if not TELCO.exists():
        print(f"  skipped: the public Telco churn sample is absent ({TELCO}); see "
              "../shared/data/README.md", flush=True)
        return
    result = train_churn_table(TELCO, MAPPING, seeds=DEFAULT_SEEDS)

    def percent(name: str, value: float) -> None:
        report(name, round(value * 100, 2), "%")

    for seed in result.seeds:
        percent(f"telco seed {seed.seed}: churn model AUC", seed.auc)
        percent(f"telco seed {seed.seed}: churn model Brier", seed.brier)
        percent(f"telco seed {seed.seed}: logistic baseline AUC", seed.baseline_auc)
        percent(f"telco seed {seed.seed}: logistic baseline Brier", seed.baseline_brier)
    percent("telco mean: churn model AUC (bar >= 84.5)", result.auc)
    percent("telco mean: churn model Brier", result.brier)
    percent("telco mean: logistic baseline AUC", result.baseline_auc)
    percent("telco mean: logistic baseline Brier (ours must be lower)",
            result.baseline_brier)
    percent("telco mean: base-rate Brier", result.base_rate_brier)
    report("telco: both bars met (1 = yes)",
           float(result.auc >= 0.845 and result.brier < result.baseline_brier), "")
    report("telco: 5 hold-outs, both models", result.seconds, "s")
