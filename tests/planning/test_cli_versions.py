"""`revplan versions list|show|submit|withdraw|decide|publish --as EMAIL [--json]` and
`revplan approvals alternate` against a real demo workspace."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from planning.access.roles import Role
from planning.cli import main
from planning.store import Workspace, open_workspace
from tests.planning.test_approval_routing import moved_book
from tests.planning.test_approvals import quota_version, territory_version
from tests.views.test_pages import member_emails

QUOTAS = pd.DataFrame({"subject": ["rep-a", "rep-b"], "amount_cents": [100_000_00, 200_000_00]})


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> object:
    code, out, err = run(capsys, *argv, "--json")
    assert code == 0, err
    return json.loads(out)


def test_submit_decide_publish_as_named_people(demo_copy: Workspace,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    emails = member_emails(demo_copy)
    comp, finance, leader = emails[Role.COMP], emails[Role.FINANCE], emails[Role.SALES_LEADER]
    version_id = quota_version(demo_copy, QUOTAS, author=comp)
    ws = ["--workspace", demo_copy.name]

    listed = run_json(capsys, "versions", "list", *ws, "--as", comp)
    assert [(v["version_id"], v["status"]) for v in listed] == [(version_id, "draft")]

    submitted = run_json(capsys, "versions", "submit", version_id, *ws, "--as", comp)
    request_id = submitted["request_id"]
    assert set(submitted["waits_for"]) == {"1", "3"}
    assert any(finance in person for person in submitted["waits_for"]["1"])

    shown = run_json(capsys, "versions", "show", version_id, *ws, "--as", finance)
    assert shown["status"] == "submitted"
    (request,) = shown["requests"]
    assert request["request_id"] == request_id and finance in request["waiting_for"]
    summary = request["summaries"][0]
    assert summary["rule"].startswith("every quota version needs finance")
    assert {c["rep_id"] for c in summary["biggest_changes"]} == {"rep-a", "rep-b"}
    code, out, _ = run(capsys, "versions", "show", version_id, *ws, "--as", finance)
    assert code == 0 and "waiting for: finance: " in out and "Biggest changes:" in out
    table = out.split("Biggest changes:\n")[1].splitlines()
    assert table[0].strip() == "Rep · Before · After · Change · Change % · CRM id"
    assert table[1].strip() == "rep-b · — · $200K · +$200K · new · rep-b", table
    assert not any(word in " ".join(table[:3]) for word in ("None", "nan", ".00"))
    code, out, _ = run(capsys, "versions", "list", *ws, "--as", finance)
    assert code == 0 and version_id in out and "submitted" in out

    code, out, err = run(capsys, "versions", "decide", request_id, *ws, "--as", comp,
                         "--decision", "approved")
    assert code == 2 and "No open step" in err
    decided = run_json(capsys, "versions", "decide", request_id, *ws, "--as", finance,
                       "--decision", "approved")
    assert decided == {"request_id": request_id, "step": 1, "decision": "approved",
                       "request_status": "pending"}
    code, out, err = run(capsys, "versions", "decide", request_id, *ws, "--as", leader,
                         "--decision", "approved")
    assert code == 0 and "now approved" in out

    dry = run_json(capsys, "versions", "publish", version_id, *ws, "--as", comp, "--dry-run")
    assert [(c["record_id"], c["field_name"]) for c in dry] == [
        ("rep-a-FY2027", "Annual quota"), ("rep-b-FY2027", "Annual quota")]
    code, out, err = run(capsys, "versions", "publish", version_id, *ws, "--as", comp)
    assert code == 0 and "2 new change(s)" in out
    listed = run_json(capsys, "versions", "list", *ws, "--as", comp)
    assert listed[0]["status"] == "published"


def test_withdraw_only_by_the_submitter_then_resubmit(
        demo_copy: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    emails = member_emails(demo_copy)
    comp, finance = emails[Role.COMP], emails[Role.FINANCE]
    version_id = quota_version(demo_copy, QUOTAS, author=comp)
    ws = ["--workspace", demo_copy.name]
    request_id = run_json(capsys, "versions", "submit", version_id, *ws,
                          "--as", comp)["request_id"]
    code, _, err = run(capsys, "versions", "withdraw", request_id, *ws, "--as", finance)
    assert code == 2 and "Only the submitter" in err
    assert run_json(capsys, "versions", "withdraw", request_id, *ws, "--as", comp,
                    "--reason", "wrong one") == {"request_id": request_id,
                                                 "status": "withdrawn"}
    assert run_json(capsys, "versions", "list", *ws, "--as", comp)[0]["status"] == "draft"
    again = run_json(capsys, "versions", "submit", version_id, *ws, "--as", comp)
    assert again["request_id"] != request_id


def test_people_without_the_right_are_refused(demo_copy: Workspace,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    emails = member_emails(demo_copy)
    version_id = quota_version(demo_copy, QUOTAS, author=emails[Role.COMP])
    ws = ["--workspace", demo_copy.name]
    code, out, err = run(capsys, "versions", "list", *ws, "--as", emails[Role.REP])
    assert code == 2 and not out and "do not include access to this page" in err
    code, _, err = run(capsys, "versions", "submit", version_id, *ws,
                       "--as", emails[Role.VIEWER])
    assert code == 2 and "may not version.submit" in err
    code, _, err = run(capsys, "versions", "list", *ws, "--as", "stranger@example.com")
    assert code == 2 and "no access" in err
    ws_now = open_workspace(demo_copy.name)
    assert ws_now.read(lambda cur: cur.execute(
        "SELECT count(*) FROM approval_requests").fetchone()[0]) == 0


def test_a_deadlocking_route_is_refused_until_an_alternate_is_set(
        demo_copy: Workspace, capsys: pytest.CaptureFixture[str]) -> None:
    emails = member_emails(demo_copy)
    revops, finance = emails[Role.REVOPS], emails[Role.FINANCE]
    version_id = territory_version(demo_copy, moved_book(demo_copy), author=revops)
    ws = ["--workspace", demo_copy.name]
    code, _, err = run(capsys, "versions", "submit", version_id, *ws, "--as", revops)
    assert code == 2
    assert "The RevOps step can only be decided by you, the submitter" in err

    code, out, _ = run(capsys, "approvals", "alternate", *ws, "--role", "revops",
                       "--email", finance)
    assert code == 0 and "alternate approver for revops" in out
    submitted = run_json(capsys, "versions", "submit", version_id, *ws, "--as", revops)
    assert any(finance in p and "(alternate)" in p for p in submitted["waits_for"]["1"])
    decided = run_json(capsys, "versions", "decide", submitted["request_id"], *ws,
                       "--as", finance, "--decision", "approved")
    assert decided["step"] == 1
