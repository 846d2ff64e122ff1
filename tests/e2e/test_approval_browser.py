"""The approval flow in real browsers: compensation submits a quota version, finance and the
sales leader approve it in their own sessions, compensation publishes and sees the batch."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.conftest import DEMO_AS_OF
from tests.e2e.conftest import (
    RENDER_TIMEOUT_MS,
    member_emails,
    new_context,
    new_page,
    serve_app,
    wait_until_settled,
)


def prepare_version(folder: Path, author: str) -> str:
    """A saved quota version in the workspace file (closed again before serving)."""
    from planning.access.roles import Role
    from planning.access.users import User
    from planning.quota.model import QuotaScenario, solve_quotas
    from planning.quota.workspace import quota_inputs, save_quota_scenario
    from planning.store import close_all_workspaces, open_workspace

    workspace = open_workspace("demo", base=folder)
    inputs = quota_inputs(workspace, today=DEMO_AS_OF)
    result = solve_quotas(inputs.reps, QuotaScenario(target_cents=4_000_000_000,
                                                     seasonality=inputs.seasonality))
    version = save_quota_scenario(workspace, inputs, result, "FY27 browser plan",
                                  user=User(author, author, "demo",
                                            roles=frozenset({Role.COMP})))
    close_all_workspaces()
    return version


def approve(browser: Browser, url: str, email: str, output: Path) -> None:
    context = new_context(browser)
    try:
        page = new_page(context)
        page.goto(f"{url}/approvals?as={email}", wait_until="domcontentloaded")
        expect(page.get_by_role("heading", name="Approvals")).to_be_visible(
            timeout=RENDER_TIMEOUT_MS)
        expect(page.get_by_text("FY27 browser plan", exact=False).first).to_be_visible(
            timeout=RENDER_TIMEOUT_MS)
        page.get_by_role("button", name="Record decision").first.click()
        expect(page.get_by_text("Recorded. The request is now", exact=False)).to_be_visible(
            timeout=RENDER_TIMEOUT_MS)
        page.screenshot(path=str(output), full_page=True)
    finally:
        context.close()


@pytest.mark.e2e
def test_submit_approve_in_two_sessions_and_publish(
    demo_data_dir: Path, tmp_path: Path, chromium_browser: Browser, browser_page: Page,
    output_dir: Path,
) -> None:
    shutil.copy(demo_data_dir / "demo.duckdb", tmp_path / "demo.duckdb")
    emails = member_emails(tmp_path)
    prepare_version(tmp_path, emails["comp"])
    with serve_app(tmp_path) as (url, _log):
        page = browser_page
        page.goto(f"{url}/versions?as={emails['comp']}", wait_until="domcontentloaded")
        expect(page.get_by_role("heading", name="Plan versions")).to_be_visible(
            timeout=RENDER_TIMEOUT_MS)
        page.get_by_role("tab", name="Version detail").click()
        page.get_by_role("button", name="Submit for approval").click()
        expect(page.get_by_text("for approval; waiting for", exact=False)).to_be_visible(
            timeout=RENDER_TIMEOUT_MS)

        approve(chromium_browser, url, emails["finance"], output_dir / "approval-finance.png")
        approve(chromium_browser, url, emails["sales_leader"],
                output_dir / "approval-sales-leader.png")

        page.reload(wait_until="domcontentloaded")
        expect(page.get_by_role("heading", name="Plan versions")).to_be_visible(
            timeout=RENDER_TIMEOUT_MS)
        page.get_by_role("tab", name="Version detail").click()
        publish = page.get_by_role("button", name="Publish", exact=True)
        expect(publish).to_be_enabled(timeout=RENDER_TIMEOUT_MS)
        publish.click()
        expect(page.get_by_text("Published:", exact=False)).to_be_visible(
            timeout=RENDER_TIMEOUT_MS)
        expect(page.get_by_text("Outbox", exact=True)).to_be_visible()
        expect(page.get_by_role("button", name="Data Loader file: Quota", exact=False)
               ).to_be_visible()
        page.set_viewport_size({"width": 1600, "height": 2400})
        wait_until_settled(page)
        page.screenshot(path=str(output_dir / "publish.png"), full_page=True)
