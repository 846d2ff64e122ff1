"""Training on one flat opportunity export through a mapping file, without a workspace.

The export is written from the demo workspace's deals with headers, money and date formats of
another CRM, plus a few broken rows. The command line must read it, reject only the broken rows,
and beat the base rate on the newest quarter of deals. The feature tests prove the features are
what was known when each deal was created: a deal's own stage and close date never change its
features, and no outcome that became known after a deal's creation reaches its features.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pandas.testing as pdt
import pytest

from planning.cli import main
from planning.pipeline.csv_training import (
    CsvDeals,
    creation_features,
    outcome_known_at,
    read_opportunity_csv,
)
from planning.store import Workspace

HEADER = ["Deal Ref", "Client", "Seller", "Phase", "Value (USD)", "Opened On", "Expected Close",
          "Deal Kind", "Product"]
MAPPING = """entity = "opportunities"

[columns]
opportunity_id = "Deal Ref"
account_id = "Client"
owner_id = "Seller"
stage = "Phase"
amount = "Value (USD)"
created_at = "Opened On"
close_date = "Expected Close"
type = "Deal Kind"
product_id = "Product"

[values.status]
"Closed Won" = "won"
"Closed Lost" = "lost"
"*" = "open"
"""
BROKEN_ROWS = [
    ["BAD-1", "Acme Corp", "Ava Patel", "Proposal", "lots", "03/04/2025", "06/30/2025", "", ""],
    ["BAD-2", "Acme Corp", "Ava Patel", "Closed Won", "$1,000.00", "03/04/2025", "", "", ""],
    ["BAD-3", "Acme Corp", "Ava Patel", "Closed Lost", "$2,000.00", "02/30/2025", "06/30/2025",
     "", ""],
]
"""An unreadable amount, a closed deal without a close date, an impossible date."""
OPEN_STAGES = ["Prospecting", "Qualification", "Discovery", "Proposal", "Negotiation"]


def _deal_rows(workspace: Workspace) -> list[list[str]]:
    """The workspace's deals as another CRM would export them."""
    frame = workspace.read(lambda cur: cur.execute(
        """SELECT o.opportunity_id, a.name AS account, r.name AS owner, o.stage,
                  o.amount_cents, o.created_at, o.close_date, o.type, o.product_id
           FROM opportunities o JOIN accounts a USING (account_id)
           JOIN reps r ON r.rep_id = o.owner_id ORDER BY o.opportunity_id""").df())
    return [[row.opportunity_id, row.account, row.owner, row.stage,
             f"${row.amount_cents / 100:,.2f}", f"{row.created_at:%m/%d/%Y}",
             f"{row.close_date:%m/%d/%Y}", row.type, row.product_id]
            for row in frame.itertuples()]


def _write(folder: Path, rows: list[list[str]], name: str = "deals.csv") -> tuple[Path, Path]:
    path = folder / name
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        writer.writerows(rows)
    mapping = folder / "deals-mapping.toml"
    mapping.write_text(MAPPING, encoding="utf-8")
    return path, mapping


def _closed_counts(workspace: Workspace) -> tuple[int, int]:
    return workspace.read(lambda cur: cur.execute(
        """SELECT count(*) FILTER (WHERE status IN ('won', 'lost')),
                  count(*) FILTER (WHERE status = 'open') FROM opportunities""").fetchone())


