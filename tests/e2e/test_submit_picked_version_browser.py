"""The version submitted is the version picked: a compensation analyst saves two quota versions
with the same target (the second with an override), picks the second in the submit picker and
submits it; the approver's card then shows that exact version's name, hash and totals."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.conftest import DEMO_AS_OF
from tests.e2e.conftest import RENDER_TIMEOUT_MS, member_emails, new_context, new_page, serve_app

FIRST = "Browser plan without override"
SECOND = "Browser plan with override"


def override_dollars(folder: Path) -> int:
    """A new quota for the rep the override picker offers first, within that rep's limits
    (last year's quota + 10 %, in whole dollars; read before serving)."""
    from planning.quota.workspace import quota_inputs
    from planning.store import close_all_workspaces, open_workspace

    workspace = open_workspace("demo", base=folder, read_only=True)
    try:
        reps = quota_inputs(workspace, today=DEMO_AS_OF).reps
    finally:
        close_all_workspaces()
    last = reps["last_quota"].iloc[0]
    return int(1.1 * (last if last == last else reps["last_quota"].dropna().median()))


def metric_value(page: Page, label: str) -> str:
    """The shown value of the metric card labelled `label`."""
    card = page.get_by_test_id("stMetric").filter(
        has=page.get_by_test_id("stMetricLabel").get_by_text(label, exact=True)).first
    value = card.get_by_test_id("stMetricValue")
    expect(value).to_be_visible(timeout=RENDER_TIMEOUT_MS)
    return value.inner_text().strip()


def save_version(page: Page, name: str) -> None:
    """Name the solved plan and save it as a version."""
    field = page.get_by_role("textbox", name="Version name")
    expect(field).to_be_visible(timeout=RENDER_TIMEOUT_MS)
    field.fill(name)
    field.press("Enter")
    page.get_by_role("button", name="Save as plan version").click()
    expect(page.get_by_text(f"“{name}”", exact=False)).to_be_visible(timeout=RENDER_TIMEOUT_MS)


@pytest.mark.e2e
def test_the_picked_version_is_submitted_and_summarised_for_the_approver(
    demo_data_dir: Path, tmp_path: Path, chromium_browser: Browser, browser_page: Page,
    output_dir: Path,
) -> None:
    shutil.copy(demo_data_dir / "demo.duckdb", tmp_path / "demo.duckdb")
    emails = member_emails(tmp_path)
    amount = override_dollars(tmp_path)
    with serve_app(tmp_path) as (url, _log):
        page = browser_page
        page.goto(f"{url}/quota?as={emails['comp']}", wait_until="domcontentloaded")
        expect(page.get_by_role("heading", name="Quota design")).to_be_visible(
            timeout=RENDER_TIMEOUT_MS)
        page.get_by_label("Scenario name").fill("Browser plan")
        page.get_by_role("button", name="Solve").click()
        expect(page.get_by_text("Largest deviation from fair share").first).to_be_visible(
            timeout=RENDER_TIMEOUT_MS)
        save_version(page, FIRST)

        page.get_by_role("spinbutton", name="New annual quota (USD)").fill(str(amount))
        page.get_by_role("textbox", name="Reason (recorded in the audit trail)").fill(
            "Takes over a strategic account")
        page.get_by_role("button", name="Apply override").click()
        expect(page.get_by_text("Overrides: ", exact=False)).to_be_visible(
            timeout=RENDER_TIMEOUT_MS)
        total = metric_value(page, "Total quota")
        assert re.fullmatch(r"\$\d+(\.\d+)?[KMB]?", total), total
        save_version(page, SECOND)
        page.screenshot(path=str(output_dir / "submit-picked-quota.png"), full_page=True)

        page.goto(f"{url}/versions?as={emails['comp']}", wait_until="domcontentloaded")
        expect(page.get_by_role("heading", name="Plan versions")).to_be_visible(
            timeout=RENDER_TIMEOUT_MS)
        page.get_by_role("tab", name="Version detail").click()
        picker = page.get_by_role("tabpanel", name="Version detail").get_by_role("combobox")
        expect(picker).to_be_visible(timeout=RENDER_TIMEOUT_MS)
        picker.click()
        options = page.get_by_role("option")
        expect(options).to_have_count(2, timeout=RENDER_TIMEOUT_MS)
        labels = [text.strip() for text in options.all_inner_texts()]
        picked = next(label for label in labels if label.startswith(f"{SECOND} ·"))
        other = next(label for label in labels if label.startswith(f"{FIRST} ·"))
        short_hash = picked.rsplit("#", 1)[1]
        assert short_hash != other.rsplit("#", 1)[1], "the override must change the hash"
        other_hash = other.rsplit("#", 1)[1]
        options.filter(has_text=FIRST).click()
        expect(page.get_by_text(f"Content hash {other_hash}", exact=False)).to_be_visible(
            timeout=RENDER_TIMEOUT_MS)
        picker.click()
        page.get_by_role("option").filter(has_text=SECOND).click()
        expect(page.get_by_text(f"Content hash {short_hash}", exact=False)).to_be_visible(
            timeout=RENDER_TIMEOUT_MS)
        page.get_by_role("button", name="Submit for approval").click()
        submitted = page.get_by_text("for approval; waiting for", exact=False)
        expect(submitted).to_be_visible(timeout=RENDER_TIMEOUT_MS)
        said = submitted.inner_text()
        assert said.startswith(f"Submitted {SECOND} (#{short_hash}) for approval"), said
        assert "draft" not in said, said
        page.screenshot(path=str(output_dir / "submit-picked-versions.png"), full_page=True)

        context = new_context(chromium_browser)
        try:
            approver = new_page(context)
            approver.goto(f"{url}/approvals?as={emails['finance']}",
                          wait_until="domcontentloaded")
            expect(approver.get_by_role("heading", name="Approvals")).to_be_visible(
                timeout=RENDER_TIMEOUT_MS)
            expect(approver.get_by_text(f"{SECOND} (quota)", exact=False)).to_be_visible(
                timeout=RENDER_TIMEOUT_MS)
            expect(approver.get_by_text(f"approves content hash {short_hash}", exact=False)
                   ).to_be_visible(timeout=RENDER_TIMEOUT_MS)
            assert metric_value(approver, "Total quota") == total
            expect(approver.get_by_text(FIRST, exact=False)).to_have_count(
                0, timeout=RENDER_TIMEOUT_MS)
            approver.screenshot(path=str(output_dir / "submit-picked-approver.png"),
                                full_page=True)
        finally:
            context.close()
