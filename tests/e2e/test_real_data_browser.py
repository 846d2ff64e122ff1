"""A customer's own CRM export, end to end in a real browser.

An empty workspace is created the way the README says (the function behind `revplan workspace
create`), a realistic export with old data (deals from 2016-10 to 2017-12, open deals without
close dates, managers only as names, accounts with a country, US dates) is uploaded through the
Import page with its mapping, and Home then shows the data's own quarters with bookings.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

from planning.store import close_all_workspaces
from planning.workspaces import create_workspace
from tests.e2e.conftest import RENDER_TIMEOUT_MS, serve_app, wait_until_settled
from tests.realistic_exports import write_crm_export

IMPORT_TIMEOUT_MS = 180_000
ADMIN = "ana.admin@example.com"
WORKSPACE = "acme"


def _upload(uploader: Locator, paths: list[Path], attempts: int = 3) -> None:
    """Give the uploader these files once the page's run has ended, again if a rerun of the
    page swallowed them."""
    for attempt in range(1, attempts + 1):
        wait_until_settled(uploader.page)
        uploader.locator('input[type="file"]').set_input_files([str(p) for p in paths])
        try:
            expect(uploader.get_by_text(paths[-1].name)).to_be_visible(
                timeout=RENDER_TIMEOUT_MS)
            return
        except AssertionError:
            if attempt == attempts:
                raise


@pytest.mark.e2e
def test_real_export_imported_in_the_browser_lights_up_home(
    tmp_path: Path, browser_page: Page, output_dir: Path
) -> None:
    folder = tmp_path / "workspaces"
    folder.mkdir()
    create_workspace(WORKSPACE, ADMIN, "e2e", base=folder)
    close_all_workspaces()
    export = write_crm_export(tmp_path / "export", deals=800, seed=17, date_style="us")

    with serve_app(folder, extra_env={"REVPLAN_WORKSPACE": WORKSPACE}) as (url, log):
        page = browser_page
        page.goto(f"{url}/import?as={ADMIN}", wait_until="domcontentloaded")
        expect(page.get_by_role("heading", name="Import CRM data")).to_be_visible(
            timeout=RENDER_TIMEOUT_MS)
        expect(page.get_by_text(f"Importing into workspace {WORKSPACE}")).to_be_visible(
            timeout=RENDER_TIMEOUT_MS)
        uploaders = page.locator('[data-testid="stFileUploader"]')
        expect(uploaders).to_have_count(2, timeout=RENDER_TIMEOUT_MS)
        _upload(uploaders.nth(0), export.files)
        _upload(uploaders.nth(1), [export.mapping])
        for path in [*export.files, export.mapping]:
            expect(page.get_by_text(path.name).first).to_be_visible(timeout=RENDER_TIMEOUT_MS)

        import_button = page.get_by_role("button", name="Import", exact=True)
        expect(import_button).to_be_enabled(timeout=RENDER_TIMEOUT_MS)
        import_button.click(timeout=RENDER_TIMEOUT_MS)
        expect(page.get_by_role("heading", name=re.compile(r"Import run \d+"))).to_be_visible(
            timeout=IMPORT_TIMEOUT_MS)
        read = export.reps + export.account_count + export.deals
        for label, value in (("Read", read), ("Inserted", read), ("Rejected", 0)):
            metric = page.locator('[data-testid="stMetric"]').filter(has_text=label)
            expect(metric.locator('[data-testid="stMetricValue"]')).to_have_text(
                f"{value:,}", timeout=RENDER_TIMEOUT_MS)
        wait_until_settled(page)
        page.screenshot(path=str(output_dir / "real-data-import.png"), full_page=True)

        page.goto(f"{url}/?as={ADMIN}", wait_until="domcontentloaded")
        expect(page.get_by_role("heading", name=f"RevPlan — {WORKSPACE}")).to_be_visible(
            timeout=RENDER_TIMEOUT_MS)
        bookings = page.locator('[data-testid="stMetric"]').filter(
            has_text=re.compile(r"Bookings FY2017 Q\d"))
        expect(bookings.first).to_be_visible(timeout=RENDER_TIMEOUT_MS)
        values = bookings.locator('[data-testid="stMetricValue"]')
        expect(values.first).to_be_visible(timeout=RENDER_TIMEOUT_MS)
        texts = values.all_inner_texts()
        assert any(text.strip() not in ("$0", "") for text in texts), (
            f"Home shows no bookings in the data's own quarters: {texts}")
        open_deals = page.locator('[data-testid="stMetric"]').filter(has_text="Open deals")
        expect(open_deals.locator('[data-testid="stMetricValue"]')).to_have_text(
            f"{export.open_deals:,}", timeout=RENDER_TIMEOUT_MS)
        expect(page.locator(".js-plotly-plot").first).to_be_visible(timeout=RENDER_TIMEOUT_MS)
        expect(page.get_by_text("FY2017", exact=False).first).to_be_visible(
            timeout=RENDER_TIMEOUT_MS)
        wait_until_settled(page)
        page.screenshot(path=str(output_dir / "real-data-home.png"), full_page=True)
        assert "Traceback" not in log.read_text()
