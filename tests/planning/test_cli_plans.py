"""`revplan territory solve --workspace ... --save`, `revplan quota solve --save` and
`revplan versions compare` as named people against a real small demo workspace."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from planning.access.roles import Role
from planning.cli import main
from planning.store import Workspace, open_workspace
from planning.versions import list_versions
from tests.views.test_pages import member_emails

FAST = ("--method", "heuristic", "--time-limit", "20", "--tolerance", "0.3")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> object:
    code, out, err = run(capsys, *argv, "--json")
    assert code == 0, err
    return json.loads(out)


def test_territory_solve_saves_a_version_listed_and_refuses_its_name_again(
        demo_copy: Workspace, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    revops = member_emails(demo_copy)[Role.REVOPS]
    ws = ["--workspace", demo_copy.name, "--as", revops]
    solved = run_json(capsys, "territory", "solve", *ws, *FAST, "--save", "FY27 West",
                      "--out", str(tmp_path / "assignment.csv"))
    version_id = solved["version_id"]
    assert version_id.startswith("territory-") and solved["name"] == "FY27 West"
    assert solved["scenario"]["tolerance"] == 0.3 and solved["balance_measure"] == "revenue"
    assert (tmp_path / "assignment.csv").read_text().startswith("unit_id,rep_id\n")
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]

    listed = run_json(capsys, "versions", "list", *ws, "--kind", "territory")
    assert [(v["version_id"], v["name"], v["author"]) for v in listed] == [
        (version_id, "FY27 West", revops)]

    code, out, err = run(capsys, "territory", "solve", *ws, *FAST, "--save", "fy27  west")
    assert code == 2 and not out
    assert err.count("\n") == 1 and err.startswith("error: ") and "already named" in err
    code, out, err = run(capsys, "territory", "solve", *ws, *FAST, "--save", "FY27 again",
                         "--json")
    assert code == 2 and not out
    assert err.count("\n") == 1 and "already saved as version" in err
    assert version_id in err
    assert len(list_versions(open_workspace(demo_copy.name), "territory")) == 1


def test_territory_solve_text_with_options_and_locks(
        demo_copy: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    leader = member_emails(demo_copy)[Role.SALES_LEADER]
    account = demo_copy.read(lambda cur: cur.execute(
        "SELECT account_id FROM accounts WHERE owner_id IS NOT NULL ORDER BY account_id "
        "LIMIT 1").fetchone()[0])
    code, out, err = run(capsys, "territory", "solve", "--workspace", demo_copy.name,
                         "--as", leader, *FAST, "--measure", "accounts", "--lock", account,
                         "--no-segments", "--disruption-weight", "5")
    assert code == 0, err
    assert "600 accounts, 15 reps, balanced on Accounts (count)" in out
    assert "accounts moved ($" in out and "Saved as version" not in out
    assert re.search(r"distance to the rep \d[\d,]*(\.\d)? km avg, weighted by potential\.",
                     out)
    # Through the installed entry point, as a script would run it.
    done = subprocess.run(
        [sys.executable, "-m", "planning.cli", "territory", "solve", "--workspace",
         demo_copy.name, "--as", leader, *FAST, "--measure", "accounts", "--no-segments",
         "--max-moves", "0", "--tolerance", "0.01", "--save", "Impossible"],
        capture_output=True, text=True, check=False, timeout=120)
    assert done.returncode == 3, done.stderr
    assert "must keep at least" in done.stdout
    assert "Not saved: the solve returned no plan." in done.stdout
    assert list_versions(open_workspace(demo_copy.name)).empty


def test_territory_solve_refuses_people_and_mixed_forms_in_one_line(
        demo_copy: Workspace, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    emails = member_emails(demo_copy)
    ws = ["--workspace", demo_copy.name]
    for person, reason in ((emails[Role.COMP], "do not include access to this page"),
                           (emails[Role.MANAGER], "may not territory.solve"),
                           ("stranger@example.com", "no access")):
        code, out, err = run(capsys, "territory", "solve", *ws, "--as", person, *FAST,
                             "--save", "Mine")
        assert code == 2 and not out and reason in err and err.count("\n") == 1
    code, _, err = run(capsys, "territory", "solve", *ws, *FAST)
    assert code == 2 and "needs --as EMAIL" in err
    code, _, err = run(capsys, "territory", "solve", *ws, "--as", emails[Role.REVOPS],
                       "--units", "u.csv", "--reps", "r.csv")
    assert code == 2 and "not both" in err
    code, _, err = run(capsys, "territory", "solve", "--units", str(tmp_path / "u.csv"),
                       "--reps", str(tmp_path / "r.csv"), "--save", "x")
    assert code == 2 and "--save goes with --workspace" in err
    code, _, err = run(capsys, "territory", "solve", *ws, "--as", emails[Role.REVOPS],
                       "--lock", "no-such-account", *FAST)
    assert code == 2 and "no-such-account" in err
    assert list_versions(open_workspace(demo_copy.name)).empty


def _quota_ids(capsys: pytest.CaptureFixture[str], ws: Workspace, comp: str) -> list[str]:
    args = ["quota", "solve", "--workspace", ws.name, "--as", comp, "--fiscal-year", "2027"]
    for target, name in (("40000000", "FY27 base"), ("44000000", "FY27 stretch")):
        code, out, err = run(capsys, *args, "--target", target, "--save", name)
        assert code == 0, err
        assert f"\u201c{name}\u201d" in out
    code, out, err = run(capsys, *args, "--target", "41000000", "--save", "fy27 BASE")
    assert code == 2 and not out and "already named" in err and err.count("\n") == 1
    versions = list_versions(open_workspace(ws.name), "quota")
    return list(versions.sort_values("created_at")["version_id"])


def test_quota_solve_saves_versions_and_compare_prints_and_writes_the_report(
        demo_copy: Workspace, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    emails = member_emails(demo_copy)
    comp, finance = emails[Role.COMP], emails[Role.FINANCE]
    code, _, err = run(capsys, "quota", "solve", "--workspace", demo_copy.name,
                       "--target", "40000000", "--save", "No one")
    assert code == 2 and "needs --as EMAIL" in err
    code, _, err = run(capsys, "quota", "solve", "--workspace", demo_copy.name,
                       "--target", "40000000", "--save", "Viewer's", "--as",
                       emails[Role.VIEWER])
    assert code == 2 and "do not include access" in err
    base, stretch = _quota_ids(capsys, demo_copy, comp)

    ws = ["--workspace", demo_copy.name, "--as", finance]
    report = tmp_path / "compare.html"
    code, out, err = run(capsys, "versions", "compare", base, stretch, *ws,
                         "--html", str(report))
    assert code == 0, err
    assert out.startswith("Quota plan: FY27 base (A) -> FY27 stretch (B)")
    assert "FY27 stretch changes" in out and "quota total +$4" in out
    assert "nan" not in out.lower() and f"Report written to {report}." in out
    page = report.read_text(encoding="utf-8")
    assert page.startswith("<!doctype html>") and "FY27 stretch changes" in page
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]

    compared = run_json(capsys, "versions", "compare", base, stretch, *ws)
    assert compared["kind"] == "quota" and compared["html"] is None
    assert (compared["a"]["version_id"], compared["b"]["version_id"]) == (base, stretch)
    assert compared["summary"].startswith("FY27 stretch changes")
    assert compared["kpis"] and all(set(card) == {"label", "value", "delta", "help"}
                                    for card in compared["kpis"])
    assert any(card["value"].startswith("$") for card in compared["kpis"])

    code, out, err = run(capsys, "versions", "compare", base, stretch,
                         "--workspace", demo_copy.name, "--as", emails[Role.REP])
    assert code == 2 and not out and err.count("\n") == 1
    code, _, err = run(capsys, "versions", "compare", base, "no-such-version", *ws)
    assert code == 2 and err.count("\n") == 1
