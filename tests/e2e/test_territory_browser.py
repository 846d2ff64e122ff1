"""Territory design in a real browser: a sales leader solves a scenario with progress, sees the
map and balance chart with the status and gap, and saves the result."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import RENDER_TIMEOUT_MS, member_emails, serve_app, wait_until_settled

SOLVE_TIMEOUT_MS = 120_000


@pytest.mark.e2e
def test_sales_leader_solves_and_saves_a_territory_scenario(
    demo_data_dir: Path, tmp_path: Path, browser_page: Page, output_dir: Path
) -> None:
    shutil.copy(demo_data_dir / "demo.duckdb", tmp_path / "demo.duckdb")
    leader = member_emails(tmp_path)["sales_leader"]
    with serve_app(tmp_path) as (url, _log):
        page = browser_page
        page.goto(f"{url}/territory?as={leader}", wait_until="domcontentloaded")
        expect(page.get_by_role("heading", name="Territory design")).to_be_visible(
            timeout=RENDER_TIMEOUT_MS)
        page.get_by_label("Scenario name").fill("Browser rebalance")
        page.get_by_role("button", name="Solve").click()
        status = page.get_by_text("of optimal", exact=False).first
        expect(status).to_be_visible(timeout=SOLVE_TIMEOUT_MS)
        expect(page.locator(".js-plotly-plot")).to_have_count(2, timeout=RENDER_TIMEOUT_MS)
        expect(page.get_by_text("Max balance deviation")).to_be_visible()
        expect(page.get_by_text("Accounts moved (", exact=False)).to_be_visible()
        page.get_by_role("button", name="Save as plan version").click()
        expect(page.get_by_text("Saved as version territory-", exact=False)).to_be_visible(
            timeout=RENDER_TIMEOUT_MS)
        page.set_viewport_size({"width": 1600, "height": 2400})
        wait_until_settled(page)
        page.screenshot(path=str(output_dir / "territory.png"), full_page=True)
