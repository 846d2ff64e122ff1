"""Territory and Quota pages on a workspace imported from an export without owners,
coordinates or rep homes: both produce a plan from what the import derived."""

from __future__ import annotations

from pathlib import Path

from planning.access.membership import grant_roles
from planning.access.roles import Role
from planning.store import Workspace
from tests.planning.test_ingest_derive import import_export
from tests.views.test_pages import page_app, signed_in
from views.registry import page_by_path

PLANNER = "rita.revops@example.com"


def planner(workspace: Workspace):
    grant_roles(workspace, None, PLANNER, [Role.REVOPS], display_name="Rita RevOps")
    return signed_in(workspace, PLANNER)


def test_territory_plans_on_derived_locations(workspace: Workspace, tmp_path: Path) -> None:
    import_export(workspace, tmp_path / "export")
    app = page_app(page_by_path("views/territory.py"), planner(workspace)).run()
    assert not app.exception, [e.value for e in app.exception]
    captions = [c.value for c in app.caption]
    assert any(c.startswith("58 accounts located: 20 by ZIP, 20 by city, 18 by country "
                            "centroid (coarse); 2 without a location are left out")
               for c in captions), captions
    assert any("the owners of 60 accounts" in c and "the homes of 5 reps" in c
               for c in captions), captions
    app.slider[0].set_value(25)
    app = [b for b in app.button if b.label == "Solve"][0].click().run(timeout=120)
    assert not app.exception, [e.value for e in app.exception]
    assert not app.error, [e.value for e in app.error]
    assert app.success, [w.value for w in app.warning]
    assert {m.label for m in app.metric} >= {"Max balance deviation", "Accounts moved"}


def test_quota_plans_without_account_revenue(workspace: Workspace, tmp_path: Path) -> None:
    import_export(workspace, tmp_path / "export", revenue=False)
    app = page_app(page_by_path("views/quota.py"), planner(workspace)).run()
    assert not app.exception, [e.value for e in app.exception]
    app.number_input[0].set_value(1_000_000.0)
    app = [b for b in app.button if b.label == "Solve"][0].click().run(timeout=60)
    assert not app.exception, [e.value for e in app.exception]
    assert not app.error, [e.value for e in app.error]
    assert app.success and "bookings won on each rep's accounts" in app.success[0].value
    table = app.dataframe[0].value
    assert len(table) == 6 and (table["Quota"] > 0).all()
