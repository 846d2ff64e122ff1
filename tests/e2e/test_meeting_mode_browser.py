"""Meeting mode on a 1920×1080 projector in a real browser: the change summary and large KPI
cards (values bigger than their labels, no label cut off, no CRM or version ids), and the
compare page's full meeting link that opens it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.conftest import DEMO_AS_OF
from tests.e2e.conftest import (
    RENDER_TIMEOUT_MS,
    member_emails,
    new_context,
    new_page,
    serve_app,
    wait_until_settled,
)


def prepare_versions(folder: Path, author: str) -> tuple[str, str, list[str]]:
    """Two saved quota versions (40 M, then 44 M) and every rep id, before serving."""
    from planning.access.roles import Role
    from planning.access.users import User
    from planning.quota.model import QuotaScenario, solve_quotas
    from planning.quota.workspace import quota_inputs, save_quota_scenario
    from planning.store import close_all_workspaces, open_workspace

    workspace = open_workspace("demo", base=folder)
    inputs = quota_inputs(workspace, today=DEMO_AS_OF)
    ids = []
    for name, target in (("FY27 base", 4_000_000_000), ("FY27 stretch", 4_400_000_000)):
        result = solve_quotas(inputs.reps, QuotaScenario(target_cents=target,
                                                         seasonality=inputs.seasonality))
        ids.append(save_quota_scenario(workspace, inputs, result, name,
                                       user=User(author, author, "demo",
                                                 roles=frozenset({Role.COMP}))))
    reps = [r for (r,) in workspace.read(lambda cur: cur.execute(
        "SELECT rep_id FROM reps").fetchall())]
    close_all_workspaces()
    return ids[0], ids[1], reps


@pytest.mark.e2e
def test_meeting_mode_is_legible_on_a_projector(
    demo_data_dir: Path, tmp_path: Path, chromium_browser: Browser, output_dir: Path,
) -> None:
    shutil.copy(demo_data_dir / "demo.duckdb", tmp_path / "demo.duckdb")
    comp = member_emails(tmp_path)["comp"]
    a, b, reps = prepare_versions(tmp_path, comp)
    context = new_context(chromium_browser, width=1920, height=1080)
    try:
        with serve_app(tmp_path) as (url, _log):
            page = new_page(context)
            page.goto(f"{url}/versions?as={comp}", wait_until="domcontentloaded")
            expect(page.get_by_text("Copy meeting link", exact=False)).to_be_visible(
                timeout=RENDER_TIMEOUT_MS)
            link = page.locator("[data-testid='stCode'] code").last.inner_text().strip()
            assert link.startswith(url) and link.endswith(f"?a={a}&b={b}&meeting=1")

            page.goto(f"{link}&as={comp}", wait_until="domcontentloaded")
            expect(page.get_by_text("FY27 stretch changes", exact=False)).to_be_visible(
                timeout=RENDER_TIMEOUT_MS)
            expect(page.locator(".js-plotly-plot").first).to_be_visible(
                timeout=RENDER_TIMEOUT_MS)
            wait_until_settled(page)
            page.screenshot(path=str(output_dir / "meeting-mode.png"))
            cards = page.locator(".meeting-card")
            assert cards.count() >= 5
            sizes = page.evaluate("""() => [...document.querySelectorAll('.meeting-card')]
                .map(card => {
                    const label = card.querySelector('.label');
                    const value = card.querySelector('.value');
                    return [parseFloat(getComputedStyle(label).fontSize),
                            parseFloat(getComputedStyle(value).fontSize),
                            label.scrollWidth <= label.clientWidth + 1,
                            value.scrollWidth <= value.clientWidth + 1];
                })""")
            for label_px, value_px, label_fits, value_fits in sizes:
                assert value_px >= 2 * label_px and label_fits and value_fits
            text = page.locator("[data-testid='stMain']").inner_text()
            assert "$44M" in text and "nan" not in text.lower().split()
            assert a not in text and b not in text
            assert not [rep for rep in reps if rep in text]
    finally:
        context.close()
