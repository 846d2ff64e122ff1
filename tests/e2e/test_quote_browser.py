"""A quote in real browsers: a rep answers the guided-selling questions on the Quote page, gets
the recommended configuration and its price waterfall, gives a discount above a rep's
authority, saves and submits; the deal desk, in its own session, sees the request waiting on
the Quote page and on the Approvals page."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import member_emails, new_context, new_page, serve_app, wait_until_settled

SAMPLES = Path(__file__).resolve().parents[2] / "data" / "samples" / "cpq"
WINDOW_HEIGHT = 3200
"""Tall enough for a screenshot to hold the questionnaire, configurator and waterfall."""


def load_samples(folder: Path) -> None:
    """Import the sample catalog and price books as the deal desk (file closed again before
    serving)."""
    from planning.access.roles import Role
    from planning.cpq.catalog_versions import import_catalog
    from planning.cpq.pricing import load_price_books
    from planning.cpq.quotes import store_price_books
    from planning.store import close_all_workspaces, open_workspace
    from tests.views.test_pages import demo_user

    workspace = open_workspace("demo", base=folder)
    desk = demo_user(workspace, Role.DEAL_DESK)
    import_catalog(workspace, desk, SAMPLES)
    store_price_books(workspace, desk, load_price_books(SAMPLES))
    close_all_workspaces()


def choose(page: Page, widget: str, label: str, option: str) -> None:
    """Pick `option` in the select box or multiselect labelled `label` (typed, so a long
    list, which draws only the options in view, shows it)."""
    field = page.get_by_test_id(widget).filter(has_text=label)
    box = field.locator("input")
    box.click()
    box.fill(option)
    page.get_by_role("option", name=option, exact=True).click()
    page.keyboard.press("Escape")
    if widget == "stMultiSelect":
        expect(field).to_contain_text(option)
    wait_until_settled(page)  # the pick reruns the page; the next pick waits for it


def rep_quotes_above_authority(page: Page, url: str, email: str, output_dir: Path) -> None:
    page.goto(f"{url}/quote?as={email}", wait_until="domcontentloaded")
    expect(page.get_by_role("heading", name="Quotes")).to_be_visible()
    wait_until_settled(page)
    page.get_by_role("spinbutton", name="Users to seat").fill("50")
    page.get_by_role("spinbutton", name="Users to seat").press("Enter")
    wait_until_settled(page)
    choose(page, "stMultiSelect", "Modules wanted", "Analytics")
    choose(page, "stMultiSelect", "Modules wanted", "Forecasting")
    choose(page, "stSelectbox", "Region", "US")
    page.get_by_role("button", name="Propose a configuration").click()
    expect(page.get_by_text("Recommended configuration: 7 options meeting every answer",
                            exact=False)).to_be_visible()
    expect(page.get_by_text("The configuration is valid", exact=False)).to_be_visible()
    chart = page.get_by_test_id("stPlotlyChart").first
    expect(chart).to_be_visible()
    expect(chart.get_by_text("Price waterfall: Whole quote")).to_be_visible()
    wait_until_settled(page)
    page.screenshot(path=str(output_dir / "quote-recommended.png"), full_page=True)

    choose(page, "stMultiSelect", "Options", "Customer-managed keys (Security)")
    expect(page.get_by_text("1 rule broken.", exact=False)).to_be_visible()
    expect(page.get_by_text("Change this 1 pick to make it valid: remove Customer-managed "
                            "keys.", exact=False)).to_be_visible()
    wait_until_settled(page)
    page.screenshot(path=str(output_dir / "quote-bad-pick.png"), full_page=True)
    page.get_by_role("button", name="Apply this 1 change").click()
    expect(page.get_by_text("The configuration is valid", exact=False)).to_be_visible()

    discount = page.get_by_role("spinbutton", name="Seller discount on Analytics module (%)")
    discount.fill("20")
    discount.press("Tab")
    expect(page.get_by_test_id("stAlertContentWarning").get_by_text(
        "is above the seller's authority", exact=False)).to_be_visible()
    page.get_by_role("button", name="Save as a quote version").click()
    expect(page.get_by_text(re.compile(r"Saved Q-.* v1: net \$"))).to_be_visible()
    page.get_by_role("button", name=re.compile(r"Submit Q-.* v1 for discount approval")).click()
    expect(page.get_by_text("for approval; waiting for deal desk", exact=False)).to_be_visible()
    wait_until_settled(page)
    page.screenshot(path=str(output_dir / "quote-submitted.png"), full_page=True)


def deal_desk_sees_the_request(browser: Browser, url: str, email: str,
                               output_dir: Path) -> None:
    context = new_context(browser)
    try:
        page = new_page(context)
        page.goto(f"{url}/quote?as={email}", wait_until="domcontentloaded")
        expect(page.get_by_role("heading", name="Quotes waiting for your approval (1)")
               ).to_be_visible()
        wait_until_settled(page)
        page.screenshot(path=str(output_dir / "quote-deal-desk.png"), full_page=True)
        page.goto(f"{url}/approvals?as={email}", wait_until="domcontentloaded")
        expect(page.get_by_role("heading", name="Approvals")).to_be_visible()
        expect(page.get_by_text(re.compile(r"Q-.* v1")).first).to_be_visible()
        wait_until_settled(page)
        page.screenshot(path=str(output_dir / "quote-approvals-deal-desk.png"), full_page=True)
    finally:
        context.close()


@pytest.mark.e2e
def test_a_rep_quotes_above_authority_and_the_deal_desk_sees_it(
    demo_data_dir: Path, tmp_path: Path, chromium_browser: Browser, output_dir: Path,
) -> None:
    shutil.copy(demo_data_dir / "demo.duckdb", tmp_path / "demo.duckdb")
    emails = member_emails(tmp_path)
    load_samples(tmp_path)
    context = new_context(chromium_browser, height=WINDOW_HEIGHT)
    try:
        with serve_app(tmp_path) as (url, _log):
            rep_quotes_above_authority(new_page(context), url, emails["rep"], output_dir)
            deal_desk_sees_the_request(chromium_browser, url, emails["deal_desk"], output_dir)
    finally:
        context.close()
