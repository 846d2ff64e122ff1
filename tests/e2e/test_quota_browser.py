"""Quota design in a real browser: a compensation analyst allocates next year's target, sees
the fairness figures and charts, and saves the scenario."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import RENDER_TIMEOUT_MS, member_emails, serve_app, wait_until_settled


@pytest.mark.e2e
def test_comp_allocates_and_saves_quotas(
    demo_data_dir: Path, tmp_path: Path, browser_page: Page, output_dir: Path
) -> None:
    shutil.copy(demo_data_dir / "demo.duckdb", tmp_path / "demo.duckdb")
    comp = member_emails(tmp_path)["comp"]
    with serve_app(tmp_path) as (url, _log):
        page = browser_page
        page.goto(f"{url}/quota?as={comp}", wait_until="domcontentloaded")
        expect(page.get_by_role("heading", name="Quota design")).to_be_visible(
            timeout=RENDER_TIMEOUT_MS)
        page.get_by_label("Scenario name").fill("Browser FY plan")
        page.get_by_role("button", name="Solve").click()
        expect(page.get_by_text("Largest deviation from fair share").first).to_be_visible(
            timeout=RENDER_TIMEOUT_MS)
        expect(page.locator(".js-plotly-plot")).to_have_count(3, timeout=RENDER_TIMEOUT_MS)
        expect(page.get_by_text("Reps expected to reach 100%", exact=True)).to_be_visible()
        page.get_by_role("button", name="Save as plan version").click()
        expect(page.get_by_text("Saved as version quota-", exact=False)).to_be_visible(
            timeout=RENDER_TIMEOUT_MS)
        page.set_viewport_size({"width": 1600, "height": 2600})
        wait_until_settled(page)
        page.screenshot(path=str(output_dir / "quota.png"), full_page=True)
