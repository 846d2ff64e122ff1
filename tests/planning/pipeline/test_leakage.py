"""The leakage guard in the trainers: a column set at close is left out, named and explained.

Exports are written in code from the demo workspace's deals, with a booked-value amount column
(0 on every lost deal, as many CRMs store it) or a loss reason filled only on lost deals. The
healthy demo models drop nothing (tests/planning/pipeline/test_deal_model.py).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from planning.cli import main
from planning.pipeline.csv_training import AMOUNT_FEATURES, train_from_csv
from planning.pipeline.leakage import (
    CONSTANT_IN_CLASS,
    SAME_SOURCE,
    SEPARATES_ALONE,
    LeakageError,
    find_leaks,
    without_leaks,
)
from planning.store import Workspace
from tests.planning.pipeline.test_csv_training import _deal_rows
from tests.realistic_exports import write_crm_export

HEADER = ["Deal Ref", "Client", "Seller", "Phase", "Booked Value", "Opened On",
          "Expected Close", "Deal Kind", "Product", "Loss Reason"]
LOSS_REASONS = ["Price", "Timing", "Competitor", "No budget"]


def _mapping(amount: str | None = "Booked Value", type_column: str = "Deal Kind") -> str:
    amount_line = f'amount = "{amount}"\n' if amount else ""
    return f"""entity = "opportunities"

[columns]
opportunity_id = "Deal Ref"
account_id = "Client"
owner_id = "Seller"
stage = "Phase"
{amount_line}created_at = "Opened On"
close_date = "Expected Close"
type = "{type_column}"
product_id = "Product"

[values.status]
"Closed Won" = "won"
"Closed Lost" = "lost"
"*" = "open"
"""


def _booked_export(workspace: Workspace, folder: Path, mapping: str) -> tuple[Path, Path]:
    """The demo deals with the amount as booked (0 on lost deals) and a loss reason filled
    only on lost deals."""
    path = folder / "booked.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for i, row in enumerate(_deal_rows(workspace)):
            lost = row[3] == "Closed Lost"
            booked = "$0.00" if lost else row[4]
            reason = LOSS_REASONS[i % len(LOSS_REASONS)] if lost else ""
            writer.writerow([*row[:4], booked, *row[5:], reason])
    mapping_path = folder / "booked-mapping.toml"
    mapping_path.write_text(mapping, encoding="utf-8")
    return path, mapping_path


def test_a_booked_value_amount_is_left_out_by_name_with_the_reason(
    demo_copy: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv_path, mapping = _booked_export(demo_copy, tmp_path, _mapping())
    report_path = tmp_path / "report.json"

    code = main(["pipeline", "train", "--csv", str(csv_path), "--mapping", str(mapping),
                 "--report", str(report_path)])

    out = capsys.readouterr().out
    report = json.loads(report_path.read_text(encoding="utf-8"))
    assert code == 0
    assert "amount" in report["dropped_features"]
    assert "amount" not in report["features"] and "log_amount" not in report["features"]
    amount = next(leak for leak in report["leaks"] if leak["feature"] == "amount")
    assert amount["rule"] == CONSTANT_IN_CLASS
    assert amount["message"].startswith("amount is 0 on 100% of lost deals")
    assert "it looks set at close, so it was left out" in amount["message"]
    assert f"Warning: {amount['message']}." in out
    assert 0.55 < report["auc"] < 0.99
    assert report["brier"] > 0.05
    assert set(report["features"]) >= {"owner_win_rate", "account_win_rate", "type"}


def test_a_loss_reason_filled_only_on_lost_deals_is_left_out(
    demo_copy: Workspace, tmp_path: Path
) -> None:
    csv_path, mapping = _booked_export(demo_copy, tmp_path, _mapping(
        amount=None, type_column="Loss Reason"))

    report = train_from_csv(csv_path, mapping)

    assert report.dropped_features == ["type"]
    assert report.leaks[0]["message"].startswith(
        "type is empty on 100% of won deals and on no lost deals")
    assert report.auc < 0.99


def test_an_export_without_an_amount_trains_on_the_other_features(
    demo_copy: Workspace, tmp_path: Path
) -> None:
    csv_path, mapping = _booked_export(demo_copy, tmp_path, _mapping(amount=None))

    report = train_from_csv(csv_path, mapping)

    assert report.dropped_features == []
    assert not {"amount", "log_amount", "amount_vs_median"} & set(report.features)
    assert {"owner_win_rate", "account_win_rate", "created_month"} <= set(report.features)
    assert 0.5 < report.auc < 0.99
    assert report.rows_rejected == 0


def test_a_near_perfect_numeric_feature_is_named_with_its_auc() -> None:
    rng = np.random.default_rng(3)
    label = rng.integers(0, 2, 2_000)
    features = pd.DataFrame({
        "stage_age": np.where(label == 1, rng.uniform(0, 40, 2_000), rng.uniform(38, 90, 2_000)),
        "noise": rng.normal(size=2_000),
        "segment": rng.choice(["smb", "mid", "ent"], 2_000),
        "account": [f"acc-{i}" for i in range(2_000)],
    })

    kept, leaks = without_leaks(features, label)

    assert [leak.feature for leak in leaks] == ["stage_age"]
    assert leaks[0].rule == SEPARATES_ALONE and leaks[0].auc <= 0.05
    assert leaks[0].message.startswith(
        "stage_age separates won from lost deals almost perfectly on its own (AUC")
    assert list(kept.columns) == ["noise", "segment", "account"]


def test_a_weakly_informative_sparse_feature_is_kept() -> None:
    rng = np.random.default_rng(4)
    label = rng.integers(0, 2, 3_000)
    pushes = np.where((label == 1) & (rng.random(3_000) < 0.2), rng.integers(1, 4, 3_000), 0)

    assert find_leaks(pd.DataFrame({"pushes": pushes}), label) == []


def test_every_feature_leaking_is_one_clear_error() -> None:
    label = np.array([0, 1] * 50)
    features = pd.DataFrame({"booked": label * np.arange(100.0),
                             "reason": np.where(label == 0, "Price", "")})

    with pytest.raises(LeakageError, match=r"^Every feature \(booked, reason\) gives the "
                                           r"outcome away on its own"):
        without_leaks(features, label)


@pytest.mark.parametrize("deals", [300, 1000])
def test_every_feature_built_from_a_leaking_amount_goes_with_it(tmp_path: Path,
                                                                deals: int) -> None:
    """A booked value (0 on lost deals) also hides in ratios to medians, which are missing
    where the median is 0; the whole amount family is left out and the model is not perfect."""
    export = write_crm_export(tmp_path, deals=deals, seed=5)

    report = train_from_csv(export.sales_pipeline, export.mapping)

    assert not set(report.features) & set(AMOUNT_FEATURES)
    rules = {leak["feature"]: leak["rule"] for leak in report.to_dict()["leaks"]}
    assert rules["amount"] == CONSTANT_IN_CLASS
    assert rules["amount_vs_owner_median"] in (SAME_SOURCE, CONSTANT_IN_CLASS, SEPARATES_ALONE)
    same = [leak for leak in report.to_dict()["leaks"] if leak["rule"] == SAME_SOURCE]
    assert all("is computed from amount, which leaks" in leak["message"] for leak in same)
    assert report.auc < 0.9
