"""The Quote page on the small demo with the sample catalog and price books imported: a seller
answers the questionnaire and gets the recommended configuration, sees a bad pick explained
with the smallest fix, prices with a discount above authority, saves, submits and waits for
the deal desk, who sees the request; roles without quotes are refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from planning import approvals
from planning.access.roles import Role
from planning.cpq.catalog import Requirements
from planning.cpq.catalog_versions import current_catalog, import_catalog
from planning.cpq.pricing import load_price_books
from planning.cpq.quotes import quote_versions, store_price_books
from planning.cpq.recommend import recommend
from planning.cpq.selling import quotable_accounts
from planning.store import Workspace
from planning.writeback import outbox
from tests.conftest import DEMO_AS_OF
from tests.views.test_pages import chart_specs, demo_user, element_types, page_app
from views.registry import page_by_path

SAMPLES = Path(__file__).resolve().parents[2] / "data" / "samples" / "cpq"
PAGE = page_by_path("views/quote.py")


def load_samples(workspace: Workspace) -> None:
    """The sample catalog and price books, loaded by the deal desk through the planning API."""
    desk = demo_user(workspace, Role.DEAL_DESK)
    import_catalog(workspace, desk, SAMPLES)
    store_price_books(workspace, desk, load_price_books(SAMPLES))


@pytest.fixture
def quoting_demo(demo_copy: Workspace) -> Workspace:
    """The small demo with the sample catalog and price books."""
    load_samples(demo_copy)
    return demo_copy


def click(app: AppTest, label: str) -> AppTest:
    """Click the button whose label starts with `label` and run the page."""
    found = [b for b in app.button if b.label.startswith(label)]
    assert found, [b.label for b in app.button]
    return found[0].click().run()


def texts(elements) -> str:
    return "\n".join(str(e.value) for e in elements)


def answer_questionnaire(app: AppTest) -> AppTest:
    app.number_input(key="quote_users").set_value(50)
    app.multiselect(key="quote_modules").set_value(["analytics", "forecasting"])
    app.selectbox(key="quote_deployment").set_value("cloud")
    app.selectbox(key="quote_region").set_value("us")
    return click(app, "Propose a configuration")


def test_a_seller_configures_prices_saves_and_submits_above_authority(
        quoting_demo: Workspace) -> None:
    rep = demo_user(quoting_demo, Role.REP)
    app = page_app(PAGE, rep).run()
    assert not app.exception, [e.value for e in app.exception]
    assert [t.value for t in app.title] == ["Quotes"]

    app = answer_questionnaire(app)
    assert not app.exception and not app.error, texts(app.error)
    catalog = current_catalog(quoting_demo, rep)
    expected = recommend(catalog, Requirements(50, ("analytics", "forecasting"), "cloud", "us"),
                         "fit", DEMO_AS_OF).configuration.picked()
    assert sorted(app.multiselect(key="quote_picks").value) == sorted(expected)
    assert app.number_input(key="quote_qty_standard_seat").value == expected["standard_seat"]
    assert "Recommended configuration: 7 options meeting every answer" in texts(app.info)
    assert "The configuration is valid" in texts(app.success)
    waterfall = chart_specs(app)[0]["data"][0]
    assert waterfall["type"] == "waterfall"
    assert waterfall["x"] == ["List price", "Volume tier", "Segment", "Promotion",
                              "Seller discount", "Net"]
    assert waterfall["text"][0].startswith("$") and waterfall["text"][-1].startswith("$")
    summary = next(str(m.value) for m in app.markdown if str(m.value).startswith("Quote for "))
    assert "None" not in summary and "nan" not in summary and "list $" in summary

    # A bad pick: customer-managed keys are not sold with the Professional edition.
    picks = app.multiselect(key="quote_picks")
    picks.set_value([*picks.value, "byok"])
    app = app.run()
    broken = texts(app.error)
    assert "1 rule broken" in broken and "Customer-managed keys" in broken and "Fix:" in broken
    assert "Change this 1 pick to make it valid: remove Customer-managed keys." in texts(
        app.info)
    assert any("Customer-managed keys" in m for m in
               (str(x.value) for x in app.markdown) if ":red[" in m)
    app = click(app, "Apply this 1 change")
    assert "byok" not in app.multiselect(key="quote_picks").value
    assert "The configuration is valid" in texts(app.success)

    # A 20 % discount on analytics is above a rep's authority: the deal desk must approve.
    app.number_input(key="quote_discount_analytics").set_value(20.0)
    app = app.run()
    assert "above the seller's authority" in texts(app.warning)
    app = click(app, "Save as a quote version")
    assert not app.error, texts(app.error)
    assert "v1: net $" in texts(app.success)
    saved = quote_versions(quoting_demo, rep)
    assert len(saved) == 1 and saved["status"].iloc[0] == "draft"

    app = click(app, "Submit ")
    desk = demo_user(quoting_demo, Role.DEAL_DESK)
    assert not app.error, texts(app.error)
    assert "waiting for deal desk" in texts(app.success).lower()
    assert desk.email in texts(app.success)
    waiting = approvals.waiting_for(quoting_demo, desk)
    assert saved["version_id"].iloc[0] in set(waiting["version_id"])

    # The deal desk sees the request on the page.
    desk_app = page_app(PAGE, desk).run()
    assert not desk_app.exception and not desk_app.error
    assert "Quotes waiting for your approval (1)" in [s.value for s in desk_app.subheader]
    assert saved["name"].iloc[0] in desk_app.dataframe[0].value["Quote"].tolist()


def test_a_re_save_is_compared_with_the_previous_version(quoting_demo: Workspace) -> None:
    rep = demo_user(quoting_demo, Role.REP)
    app = answer_questionnaire(page_app(PAGE, rep).run())
    app = click(app, "Save as a quote version")
    app.number_input(key="quote_qty_standard_seat").set_value(60)
    app = click(app.run(), "Save as a quote version")
    assert not app.error, texts(app.error)
    versions = quote_versions(quoting_demo, rep)
    assert len(versions) == 2 and versions["parent_id"].iloc[0] == versions["version_id"].iloc[1]
    compared = texts(app.markdown)
    assert "Compared with the previous version." in compared
    assert "Standard user seat: quantity 50 → 60" in compared


def test_without_a_catalog_the_page_says_who_loads_it(demo_copy: Workspace) -> None:
    app = page_app(PAGE, demo_user(demo_copy, Role.REP)).run()
    assert not app.exception and not app.error
    assert "No product catalog in this workspace yet" in texts(app.info)


@pytest.mark.parametrize("role", [Role.CS, Role.VIEWER, Role.COMP])
def test_a_role_without_quotes_is_refused(quoting_demo: Workspace, role: Role) -> None:
    app = page_app(PAGE, demo_user(quoting_demo, role)).run()
    assert not app.exception
    assert element_types(app.main) == ["error", "caption"]
    assert app.error[0].value.startswith("**Access refused.**")


def test_an_approved_quote_syncs_to_the_crm_outbox(quoting_demo: Workspace) -> None:
    rep = demo_user(quoting_demo, Role.REP)
    app = answer_questionnaire(page_app(PAGE, rep).run())
    app.number_input(key="quote_discount_analytics").set_value(20.0)
    app = click(click(app.run(), "Save as a quote version"), "Submit ")
    version = quote_versions(quoting_demo, rep)["version_id"].iloc[0]
    request = approvals.requests(quoting_demo, rep.email)["request_id"].iloc[0]
    assert approvals.decide(quoting_demo, request, 1, demo_user(quoting_demo, Role.DEAL_DESK),
                            "approved") == "approved"

    app = page_app(PAGE, rep).run()
    assert not app.exception and not app.error, texts(app.error)
    approved = app.dataframe[-1].value
    assert approved["Status"].tolist() == ["Approved"]
    app = click(app, "Sync ")
    assert not app.error, texts(app.error)
    assert "CRM changes in batch-" in texts(app.success)
    assert "rule matches and approvals as evidence" in texts(app.success)
    queued = outbox(quoting_demo)
    assert {"Quote", "QuoteLineItem"} <= set(queued["object"])
    assert quote_versions(quoting_demo, rep)["status"].tolist() == ["published"]
    assert version in set(queued.loc[queued["field"] == "RevPlan_Version__c", "new_value"])


def test_the_deal_desk_saves_a_quote_for_the_accounts_owner(quoting_demo: Workspace) -> None:
    rep = demo_user(quoting_demo, Role.REP)
    desk = demo_user(quoting_demo, Role.DEAL_DESK)
    mine = quotable_accounts(quoting_demo, rep)
    assert set(mine["owner_seller_role"]) == {"rep"}
    account_id = mine["account_id"].iloc[0]
    app = page_app(PAGE, desk).run()
    app.selectbox(key="quote_account").set_value(account_id)
    app = answer_questionnaire(app.run())
    assert any(c.value.startswith(f"Saved for {mine['owner_name'].iloc[0]}, the account's "
                                  "owner, at a rep's authority") for c in app.caption)
    app = click(app, "Save as a quote version")
    assert not app.error, texts(app.error)
    saved = quote_versions(quoting_demo, desk)
    assert saved["seller"].tolist() == [rep.email]
    assert saved["account_id"].tolist() == [account_id]
