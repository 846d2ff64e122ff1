"""A save play in real browsers: a CSM starts a concession on an account at risk from the
Customer health page, deal desk and finance approve it on the Approvals page in their own
sessions, the CSM records the renewal's outcome, and the account's health score is in the
writeback outbox."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.conftest import DEMO_AS_OF
from tests.e2e.conftest import (
    member_emails,
    new_context,
    new_page,
    serve_app,
    wait_until_settled,
)

AS_OF = dt.datetime.combine(DEMO_AS_OF + dt.timedelta(days=1), dt.time())
CSM_WINDOW_HEIGHT = 4400
"""Tall enough for the screenshots to hold the whole account drill-down."""


def train_and_pick_account(folder: Path) -> tuple[str, str]:
    """Train the churn model in the workspace file (closed again before serving) and return
    the riskiest account in the 90-day window that is recommended a concession, with its
    name."""
    from planning.health.accounts import renewals_at_risk
    from planning.health.plays import recommend_plays
    from planning.health.training import train_health_model
    from planning.store import close_all_workspaces, open_workspace

    workspace = open_workspace("demo", base=folder)
    train_health_model(workspace, "operator", as_of=AS_OF)
    renewals = renewals_at_risk(workspace, None, 90)
    close_all_workspaces()
    for row in renewals.itertuples():
        if any(r.play.key == "concession" for r in recommend_plays(row.reason_codes)):
            return str(row.account_id), str(row.account_name)
    raise AssertionError("no account in the window is recommended a concession")


def approve(browser: Browser, url: str, email: str, account_name: str, output: Path) -> None:
    """Open the Approvals page as `email` and approve the play's step waiting there."""
    context = new_context(browser)
    try:
        page = new_page(context)
        page.goto(f"{url}/approvals?as={email}", wait_until="domcontentloaded")
        expect(page.get_by_role("heading", name="Approvals")).to_be_visible()
        expect(page.get_by_text(f"save play on {account_name}", exact=False)).to_be_visible()
        page.get_by_role("button", name="Record decision").first.click()
        expect(page.get_by_text("Recorded. The request is now", exact=False)).to_be_visible()
        wait_until_settled(page)
        page.screenshot(path=str(output), full_page=True)
    finally:
        context.close()


def outbox_rows(folder: Path, account_id: str) -> dict[tuple[str, str], list[str]]:
    """(object, field) -> values queued for the account, its plays and their tasks, in
    delivery order; ("expected", "health_score") holds the account's newest health score."""
    from planning.store import close_all_workspaces, open_workspace
    from planning.writeback import outbox

    workspace = open_workspace("demo", base=folder, read_only=True)
    try:
        items = outbox(workspace)
        health = workspace.read(lambda cur: cur.execute(
            """SELECT health_score FROM health_scores WHERE account_id = ?
               ORDER BY as_of DESC LIMIT 1""", [account_id]).fetchone()[0])
    finally:
        close_all_workspaces()
    linked = items["field"].isin(["Account__c", "WhatId"]) & (items["new_value"] == account_id)
    records = {account_id, *items.loc[linked, "record_id"]}
    found: dict[tuple[str, str], list[str]] = {}
    for row in items[items["record_id"].isin(records)].itertuples():
        found.setdefault((row.object, row.field), []).append(row.new_value)
    found[("expected", "health_score")] = [str(int(health))]
    return found


def csm_starts_a_concession(page: Page, url: str, email: str, account_id: str,
                            account_name: str, output_dir: Path) -> None:
    """The CSM opens the account on the Customer health page and starts a 15 % concession."""
    page.goto(f"{url}/health?as={email}&account={account_id}", wait_until="domcontentloaded")
    expect(page.get_by_role("heading", name="Customer health")).to_be_visible()
    expect(page.get_by_role("heading", name=account_name)).to_be_visible()
    wait_until_settled(page)
    page.screenshot(path=str(output_dir / "health-page.png"), full_page=True)
    concession = page.get_by_role("spinbutton", name="Concession, % of renewing ARR")
    concession.fill("15")
    concession.press("Tab")
    page.get_by_role("button", name="Start Discount or concession").click()
    expect(page.get_by_text("Discount or concession started and is awaiting approval",
                            exact=False)).to_be_visible()
    wait_until_settled(page)
    page.screenshot(path=str(output_dir / "health-play-awaiting-approval.png"), full_page=True)


def csm_records_the_outcome(page: Page, url: str, email: str, account_id: str,
                            account_name: str, output_dir: Path) -> None:
    """The CSM sees the approved play active and records that the renewal renewed."""
    page.goto(f"{url}/health?as={email}&account={account_id}", wait_until="domcontentloaded")
    expect(page.get_by_role("heading", name=account_name)).to_be_visible()
    expect(page.get_by_text("Discount or concession · active", exact=False)).to_be_visible()
    page.get_by_text("Renewed", exact=True).click()
    page.get_by_role("button", name="Record outcome").click()
    expect(page.get_by_text("Recorded: the renewal of", exact=False)).to_be_visible()
    expect(page.get_by_text("It credits 1 play(s).", exact=False)).to_be_visible()
    wait_until_settled(page)
    page.screenshot(path=str(output_dir / "health-outcome-recorded.png"), full_page=True)


@pytest.mark.e2e
def test_a_concession_is_approved_the_outcome_recorded_and_health_written_back(
    demo_data_dir: Path, tmp_path: Path, chromium_browser: Browser, output_dir: Path,
) -> None:
    shutil.copy(demo_data_dir / "demo.duckdb", tmp_path / "demo.duckdb")
    emails = member_emails(tmp_path)
    account_id, account_name = train_and_pick_account(tmp_path)
    context = new_context(chromium_browser, height=CSM_WINDOW_HEIGHT)
    try:
        with serve_app(tmp_path) as (url, _log):
            page = new_page(context)
            csm_starts_a_concession(page, url, emails["cs"], account_id, account_name,
                                    output_dir)
            approve(chromium_browser, url, emails["deal_desk"], account_name,
                    output_dir / "health-approval-deal-desk.png")
            approve(chromium_browser, url, emails["finance"], account_name,
                    output_dir / "health-approval-finance.png")
            csm_records_the_outcome(page, url, emails["cs"], account_id, account_name,
                                    output_dir)
    finally:
        context.close()

    queued = outbox_rows(tmp_path, account_id)
    assert queued[("Account", "Health_Score__c")][-1] == queued[("expected", "health_score")][0]
    assert queued[("Account", "Churn_Probability__c")]
    assert queued[("Save_Play__c", "Status__c")] == ["awaiting approval", "active"]
    assert queued[("Save_Play__c", "Outcome__c")] == ["renewed"]
    assert queued[("Task", "Status")].count("Not Started") == 3
