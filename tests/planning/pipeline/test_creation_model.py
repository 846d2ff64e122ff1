"""A workspace imported from flat exports (no field history) still gets a win model.

The Salesforce User, Account and Opportunity exports are built in code, without an
OpportunityFieldHistory file. `revplan pipeline train --workspace` then trains on what was known
when each deal was created, says so, and scores every open deal; with too few closed deals it
says in one line what is missing and what to import.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

import numpy as np
import pytest

from planning.cli import main
from planning.ingest import import_files
from planning.periods import fiscal_quarter_of
from planning.pipeline.creation_model import NOTE
from planning.pipeline.forecast import quarter_forecast
from planning.pipeline.scores import scored_open_deals
from planning.store import Workspace, open_workspace

AS_OF = "2025-01-15"
REPS = 8
ACCOUNTS = 80


def _write(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def flat_exports(folder: Path, deals: int, seed: int = 1, booked: bool = False) -> list[Path]:
    """Salesforce User, Account and Opportunity exports; owners differ in skill, so a model
    has something to learn. Deals closing in 2025 are still open. `booked`: the amount is the
    booked value, 0 on every lost deal."""
    rng = np.random.default_rng(seed)
    user_ids = [f"0055e00000000{i:02d}AAA" for i in range(REPS + 1)]
    users = _write(folder / "User.csv", ["Id", "Name", "Email", "ManagerId", "Title", "IsActive"], [
        [uid, f"Rep {i}", f"rep{i}@example.com", "" if i == 0 else user_ids[0],
         "VP Sales" if i == 0 else "Account Executive", "true"]
        for i, uid in enumerate(user_ids)])
    account_ids = [f"0015e0000000{i:03d}AAA" for i in range(ACCOUNTS)]
    accounts = _write(folder / "Account.csv", ["Id", "Name", "Industry", "OwnerId"], [
        [aid, f"Account {i}", "Software", user_ids[1 + i % REPS]]
        for i, aid in enumerate(account_ids)])
    skill = np.linspace(0.15, 0.75, REPS)
    rows = []
    start = dt.datetime(2023, 1, 2, 9)
    for i in range(deals):
        rep = int(rng.integers(REPS))
        created = start + dt.timedelta(days=int(rng.integers(0, 700)), hours=int(i % 8))
        close = (created + dt.timedelta(days=int(rng.integers(20, 120)))).date()
        amount = round(float(rng.lognormal(10, 0.6)), 2)
        if close >= dt.date(2025, 1, 1):
            stage, closed, won = "Proposal", "false", "false"
        elif rng.random() < skill[rep]:
            stage, closed, won = "Closed Won", "true", "true"
        else:
            stage, closed, won = "Closed Lost", "true", "false"
            amount = 0.0 if booked else amount
        rows.append([f"0065e0000{i:06d}AAA", account_ids[int(rng.integers(ACCOUNTS))],
                     user_ids[1 + rep], f"Deal {i}", stage, f"{amount:.2f}", close.isoformat(),
                     f"{created:%Y-%m-%dT%H:%M:%S}.000+0000", closed, won, "New Customer"])
    opportunities = _write(folder / "Opportunity.csv", [
        "Id", "AccountId", "OwnerId", "Name", "StageName", "Amount", "CloseDate", "CreatedDate",
        "IsClosed", "IsWon", "Type"], rows)
    return [users, accounts, opportunities]


def test_a_workspace_without_field_history_trains_on_creation_time_features(
    workspace: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import_files(workspace, flat_exports(tmp_path, 900))
    report_path = tmp_path / "report.json"

    code = main(["pipeline", "train", "--workspace", "test", "--as-of", AS_OF,
                 "--report", str(report_path)])

    out = capsys.readouterr().out
    assert code == 0
    assert NOTE in out
    report = json.loads(report_path.read_text(encoding="utf-8"))
    assert report["slip"] is None and report["slip_model_id"] is None
    assert report["win"]["note"] == NOTE
    assert "owner_win_rate" in report["win"]["features"]
    assert "stage" not in report["win"]["features"]
    assert report["win"]["metrics"]["auc"] > 0.6
    workspace = open_workspace("test")
    active = workspace.read(lambda cur: cur.execute(
        "SELECT target, metrics_json FROM model_versions WHERE is_active").fetchall())
    assert [target for target, _ in active] == ["win"]
    assert json.loads(active[0][1])["note"] == NOTE
    scored = scored_open_deals(workspace, None)
    assert len(scored) > 50
    assert scored["win_probability"].between(0, 1).all()
    assert scored["slip_probability"].isna().all()
    reasons = [reason for row in scored["reasons"] for reason in row]
    assert any("win rate" in reason for reason in reasons)
    today = dt.date(2025, 1, 15)
    forecast = quarter_forecast(workspace, None, fiscal_quarter_of(today), "company",
                                draws=200, today=today)
    assert forecast.scored_deals == len(scored) and forecast.fallback_deals == 0


def test_too_few_closed_deals_without_history_is_one_line_saying_what_to_import(
    workspace: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import_files(workspace, flat_exports(tmp_path, 150))
    closed = workspace.read(lambda cur: cur.execute(
        "SELECT count(*) FROM opportunities WHERE status <> 'open'").fetchone()[0])

    code = main(["pipeline", "train", "--workspace", "test", "--as-of", AS_OF])

    err = capsys.readouterr().err
    message = err.strip().splitlines()[-1].split("\r")[-1]
    assert code == 2
    assert "Traceback" not in err
    assert message.endswith(
        f"Only {closed} deals closed by {AS_OF} (need 200), 0 of them with stage history: "
        "import more closed deals, or the opportunity field history (Salesforce "
        "OpportunityFieldHistory export).")
