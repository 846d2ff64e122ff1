"""The Home page in a real browser: KPIs render, navigation lists only registry pages.

The navigation check covers every state the sidebar shows from the first paint on, since a
fresh server's first run still passes through Streamlit's legacy `pages/` folder discovery.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from planning.overview import format_money

RENDER_TIMEOUT_MS = 60_000

# Records every set of sidebar links the page ever displays, from the very first paint.
RECORD_NAV_LINKS = """
window.__navLinksSeen = new Set();
new MutationObserver(() => {
  for (const link of document.querySelectorAll('[data-testid="stSidebarNavLink"]')) {
    const label = link.querySelector('[data-testid="stMarkdownContainer"]') || link;
    window.__navLinksSeen.add(label.innerText.trim());
  }
}).observe(document, {childList: true, subtree: true, characterData: true});
"""


@pytest.mark.e2e
def test_home_shows_kpis_and_only_registry_pages(
    running_app, browser_page: Page, output_dir: Path
) -> None:
    page = browser_page
    page.add_init_script(RECORD_NAV_LINKS)
    outside: list[str] = []
    page.on(
        "request",
        lambda request: None
        if request.url.startswith((running_app.url, "data:", "blob:"))
        else outside.append(request.url),
    )
    page.goto(running_app.url, wait_until="domcontentloaded")

    pipeline = page.locator('[data-testid="stMetric"]').filter(has_text="Open pipeline")
    expect(pipeline).to_be_visible(timeout=RENDER_TIMEOUT_MS)
    expect(pipeline.locator('[data-testid="stMetricValue"]')).to_have_text(
        format_money(running_app.kpis.open_pipeline_cents)
    )
    expect(page.get_by_role("heading", name="RevPlan — demo")).to_be_visible()
    expect(page.get_by_text("Data as of", exact=False).first).to_be_visible()

    kpis = running_app.kpis
    bookings = page.locator('[data-testid="stMetric"]').filter(
        has_text=f"Bookings {kpis.current_quarter.label} to date"
    )
    expect(bookings.locator('[data-testid="stMetricValue"]')).to_have_text(
        format_money(kpis.bookings_qtd_cents)
    )

    charts = page.locator(".js-plotly-plot")
    expect(charts).to_have_count(2, timeout=RENDER_TIMEOUT_MS)
    expect(page.get_by_text("Bookings by fiscal quarter")).to_be_visible()
    expect(page.get_by_text("Open pipeline by stage")).to_be_visible()

    expect(page.locator('[data-testid="stSidebar"]').get_by_text("Workspace")).to_be_visible()
    page.wait_for_timeout(500)
    page.screenshot(path=str(output_dir / "home.png"), full_page=True)

    nav = page.locator('[data-testid="stSidebarNav"]')
    expect(nav.get_by_text("Home", exact=True)).to_be_visible()
    expect(nav.get_by_text("Import CRM data", exact=True)).to_be_visible()
    labels = nav.locator('[data-testid="stSidebarNavLink"] [data-testid="stMarkdownContainer"]')
    links = [text.strip() for text in labels.all_inner_texts()]
    assert links == ["Home", "Import CRM data"]
    seen = set(page.evaluate("Array.from(window.__navLinksSeen)"))
    assert seen <= {"Home", "Import CRM data"}, f"sidebar showed {sorted(seen)}"
    assert not outside, f"the page fetched from outside the app: {outside}"

