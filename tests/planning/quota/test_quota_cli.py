"""`revplan quota solve` on the demo workspace: quotas.csv and report.json that add up to the
cent, and exit status 2 with one line for infeasible caps and bad settings."""

from __future__ import annotations

import csv
import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pytest

from planning.cli import main
from planning.periods import fiscal_year_of
from planning.store import Workspace, close_all_workspaces, open_workspace
from planning.store.kpis import fiscal_year_start_month


def next_fiscal_year(workspace: Workspace) -> int:
    """The fiscal year the command allocates by default: the one after today's (UTC)."""
    start_month = workspace.read(fiscal_year_start_month)
    return fiscal_year_of(dt.datetime.now(dt.UTC).date(), start_month) + 1


def read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames or []), list(reader)


def test_solve_writes_quotas_and_a_report_that_add_up(
        data_dir: Path, demo_copy: Workspace, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    year = next_fiscal_year(demo_copy)
    active = {r for (r,) in demo_copy.read(lambda cur: cur.execute(
        "SELECT rep_id FROM reps WHERE is_active AND role = 'rep'").fetchall())}
    last = dict(demo_copy.read(lambda cur: cur.execute(
        "SELECT rep_id, quota_cents FROM rep_quotas WHERE fiscal_year = ?",
        [year - 1]).fetchall()))
    close_all_workspaces()
    out, report_path = tmp_path / "quotas.csv", tmp_path / "report.json"

    code = main(["quota", "solve", "--workspace", "demo", "--target", "40000000",
                 "--max-increase", "0.5", "--over-assign", "0.1", "--out", str(out),
                 "--report", str(report_path)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert captured.out.startswith(f"FY{year}: {len(active)} reps, total 44,000,000.00 (optimal")

    header, rows = read_csv(out)
    quarters = [f"FY{year}_Q{k}" for k in range(1, 5)]
    assert header == ["rep_id", "quota", *quarters]
    assert out.read_text(encoding="utf-8").startswith("rep_id,quota,")
    assert {row["rep_id"] for row in rows} == active and len(rows) == len(active)
    quotas = [Decimal(row["quota"]) for row in rows]
    assert sum(quotas) == Decimal("44000000.00")
    for row in rows:
        quota = Decimal(row["quota"])
        assert quota == quota.quantize(Decimal("0.01"))
        assert sum(Decimal(row[q]) for q in quarters) == quota, row["rep_id"]
        if row["rep_id"] in last:  # capped at +50 % over last year's quota
            assert quota * 100 <= Decimal(last[row["rep_id"]]) * Decimal("1.5")

    report = json.loads(report_path.read_text(encoding="utf-8"))
    assert report["status"] == "optimal"
    assert isinstance(report["objective"], float) and report["objective"] >= 0
    assert report["seconds"] >= 0
    assert report["total"] == 44000000.0
    assert report["total_cents"] == 4_400_000_000
    assert report["reps"] == len(active)
    assert report["fiscal_year"] == year
    assert report["scenario"]["target"] == 40000000.0
    assert report["scenario"]["over_assign"] == 0.1
    assert report["scenario"]["max_increase"] == 0.5


def test_infeasible_caps_exit_2_naming_the_binding_caps(
        data_dir: Path, demo_copy: Workspace, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    # reps without a 2026 quota are uncapped, so the company total is always reachable;
    # with fixed team totals a team whose reps all have a quota is not
    teams = demo_copy.read(lambda cur: cur.execute(
        """SELECT coalesce(r.team, 'No team'), list(r.rep_id ORDER BY r.rep_id),
                  bool_and(q.rep_id IS NOT NULL)
           FROM reps r LEFT JOIN rep_quotas q ON q.rep_id = r.rep_id AND q.fiscal_year = 2026
           WHERE r.is_active AND r.role = 'rep' GROUP BY 1 ORDER BY 1""").fetchall())
    assert not all(capped for _, _, capped in teams)
    capped_teams = [(team, reps) for team, reps, capped in teams if capped]
    assert capped_teams
    team, reps = capped_teams[0]
    close_all_workspaces()

    code = main(["quota", "solve", "--workspace", "demo", "--fiscal-year", "2027",
                 "--target", "100000000", "--max-increase", "0", "--fixed-teams",
                 "--out", str(tmp_path / "quotas.csv")])
    captured = capsys.readouterr()
    assert code == 2
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1
    line = lines[0]
    assert line.startswith(f"error: The caps cannot add up to team {team}'s total")
    assert f"Binding: the upper limits of {len(reps)} rep(s)" in line
    for rep in reps[:5]:
        assert rep in line
    assert "year-over-year cap of +" in line
    assert not (tmp_path / "quotas.csv").exists()

    # the same caps without fixed teams: the uncapped reps take the rest
    code = main(["quota", "solve", "--workspace", "demo", "--fiscal-year", "2027",
                 "--target", "100000000", "--max-increase", "0"])
    assert code == 0, capsys.readouterr().err


@pytest.mark.parametrize(("blend", "message"), [
    ("potential:0.5,history:0.5", "--blend 'potential:0.5,history:0.5': write it as"),
    ("potential=half", "write it as potential=0.5"),
    ("potential=0.5,history=0.6", "add up to 1"),
    ("potential=0.5,bookings=0.5", "Unknown blend measure"),
])
def test_bad_blend_exits_2(data_dir: Path, demo_copy: Workspace,
                           capsys: pytest.CaptureFixture[str], blend: str,
                           message: str) -> None:
    close_all_workspaces()
    code = main(["quota", "solve", "--workspace", "demo", "--target", "40000000",
                 "--blend", blend])
    captured = capsys.readouterr()
    assert code == 2
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert message in lines[0]


def test_the_workspace_is_only_read(data_dir: Path, demo_copy: Workspace,
                                    tmp_path: Path) -> None:
    count = demo_copy.read(lambda cur: cur.execute(
        "SELECT count(*) FROM audit_events").fetchone()[0])
    close_all_workspaces()
    assert main(["quota", "solve", "--workspace", "demo", "--target", "40000000",
                 "--out", str(tmp_path / "q.csv")]) == 0
    workspace = open_workspace("demo")
    assert workspace.read(lambda cur: cur.execute(
        "SELECT count(*) FROM quota_scenarios").fetchone()[0]) == 0
    assert workspace.read(lambda cur: cur.execute(
        "SELECT count(*) FROM audit_events").fetchone()[0]) == count
