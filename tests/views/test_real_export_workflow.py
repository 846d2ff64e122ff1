"""A customer's own export, one trait at a time, through the whole product as a new user takes it.

Each export is written from code in the shape of a public CRM data set (sales teams with managers
known only by name, accounts with a country and no owner, deals of 2016-2017 whose open ones
lack close dates, created dates or accounts, a booked-value amount that is 0 on lost deals),
varied by one trait. For each: a new workspace, the import keeps every deal, `revplan summary`
shows bookings in the data's own quarters, the Territory and Quota pages produce a plan, and
the CSV trainer leaves the booked amount out by name.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from planning.access.users import User
from planning.cli import main
from planning.errors import RevPlanError
from planning.ingest import import_files
from planning.periods import fiscal_quarter_of
from planning.pipeline.accuracy import backtest_forecasts
from planning.pipeline.csv_training import train_from_csv
from planning.pipeline.forecast import quarter_forecast
from planning.pipeline.inspection import DealFilters, inspect_deals
from planning.store import Workspace
from planning.workspaces import create_workspace
from tests.realistic_exports import RealisticExport, write_crm_export
from tests.views.test_pages import chart_specs, page_app, signed_in
from views.registry import page_by_path

ADMIN = "ana.admin@example.com"
TRAITS = {
    "iso-dates-countries": {},
    "us-dates": {"date_style": "us"},
    "two-digit-years": {"date_style": "dmy2"},
    "european-semicolons": {"date_style": "eu", "delimiter": ";"},
    "us-cities-and-states": {"locations": "city_state"},
}


@pytest.fixture(params=list(TRAITS), ids=list(TRAITS))
def imported(request: pytest.FixtureRequest, data_dir: Path,
             tmp_path: Path) -> tuple[Workspace, RealisticExport]:
    """A new workspace holding one realistic export, imported with its mapping."""
    export = write_crm_export(tmp_path / "export", deals=400, seed=3, **TRAITS[request.param])
    workspace = create_workspace("acme", ADMIN, "ops")
    import_files(workspace, export.files, export.mapping, actor="ops")
    return workspace, export


def admin(workspace: Workspace) -> User:
    return signed_in(workspace, ADMIN)


def test_every_deal_is_kept_and_the_data_quarters_have_bookings(
    imported: tuple[Workspace, RealisticExport], capsys: pytest.CaptureFixture[str]
) -> None:
    workspace, export = imported
    statuses = dict(workspace.read(lambda cur: cur.execute(
        "SELECT status, count(*) FROM opportunities GROUP BY status").fetchall()))
    assert statuses == {"open": export.open_deals, "won": export.won, "lost": export.lost}

    capsys.readouterr()
    assert main(["summary", "--workspace", "acme", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["as_of"], summary["source"]) == (export.newest_close.isoformat(), "data")
    bookings = {row["quarter"]: row["cents"] for row in summary["bookings_by_quarter"]}
    assert all(bookings[f"FY2017 Q{q}"] > 0 for q in (1, 2, 3, 4)), bookings
    assert summary["open_pipeline"]["deals"] == export.open_deals


def test_territory_and_quota_pages_produce_a_plan(
    imported: tuple[Workspace, RealisticExport],
) -> None:
    workspace, _ = imported
    territory = page_app(page_by_path("views/territory.py"), admin(workspace)).run()
    assert not territory.exception, [e.value for e in territory.exception]
    assert territory.selectbox[0].value == "bookings"
    territory = [b for b in territory.button if b.label == "Solve"][0].click().run(timeout=180)
    assert not territory.exception, [e.value for e in territory.exception]
    if territory.error:
        # A book of ~50 accounts over 30 reps is lumpy: the page offers the smallest
        # tolerance with a plan, one click away.
        assert "The smallest tolerance with a plan is" in territory.error[0].value
        territory = territory.button(key="territory_suggested").click().run(timeout=180)
    assert not territory.exception and not territory.error, [e.value for e in territory.error]
    assert territory.success or territory.warning
    assert {m.label for m in territory.metric} >= {"Max balance deviation", "Accounts moved"}

    quota = page_app(page_by_path("views/quota.py"), admin(workspace)).run()
    assert not quota.exception, [e.value for e in quota.exception]
    blend = [quota.number_input[i].value for i in (2, 3, 4)]
    assert blend == [63, 37, 0]  # open deals carry no amount: no pipeline to share by
    assert any("No rep has any open pipeline" in c.value for c in quota.caption)
    quota.number_input[0].set_value(2_000_000.0)
    quota = [b for b in quota.button if b.label == "Solve"][0].click().run(timeout=120)
    assert not quota.exception and not quota.error, [e.value for e in quota.error]
    assert quota.success
    table = quota.dataframe[0].value
    assert len(table) > 0 and table["Quota"].sum() > 0


def test_the_trainer_leaves_the_booked_amount_out_by_name(
    imported: tuple[Workspace, RealisticExport],
) -> None:
    _, export = imported
    report = train_from_csv(export.sales_pipeline, export.mapping)
    assert "amount" in report.dropped_features
    assert any(leak["message"].startswith("amount is 0 on 100% of lost deals")
               for leak in report.leaks)
    assert report.auc < 0.9


def test_home_shows_the_data_quarters_and_counts_unpriced_open_deals(
    imported: tuple[Workspace, RealisticExport],
) -> None:
    workspace, export = imported
    app = page_app(page_by_path("views/home.py"), admin(workspace)).run()
    assert not app.exception and not app.error
    deltas = {m.label: m.delta for m in app.metric}
    assert deltas["Open pipeline"] == (f"{export.open_deals:,} of {export.open_deals:,} deals "
                                       "without an amount")
    bookings, pipeline = chart_specs(app)
    labels = [label for trace in bookings["data"] for label in trace["x"]]
    assert labels[0] == "FY2016 Q4" and labels[-1] == "FY2017 Q4"
    assert pipeline["layout"]["xaxis"]["title"]["text"] == "Open deals (no amounts in the CRM)"
    assert sum(pipeline["data"][0]["x"]) == export.open_deals


def test_forecast_counts_unpriced_deals_and_looks_back_from_the_as_of_day(
    imported: tuple[Workspace, RealisticExport],
) -> None:
    workspace, export = imported
    forecast = quarter_forecast(workspace, None, fiscal_quarter_of(export.newest_close),
                                "company", today=export.newest_close)
    assert forecast.unpriced_due_deals == forecast.subjects[0].pipeline_deals > 0
    app = page_app(page_by_path("views/forecast.py"), admin(workspace)).run(timeout=60)
    assert not app.exception and not app.error
    captions = [c.value for c in app.caption]
    assert any(f"{forecast.unpriced_due_deals:,} open deals due in the quarter carry no amount"
               in c for c in captions), captions
    assert (f"25 Dec 00:00 – {export.newest_close:%d %b %Y} 23:59 (UTC), deals in your scope"
            in captions), captions


def test_unnamed_deals_are_shown_by_their_id(
    imported: tuple[Workspace, RealisticExport],
) -> None:
    workspace, export = imported
    deals = inspect_deals(workspace, None, DealFilters(), export.newest_close)
    assert len(deals) == export.open_deals
    assert deals["deal"].notna().all() and deals["deal"].str.len().gt(0).all()
    assert deals["close_date_estimated"].all()  # the export gives open deals no close date


def test_a_backtest_without_field_history_says_what_to_import(
    imported: tuple[Workspace, RealisticExport],
) -> None:
    workspace, _ = imported
    with pytest.raises(RevPlanError) as caught:
        backtest_forecasts(workspace, quarters=2, warmup=0)
    message = str(caught.value)
    assert "\n" not in message
    assert "Only 0 deals with stage history had closed before 2017-07-01" in message
    assert "OpportunityFieldHistory export" in message
