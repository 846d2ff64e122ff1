"""The Approvals page shows the approver's summary before the decision, whom a request waits
for, and lets the submitter withdraw it; the Versions page shows names in its dry run."""

from __future__ import annotations

import re

import pandas as pd

from planning.access.roles import Role
from planning.approvals import submit_version
from planning.store import Workspace
from tests.planning.test_approval_routing import moved_book
from tests.planning.test_approvals import demo_quotas, quota_version, territory_version
from tests.views.test_pages import demo_user, run_page
from views.registry import page_by_path

VERSIONS = page_by_path("views/versions.py")
APPROVALS = page_by_path("views/approvals.py")


def test_the_approver_sees_the_summary_and_the_submitter_withdraws(
        demo_copy: Workspace) -> None:
    admin = demo_user(demo_copy, Role.ADMIN)
    revops = demo_user(demo_copy, Role.REVOPS)
    version_id = territory_version(demo_copy, moved_book(demo_copy), author=admin.email)
    request_id = submit_version(demo_copy, version_id, admin)

    page = run_page(APPROVALS, revops)
    assert not page.exception, [e.value for e in page.exception]
    assert any("Why you are asked:" in m.value and "every territory version needs RevOps"
               in m.value for m in page.markdown)
    assert any(m.label == "Accounts with a new rep" for m in page.metric)
    assert any("10 biggest changes" in m.value for m in page.markdown)
    biggest = page.dataframe[0].value
    assert list(biggest.columns) == ["Account", "From", "To", "Annual revenue", "CRM id"]
    names = demo_copy.read(lambda cur: dict(cur.execute(
        "SELECT account_id, name FROM accounts").fetchall()))
    assert list(biggest["Account"]) == [names[a] for a in biggest["CRM id"]]
    assert biggest["Annual revenue"].str.fullmatch(r"\$[0-9.]+[KMB]?").all()

    mine = run_page(APPROVALS, admin)
    submitted = mine.dataframe[0].value
    assert "Waiting for" in submitted.columns
    assert "robin.ortiz@northwind-demo.com" in submitted["Waiting for"].iloc[0]
    mine = mine.button(key=f"withdraw_{request_id}").click().run(timeout=60)
    assert not mine.error, [e.value for e in mine.error]
    assert any("Withdrawn" in s.value for s in mine.success)
    assert demo_copy.read(lambda cur: cur.execute(
        "SELECT status FROM plan_versions WHERE version_id = ?", [version_id]).fetchone()[0]
    ) == "draft"


def test_the_quota_card_names_reps_and_formats_money(demo_copy: Workspace) -> None:
    comp = demo_user(demo_copy, Role.COMP)
    finance = demo_user(demo_copy, Role.FINANCE)
    last_year = demo_quotas(demo_copy)
    newcomer, newcomer_name = demo_copy.read(lambda cur: cur.execute(
        "SELECT rep_id, name FROM reps WHERE rep_id NOT IN (SELECT rep_id FROM rep_quotas "
        "WHERE fiscal_year = 2026) ORDER BY rep_id LIMIT 1").fetchone())
    items = pd.DataFrame({
        "subject": [*last_year["rep_id"], newcomer],
        "amount_cents": [*(last_year["quota_cents"] * 12 // 10), 21_076_500_00]})
    version_id = quota_version(demo_copy, items, name="FY27 with a newcomer", author=comp.email)
    submit_version(demo_copy, version_id, comp)

    page = run_page(APPROVALS, finance)
    assert not page.exception, [e.value for e in page.exception]
    biggest = page.dataframe[0].value
    assert list(biggest.columns) == ["Rep", "Before", "After", "Change", "Change %", "CRM id"]
    first = biggest.iloc[0].to_dict()
    assert first == {"Rep": newcomer_name, "Before": "—", "After": "$21.1M",
                     "Change": "+$21.1M", "Change %": "new", "CRM id": newcomer}
    reps = demo_copy.read(lambda cur: dict(cur.execute(
        "SELECT rep_id, name FROM reps").fetchall()))
    assert list(biggest["Rep"]) == [reps[r] for r in biggest["CRM id"]]
    assert biggest.iloc[1:]["Change %"].eq("+20.0%").all()
    cells = " ".join(biggest.drop(columns="CRM id").astype(str).to_numpy().ravel())
    assert "None" not in cells and "nan" not in cells.lower()
    assert not re.search(r"\.\d\d\b(?!%)", cells) and "," not in cells, cells


def test_the_dry_run_shows_names(demo_copy: Workspace) -> None:
    admin = demo_user(demo_copy, Role.ADMIN)
    territory_version(demo_copy, moved_book(demo_copy, 0.01), author=admin.email)
    app = VERSIONS
    page = run_page(app, admin)
    page.segmented_control(key="versions_kind").set_value("territory")
    page = page.run(timeout=60)
    assert not page.exception, [e.value for e in page.exception]
    frames = [d.value for d in page.dataframe if "What changes" in d.value.columns]
    assert frames and set(frames[0]["What changes"]) >= {"Account owner"}
    assert frames[0]["Name"].notna().all()