def test_the_command_line_trains_on_a_mapped_export(
    demo_copy: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = _deal_rows(demo_copy)
    csv_path, mapping = _write(tmp_path, rows + BROKEN_ROWS)
    report_path = tmp_path / "report.json"
    closed, still_open = _closed_counts(demo_copy)

    code = main(["pipeline", "train", "--csv", str(csv_path), "--mapping", str(mapping),
                 "--report", str(report_path)])

    out = capsys.readouterr().out
    assert code == 0
    report = json.loads(report_path.read_text(encoding="utf-8"))
    assert report["rows_read"] == len(rows) + 3
    assert report["rows_rejected"] == 3
    assert report["rejected_by_reason"] == {"invalid amount": 1, "invalid date": 1,
                                            "missing required value": 1}
    assert report["rows_open"] == still_open
    assert report["rows_train"] + report["rows_test"] == closed
    assert report["rows_test"] == closed - int(closed * 0.75)
    assert report["train_to"] <= report["test_from"]
    assert report["auc"] > 0.55
    assert report["brier"] < report["base_rate_brier"]
    assert set(report["features"]) >= {"amount", "amount_vs_median", "owner_win_rate",
                                       "account_win_rate", "type", "product_id"}
    assert not set(report["features"]) & {"stage", "close_date", "cycle_days", "status"}
    assert set(report["importance"]) == set(report["features"])
    assert f"Held-out AUC {report['auc']:.3f}" in out
    assert f"base-rate Brier {report['base_rate_brier']:.4f}" in out
    assert f"Trained on {report['rows_train']:,} deals" in out


def test_the_csv_path_needs_no_workspace_and_refuses_mixed_options(
    demo_copy: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv_path, mapping = _write(tmp_path, _deal_rows(demo_copy)[:50])

    mixed = main(["pipeline", "train", "--csv", str(csv_path), "--mapping", str(mapping),
                  "--workspace", "demo"])
    too_few = main(["pipeline", "train", "--csv", str(csv_path), "--mapping", str(mapping)])
    missing = main(["pipeline", "train", "--csv", str(tmp_path / "nope.csv"), "--mapping",
                    str(mapping)])

    err = capsys.readouterr().err
    assert (mixed, too_few, missing) == (2, 2, 2)
    assert "leave out --workspace" in err
    assert "at least 100 are needed" in err
    assert "nope.csv: file not found" in err


@pytest.fixture
def export(demo_copy: Workspace, tmp_path: Path) -> tuple[list[list[str]], CsvDeals]:
    """The demo deals as an export, and what reading it gives."""
    rows = _deal_rows(demo_copy)
    csv_path, mapping = _write(tmp_path, rows)
    return rows, read_opportunity_csv(csv_path, mapping)


def test_open_deals_stage_and_close_date_in_the_file_change_no_feature(
    export: tuple[list[list[str]], CsvDeals], tmp_path: Path
) -> None:
    """Rewriting every open deal's stage and close date in the file (their status stays open)
    leaves the whole feature matrix as it was."""
    rows, deals = export
    rng = np.random.default_rng(3)
    changed = []
    for row in rows:
        row = list(row)
        if row[3] not in ("Closed Won", "Closed Lost"):
            row[3] = OPEN_STAGES[int(rng.integers(len(OPEN_STAGES)))]
            row[6] = f"{dt.date(2027, 1, 1) + dt.timedelta(days=int(rng.integers(400))):%m/%d/%Y}"
        changed.append(row)
    csv_path, mapping = _write(tmp_path, changed, "changed.csv")
    again = read_opportunity_csv(csv_path, mapping)

    assert (again.frame["stage"] != deals.frame["stage"]).sum() > 100
    pdt.assert_series_equal(again.frame["status"], deals.frame["status"])
    pdt.assert_frame_equal(creation_features(again.frame, again.categorical),
                           creation_features(deals.frame, deals.categorical))


def test_a_deals_own_stage_and_close_date_never_change_its_features(
    export: tuple[list[list[str]], CsvDeals],
) -> None:
    """For sampled closed deals, any other stage and close date (status kept as the label)
    leaves that deal's feature row identical; every stage at once changes no feature at all."""
    _, deals = export
    frame = deals.frame
    features = creation_features(frame, deals.categorical)
    rng = np.random.default_rng(5)
    closed = frame.index[frame["status"].isin(["won", "lost"])]
    for index in rng.choice(closed, size=40, replace=False):
        moved = frame.copy()
        moved.loc[index, "stage"] = "Somewhere else"
        for close in (moved.loc[index, "created_at"].normalize(),
                      moved.loc[index, "close_date"] + pd.Timedelta(days=365)):
            moved.loc[index, "close_date"] = close
            again = creation_features(moved, deals.categorical)
            pdt.assert_series_equal(again.loc[index], features.loc[index])

    shuffled = frame.assign(stage=rng.permutation(frame["stage"].to_numpy()))
    pdt.assert_frame_equal(creation_features(shuffled, deals.categorical), features)


def test_no_outcome_known_after_a_deals_creation_reaches_its_features(
    export: tuple[list[list[str]], CsvDeals],
) -> None:
    """Scramble the outcome, close date and stage of every deal not yet closed at a cut-off:
    the features of every deal created by then are unchanged, and later deals' do change."""
    _, deals = export
    frame = deals.frame
    cutoff = frame["created_at"].quantile(0.6)
    features = creation_features(frame, deals.categorical)
    future = (outcome_known_at(frame) >= cutoff).to_numpy()
    rng = np.random.default_rng(8)
    scrambled = frame.copy()
    scrambled.loc[future, "status"] = rng.choice(["won", "lost"], size=future.sum())
    scrambled.loc[future, "stage"] = "Scrambled"
    scrambled.loc[future, "close_date"] = cutoff.normalize() + pd.to_timedelta(
        rng.integers(0, 500, size=future.sum()), unit="D")

    again = creation_features(scrambled, deals.categorical)

    before = (frame["created_at"] <= cutoff).to_numpy()
    assert before.sum() > 1000 and future.sum() > 500
    pdt.assert_frame_equal(again[before], features[before])
    assert not again[~before].equals(features[~before])


def test_owner_history_counts_only_outcomes_known_before_creation() -> None:
    """A hand-made book: closes count from the end of their close day, the deal itself never."""
    day = pd.Timestamp
    frame = pd.DataFrame({
        "opportunity_id": ["a", "b", "c", "d", "e"],
        "account_id": ["x", "x", "y", "y", "x"],
        "owner_id": ["o", "o", "o", "o", "p"],
        "stage": ["Closed Won", "Closed Lost", "Closed Won", "Proposal", "Closed Won"],
        "status": ["won", "lost", "won", "open", "won"],
        "amount_cents": pd.array([100_000, 300_000, 200_000, 400_000, 500_000], dtype="Int64"),
        "created_at": [day("2025-01-01 09:00"), day("2025-01-02 09:00"),
                       day("2025-01-10 09:00"), day("2025-01-10 10:00"),
                       day("2025-01-03 09:00")],
        "close_date": [day("2025-01-05"), day("2025-01-10"), day("2025-01-10"),
                       day("2025-03-01"), day("2025-01-04")],
        "closed_at": pd.Series([pd.NaT] * 5, dtype="datetime64[us]"),
    })
    for column in ("created_at", "close_date"):
        frame[column] = frame[column].astype("datetime64[us]")

    features = creation_features(frame)

    # a closed 5 Jan (known 6 Jan); b closed 10 Jan, known only from 11 Jan.
    assert features["owner_closed_before"].tolist() == [0, 0, 1, 1, 0]
    company_rate_c = (2 + 1) / (2 + 2)  # a and e known before 10 Jan, both won
    assert features.loc[2, "owner_win_rate"] == pytest.approx((1 + 4 * company_rate_c) / 5)
    assert features["account_closed_before"].tolist() == [0, 0, 0, 0, 0]
    assert features.loc[1, "amount_vs_median"] == pytest.approx(3.0)
    assert features.loc[2, "amount_vs_median"] == pytest.approx(200_000 / 300_000)
    assert features.loc[3, "amount_vs_median"] == pytest.approx(400_000 / 250_000)
    assert features.loc[3, "amount_vs_owner_median"] == pytest.approx(2.0)
    assert np.isnan(features.loc[0, "amount_vs_median"])
    assert features["created_weekday"].tolist() == [2, 3, 4, 4, 4]
