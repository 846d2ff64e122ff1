"""Guided selling helpers on the sample catalog and price books: the accounts each seller may
quote, the selling role a quote prices with, the questionnaire's choices, a draft priced with
the newest valid price book and the quote in words."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from planning.access.roles import Role
from planning.cpq.catalog import load_catalog
from planning.cpq.pricing import PricingError, load_price_books
from planning.cpq.quotes import Quote, QuoteLine
from planning.cpq.selling import (
    currency_for,
    money,
    price_draft,
    questionnaire_choices,
    quotable_accounts,
    quote_summary,
    seller_role,
)
from planning.store import Workspace
from tests.views.test_pages import demo_user

SAMPLES = Path(__file__).resolve().parents[3] / "data" / "samples" / "cpq"
DAY = date(2026, 9, 15)


BASE = (QuoteLine("professional", 1), QuoteLine("standard_seat", 50), QuoteLine("cloud", 1),
        QuoteLine("hosting_us", 1), QuoteLine("standard_support", 1))
"""A valid configuration without modules."""


def draft(*lines: QuoteLine, region: str = "us", currency: str = "USD") -> Quote:
    return Quote(quote_id="Q-1", account_id="a1", seller="rep@example.com", seller_role="rep",
                 segment="Enterprise", region=region, currency=currency, lines=lines)


def test_a_rep_quotes_only_their_accounts_and_the_deal_desk_every_one(
        demo_copy: Workspace) -> None:
    rep = demo_user(demo_copy, Role.REP)
    mine = quotable_accounts(demo_copy, rep)
    everyone = quotable_accounts(demo_copy, demo_user(demo_copy, Role.DEAL_DESK))
    assert 0 < len(mine) < len(everyone)
    assert set(mine["owner_id"]) == {rep.rep_id}
    assert set(mine["owner_email"]) == {rep.email}
    assert set(mine["owner_seller_role"]) == {"rep"}
    assert not everyone[["name", "segment", "owner_name", "owner_email"]].isna().any().any()


def test_the_selling_role_is_the_widest_authority_held() -> None:
    assert seller_role({Role.REP, Role.MANAGER}) == "manager"
    assert seller_role({Role.SALES_LEADER, Role.REP}) == "sales_leader"
    assert seller_role({Role.DEAL_DESK, Role.FINANCE}) is None


def test_money_follows_the_currency() -> None:
    assert money(1_234_567, "USD") == "$12.3K"
    assert money(98_000, "EUR") == "€980"
    assert money(-150_000, "USD") == "-$1.5K"
    assert money(500_000, "CHF") == "5K CHF"


def test_the_questionnaire_offers_what_catalog_and_price_books_sell() -> None:
    choices = questionnaire_choices(load_catalog(SAMPLES), load_price_books(SAMPLES))
    assert {"analytics", "forecasting", "ai"} <= set(choices.modules)
    assert choices.deployments == ("cloud", "on_prem", "private_cloud")
    assert choices.regions == ("apac", "eu", "us")


def test_a_draft_prices_with_the_newest_book_valid_that_day() -> None:
    books = load_price_books(SAMPLES)
    assert currency_for(books, "Enterprise", "eu", DAY) == "EUR"
    assert currency_for(books, "Enterprise", "mars", DAY) is None
    priced = price_draft(load_catalog(SAMPLES), books,
                         draft(QuoteLine("analytics", 1, 20)), DAY)
    assert (priced.price_book.price_book_id, priced.price_book.version) == ("us_list", 2)
    assert priced.priced.price_book_version == 2
    with pytest.raises(PricingError, match="No price book prices Enterprise / eu / USD"):
        price_draft(load_catalog(SAMPLES), books, draft(QuoteLine("analytics", 1),
                                                        region="eu"), DAY)


def test_the_summary_says_list_net_steps_and_what_it_needs() -> None:
    catalog, books = load_catalog(SAMPLES), load_price_books(SAMPLES)
    above = price_draft(catalog, books, draft(*BASE, QuoteLine("analytics", 1, 20)), DAY).priced
    text = quote_summary(above, "Acme")
    assert text.startswith("Quote for Acme (Enterprise, US, USD): 6 lines, list $56.1K, net "
                           "$49.8K (11.1% off list)")
    assert "From list to net: segment -$4.49K; seller discount -$1.74K." in text
    assert "Needs discount approval: Analytics module: a seller discount of 20%" in text
    assert "Priced 15 Sep 2026 with price book us_list v2" in text
    broken = price_draft(catalog, books, draft(*BASE, QuoteLine("forecasting", 1)), DAY).priced
    assert ("1 error to fix before it can be submitted: Forecasting module requires Analytics "
            "module.") in quote_summary(broken, "Acme")
    within = price_draft(catalog, books, draft(*BASE, QuoteLine("analytics", 1, 5)), DAY).priced
    assert "Every discount is within the seller's authority." in quote_summary(within, "Acme")
