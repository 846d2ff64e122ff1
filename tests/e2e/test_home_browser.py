"""The Home page in a real browser: KPIs render, navigation lists only registry pages.

The navigation check covers every state the sidebar shows from the first paint on: Streamlit's
own folder-based navigation must never appear, only the menu app.py draws.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from planning.access.policy import Action, can
from planning.access.roles import Role
from planning.access.users import User
from planning.overview import format_money
from tests.e2e.conftest import RENDER_TIMEOUT_MS, wait_until_settled
from views.registry import PAGES

# Records every link of Streamlit's own (legacy, folder-based) navigation the page ever displays,
# from the very first paint. The app draws its menu with st.page_link, so this must stay empty.
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
    admin = running_app.members["admin"]
    page.goto(f"{running_app.url}/?as={admin}", wait_until="domcontentloaded")

    pipeline = page.locator('[data-testid="stMetric"]').filter(has_text="Open pipeline")
    expect(pipeline).to_be_visible(timeout=RENDER_TIMEOUT_MS)
    expect(pipeline.locator('[data-testid="stMetricValue"]')).to_have_text(
        format_money(running_app.kpis.open_pipeline_cents)
    )
    expect(page.get_by_role("heading", name="RevPlan — demo")).to_be_visible()
    expect(page.get_by_text("Newest record", exact=False).first).to_be_visible()

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
    wait_until_settled(page)
    page.screenshot(path=str(output_dir / "home.png"), full_page=True)

    admin_user = User(email=admin, name="admin", workspace="demo", roles=frozenset({Role.ADMIN}))
    expected = [e.title for e in PAGES if can(admin_user, Action.VIEW_PAGE, e.url_path)]
    links = page.locator('[data-testid="stSidebar"] [data-testid="stPageLink"]')
    expect(links).to_have_count(len(expected))
    for link, title in zip(links.all_inner_texts(), expected, strict=True):
        assert title in link
    seen = set(page.evaluate("Array.from(window.__navLinksSeen)"))
    assert seen == set(), f"Streamlit's folder navigation showed {sorted(seen)}"
    assert not outside, f"the page fetched from outside the app: {outside}"



@pytest.mark.e2e
def test_demo_sign_in_shows_a_rep_only_their_pages(running_app, browser_page: Page) -> None:
    page = browser_page
    rep = running_app.members["rep"]
    page.goto(running_app.url, wait_until="domcontentloaded")
    expect(page.get_by_text("DEMO MODE")).to_be_visible(timeout=RENDER_TIMEOUT_MS)
    page.get_by_role("combobox").nth(1).click()
    page.get_by_role("option").filter(has_text="· rep").first.click()
    page.get_by_role("button", name="Sign in").click()

    sidebar = page.locator('[data-testid="stSidebar"]')
    expect(sidebar.get_by_text(rep)).to_be_visible(timeout=RENDER_TIMEOUT_MS)
    expect(sidebar.get_by_text("DEMO MODE")).to_be_visible()
    expect(page.get_by_text("Your book")).to_be_visible()
    rep_user = User(email=rep, name="rep", workspace="demo", roles=frozenset({Role.REP}))
    expected = [e.title for e in PAGES if can(rep_user, Action.VIEW_PAGE, e.url_path)]
    links = sidebar.locator('[data-testid="stPageLink"]')
    expect(links).to_have_count(len(expected))
    for link, title in zip(links.all_inner_texts(), expected, strict=True):
        assert title in link
    assert "Import CRM data" not in expected

    page.goto(f"{running_app.url}/import?as={rep}", wait_until="domcontentloaded")
    expect(page.get_by_text("Access refused")).to_be_visible(timeout=RENDER_TIMEOUT_MS)
    expect(page.locator('[data-testid="stFileUploader"]')).to_have_count(0)

    sidebar.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible(timeout=RENDER_TIMEOUT_MS)
    assert "as=" not in page.url


@pytest.mark.e2e
def test_demo_session_expires_after_its_lifetime(
    demo_data_dir: Path, tmp_path: Path, browser_page: Page
) -> None:
    import shutil

    from tests.e2e.conftest import serve_app

    shutil.copy(demo_data_dir / "demo.duckdb", tmp_path / "demo.duckdb")
    two_seconds = str(2 / 3600)
    with serve_app(tmp_path, extra_env={"REVPLAN_SESSION_HOURS": two_seconds}) as (url, _):
        page = browser_page
        page.goto(url, wait_until="domcontentloaded")
        page.get_by_role("button", name="Sign in").click(timeout=RENDER_TIMEOUT_MS)
        sidebar = page.locator('[data-testid="stSidebar"]')
        expect(sidebar.get_by_role("button", name="Sign out")).to_be_visible(
            timeout=RENDER_TIMEOUT_MS)
        page.wait_for_timeout(2_500)  # the session's two-second lifetime passes
        sidebar.locator('[data-testid="stPageLink"]').first.click()
        expect(page.get_by_text("Your session expired")).to_be_visible(timeout=RENDER_TIMEOUT_MS)
        expect(page.get_by_role("button", name="Sign in")).to_be_visible()
        assert "as=" not in page.url
