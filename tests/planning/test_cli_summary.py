"""`revplan summary` and `revplan as-of` on a workspace whose data ended in 2017."""

from __future__ import annotations

import json

import pytest

from planning import audit
from planning.access.policy import system_principal
from planning.cli import main
from planning.store import Workspace, open_workspace
from tests.planning.test_asof import seed_old_workspace


def output(capsys: pytest.CaptureFixture[str]) -> tuple[str, str]:
    captured = capsys.readouterr()
    return captured.out, captured.err


@pytest.fixture
def old_workspace(workspace: Workspace) -> Workspace:
    seed_old_workspace(workspace)
    workspace.write(lambda cur: cur.execute(
        "UPDATE accounts SET lat = 52.5, lon = 13.4, geo_precision = 'city' "
        "WHERE account_id = 'a1'"))
    return workspace


def test_summary_text_shows_the_datas_own_quarters(
    old_workspace: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["summary", "--workspace", "test"]) == 0
    out, _ = output(capsys)
    lines = out.splitlines()
    assert lines[0] == "Workspace test: as of 2017-12-31 (newest record)."
    assert "Open pipeline: $7,500 in 1 deal." in lines
    assert any(line.split()[:4] == ["FY2017", "Q4", "$3,000", "1"]
               and "(to 31 Dec 2017)" in line for line in lines), lines
    assert any(line.split()[:3] == ["FY2016", "Q4", "$10,000"] for line in lines), lines
    assert "Accounts: 2. Active reps: 2." in lines
    assert "Accounts by location precision: 1 city, 1 not located." in lines
    assert any(line.startswith("Win rate: 66.7% (4 won, 2 lost") for line in lines), lines


def test_summary_json_is_machine_readable(
    old_workspace: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["summary", "--workspace", "test", "--json"]) == 0
    out, _ = output(capsys)
    data = json.loads(out)
    assert (data["as_of"], data["source"], data["newest_close"]) == (
        "2017-12-31", "data", "2017-12-31")
    assert data["open_pipeline"] == {"cents": 750_000, "dollars": 7500.0, "deals": 1,
                                     "deals_without_amount": 0}
    by_quarter = {row["quarter"]: row for row in data["bookings_by_quarter"]}
    assert len(by_quarter) >= 8
    assert by_quarter["FY2017 Q4"]["cents"] == 300_050
    assert by_quarter["FY2017 Q4"]["dollars"] == 3000.5
    assert by_quarter["FY2017 Q4"]["to_date"] is True
    assert by_quarter["FY2017 Q3"] == {
        "quarter": "FY2017 Q3", "start": "2017-07-01", "end": "2017-09-30", "cents": 600_000,
        "dollars": 6000.0, "deals": 1, "to_date": False}
    assert data["bookings_by_quarter"][-1]["quarter"] == "FY2017 Q4"
    assert data["win_rate"]["won"] == 4 and data["win_rate"]["lost"] == 2
    assert data["accounts"] == 2 and data["active_reps"] == 2
    assert data["located_accounts"] == {"city": 1, "none": 1}
    assert data["newest_record_at"].startswith("2017-12-31")


def test_summary_as_of_an_earlier_day(
    old_workspace: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["summary", "--workspace", "test", "--as-of", "2017-06-30", "--json"]) == 0
    data = json.loads(output(capsys)[0])
    assert (data["as_of"], data["source"]) == ("2017-06-30", "session")
    assert data["bookings_by_quarter"][-1] == {
        "quarter": "FY2017 Q2", "start": "2017-04-01", "end": "2017-06-30", "cents": 250_000,
        "dollars": 2500.0, "deals": 1, "to_date": True}


def test_summary_errors_are_one_line_exit_2(
    old_workspace: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["summary", "--workspace", "test", "--as-of", "31/12/2017"]) == 2
    _, err = output(capsys)
    assert err.count("\n") == 1 and "YYYY-MM-DD" in err
    assert main(["summary", "--workspace", "nowhere"]) == 2
    assert output(capsys)[1].startswith("error: ")


def test_as_of_shows_sets_and_clears(
    old_workspace: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["as-of", "--workspace", "test"]) == 0
    assert output(capsys)[0].splitlines()[0] == "2017-12-31 (newest record)"
    assert main(["as-of", "--workspace", "test", "--set", "2017-09-30"]) == 0
    assert output(capsys)[0].splitlines()[0] == "2017-09-30 (workspace setting)"
    assert main(["summary", "--workspace", "test", "--json"]) == 0
    assert json.loads(output(capsys)[0])["source"] == "workspace"
    assert main(["as-of", "--workspace", "test", "--clear"]) == 0
    assert output(capsys)[0].splitlines()[0] == "2017-12-31 (newest record)"

    events = audit.audit_events(open_workspace("test"), system_principal("test"))
    actions = list(events["action"])
    assert actions[:2] == ["workspace.clear_as_of", "workspace.set_as_of"]
    assert set(events["actor_role"][:2]) == {"operator"}


def test_as_of_refuses_a_bad_date(
    old_workspace: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["as-of", "--workspace", "test", "--set", "next week"]) == 2
    assert "YYYY-MM-DD" in output(capsys)[1]
