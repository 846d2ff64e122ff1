"""Deal inspection in a real browser: a manager sees their deals and the pipeline waterfall,
selects a deal, reads its timeline and adds an inspection note to it."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import RENDER_TIMEOUT_MS, member_emails, serve_app, wait_until_settled

HEADER_PX = 35
"""Height of the header row of Streamlit's data grid (rows are as tall)."""


@pytest.mark.e2e
def test_manager_inspects_deals_reads_a_timeline_and_adds_a_note(
    scored_demo_data_dir: Path, tmp_path: Path, browser_page: Page, output_dir: Path
) -> None:
    shutil.copy(scored_demo_data_dir / "demo.duckdb", tmp_path / "demo.duckdb")
    manager = member_emails(tmp_path)["manager"]
    with serve_app(tmp_path) as (url, _log):
        page = browser_page
        page.goto(f"{url}/inspection?as={manager}", wait_until="domcontentloaded")

        expect(page.get_by_role("heading", name="Deal inspection")).to_be_visible(
            timeout=RENDER_TIMEOUT_MS)
        sidebar = page.locator('[data-testid="stSidebar"]')
        expect(sidebar.get_by_text(manager)).to_be_visible()
        expect(page.get_by_text("Your team:", exact=False).first).to_be_visible(
            timeout=RENDER_TIMEOUT_MS)
        deals = page.locator('[data-testid="stMetric"]').filter(has_text="Deals").first
        expect(deals.locator('[data-testid="stMetricValue"]')).not_to_have_text("0")
        table = page.locator('[data-testid="stDataFrame"]').first
        expect(table).to_be_visible(timeout=RENDER_TIMEOUT_MS)
        chart = page.locator(".js-plotly-plot")
        expect(chart).to_have_count(1, timeout=RENDER_TIMEOUT_MS)
        expect(page.get_by_text("Open pipeline closing in", exact=False)).to_be_visible()
        expect(page.get_by_text("Adds to pipeline")).to_be_visible()
        expect(page.get_by_text("Select a row to see the deal's history")).to_be_visible()

        table.scroll_into_view_if_needed()
        box = table.bounding_box()
        assert box is not None
        page.mouse.click(box["x"] + 18, box["y"] + HEADER_PX + HEADER_PX / 2)

        heading = page.get_by_text("Timeline ·", exact=False)
        expect(heading).to_be_visible(timeout=RENDER_TIMEOUT_MS)
        expect(page.locator('[data-testid="stDataFrame"]')).to_have_count(2)
        entries = int(re.search(r"· (\d+) entries", heading.inner_text()).group(1))

        page.get_by_label("Inspection note").fill("Champion moved to another team; re-qualify.")
        page.get_by_role("button", name="Add inspection note").click()
        expect(page.get_by_text("Note added to the deal's timeline.")).to_be_visible(
            timeout=RENDER_TIMEOUT_MS)
        expect(page.get_by_text(f"Timeline · {entries + 1} entries", exact=False)).to_be_visible()
        expect(chart).to_have_count(1, timeout=RENDER_TIMEOUT_MS)
        height = page.evaluate(
            "document.querySelector('[data-testid=\"stMain\"]').scrollHeight")
        page.set_viewport_size({"width": 1600, "height": max(1000, int(height) + 40)})
        wait_until_settled(page)
        page.screenshot(path=str(output_dir / "inspection.png"), full_page=True)
