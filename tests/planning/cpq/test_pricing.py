"""Price waterfalls in exact cents, each step with its rule, the approval bands of discount
policies, every quote error, and reading price books from CSV."""

from __future__ import annotations

import shutil
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from planning.cpq.catalog import Catalog, Option, Product, Rule
from planning.cpq.pricing import (
    DiscountPolicy,
    MarginFloor,
    PriceBook,
    PriceEntry,
    PricingError,
    Promotion,
    SegmentAdjustment,
    VolumeTier,
    load_price_books,
    percent_bps,
    price_book_from_json,
    price_book_json,
    price_quote,
    select_price_book,
    take_off,
)
from planning.cpq.quotes import Quote, QuoteLine

SAMPLE = Path(__file__).resolve().parents[3] / "data" / "samples" / "cpq"
DAY = date(2026, 11, 16)


def small_catalog(version: str = "test-1") -> Catalog:
    """A platform edition with seats, a retired 2025 edition and two modules, one of which
    requires the other."""
    products = (
        Product("platform", "Nimbus Platform", "platform", "2026.1", date(2026, 1, 1)),
        Product("platform_2025", "Nimbus Platform", "platform", "2025.2", date(2025, 1, 1),
                date(2025, 12, 31)),
        Product("modules", "Nimbus Modules", "add-on", "2026.1", date(2026, 1, 1)),
    )
    options = (
        Option("edition", "platform", "Professional edition", "edition", cost_cents=500_000),
        Option("seat", "platform", "User seat", "seats", max_qty=5000, unit="seat",
               cost_cents=1_800),
        Option("legacy", "platform_2025", "Professional edition 2025", "edition",
               cost_cents=400_000),
        Option("analytics", "modules", "Analytics module", "module", cost_cents=60_000),
        Option("forecasting", "modules", "Forecasting module", "module", cost_cents=45_000),
        Option("unpriced", "modules", "Workflow automation", "module", cost_cents=10_000),
    )
    rules = (Rule("forecasting_needs_analytics", "requires", "selection", ("analytics",),
                  when="forecasting"),)
    return Catalog(version, products, options, rules=rules)


def small_book(version: int = 1, **changes: object) -> PriceBook:
    """A US price book: seats tiered at 100 and 250, an enterprise agreement, an analytics
    promotion in Q4 beside a smaller seat promotion, rep authority 10 % / finance above 30 % /
    leadership above 45 %, margin floors 60 % (platform) and 50 % (add-ons)."""
    book = PriceBook(
        price_book_id="us_list", version=version, name="US list", region="us",
        currency="USD", valid_from=date(2026, 1, 1), valid_to=date(2026, 12, 31),
        entries=(PriceEntry("edition", 1_800_000), PriceEntry("seat", 48_000),
                 PriceEntry("legacy", 1_500_000), PriceEntry("analytics", 900_000),
                 PriceEntry("forecasting", 700_000)),
        tiers=(VolumeTier("seats_100", "seat", 100, 500),
               VolumeTier("seats_250", "seat", 250, 1000)),
        segment_adjustments=(SegmentAdjustment("enterprise_agreement", "Enterprise", 800),),
        promotions=(Promotion("q4_analytics", "Q4 analytics", 1000, ("analytics",), (),
                              date(2026, 10, 1), date(2026, 12, 31)),
                    Promotion("seat_week", "Seat week", 500, ("seat", "analytics"))),
        discount_policies=(DiscountPolicy("rep_standard", "*", "rep", 1000, 3000, 4500),
                           DiscountPolicy("manager_standard", "*", "manager", 2000, 3000,
                                          4500)),
        margin_floors=(MarginFloor("platform_floor", "platform", 6000),
                       MarginFloor("add_on_floor", "add-on", 5000)))
    return replace(book, **changes)


def small_quote(*lines: QuoteLine, segment: str = "Enterprise", role: str = "rep") -> Quote:
    return Quote(quote_id="Q-1", account_id="A-1", seller="rep@example.com",
                 seller_role=role, segment=segment, region="us", currency="USD",
                 lines=lines)


def test_rounding_is_half_up_to_a_cent() -> None:
    assert take_off(5, 1000) == -1
    assert take_off(4, 1000) == 0
    assert take_off(15, 3333) == -5
    assert take_off(1_000_000, 0) == 0
    assert percent_bps("discount", "12.5%") == 1250
    with pytest.raises(PricingError, match="at most two decimals"):
        percent_bps("discount", 12.345)


def test_waterfall_steps_and_totals_are_exact_in_cents() -> None:
    quote = small_quote(QuoteLine("seat", 300, 12.5), QuoteLine("analytics", 1, 7.33))
    priced = price_quote(small_catalog(), small_book(), quote, DAY)

    seat = priced.line("seat")
    assert [s.step for s in seat.steps] == ["list", "tier", "segment", "promotion",
                                           "seller_discount", "net"]
    assert [s.amount_cents for s in seat.steps] == [
        14_400_000, 12_960_000, 11_923_200, 11_327_040, 9_911_160, 9_911_160]
    assert [s.change_cents for s in seat.steps[1:5]] == [-1_440_000, -1_036_800, -596_160,
                                                         -1_415_880]
    assert [s.rule_id for s in seat.steps[1:4]] == ["seats_250", "enterprise_agreement",
                                                     "seat_week"]
    assert "250+ units, 10%" in seat.steps[1].rule

    analytics = priced.line("analytics")
    assert analytics.steps[3].rule_id == "q4_analytics", "the larger promotion wins"
    assert [s.amount_cents for s in analytics.steps] == [
        900_000, 900_000, 828_000, 745_200, 690_577, 690_577]
    assert analytics.steps[1].rule == "No volume tier"

    assert [s.amount_cents for s in priced.steps] == [
        15_300_000, 13_860_000, 12_751_200, 12_072_240, 10_601_737, 10_601_737]
    assert [s.change_cents for s in priced.steps[1:5]] == [-1_440_000, -1_108_800, -678_960,
                                                           -1_470_503]
    assert priced.list_cents + sum(s.change_cents for s in priced.steps[1:5]) == \
        priced.net_cents == 10_601_737
    assert priced.cost_cents == 300 * 1_800 + 60_000
    assert any("enterprise_agreement" in match for match in priced.rule_matches)
    assert [i.code for i in priced.issues] == ["discount_above_authority"]


def test_segment_and_promotion_only_apply_where_they_should() -> None:
    quote = small_quote(QuoteLine("analytics", 1), segment="SMB")
    before_q4 = price_quote(small_catalog(), small_book(), quote, date(2026, 9, 30))
    line = before_q4.line("analytics")
    assert line.steps[2].change_cents == 0 and line.steps[2].rule_id is None
    assert line.steps[3].rule_id == "seat_week"
    assert line.net_cents == 855_000


@pytest.mark.parametrize(("discount", "band"), [(0, 0), (10, 0), (10.01, 1), (20, 1), (30, 1),
                                                (35, 2), (45, 2), (50, 3)])
def test_discount_bands_of_the_rep_policy(discount: float, band: int) -> None:
    priced = price_quote(small_catalog(), small_book(),
                         small_quote(QuoteLine("analytics", 1, discount)), DAY)
    assert priced.line("analytics").discount_band == band
    codes = [i.code for i in priced.issues]
    assert ("discount_above_authority" in codes) == (band > 0)


def test_a_manager_has_more_authority_than_a_rep() -> None:
    quote = small_quote(QuoteLine("analytics", 1, 20), role="manager")
    assert price_quote(small_catalog(), small_book(), quote, DAY).discount_band == 0


def test_stale_price_book_outside_its_window_or_replaced() -> None:
    quote = small_quote(QuoteLine("analytics", 1))
    expired = small_book(valid_to=date(2026, 6, 30))
    issue = price_quote(small_catalog(), expired, quote, DAY).errors[0]
    assert issue.code == "stale_price_book" and "2026-11-16" in issue.message
    replaced = price_quote(small_catalog(), small_book(), quote, DAY,
                           newest_price_book_version=2)
    assert [i.code for i in replaced.errors] == ["stale_price_book"]
    assert "version 2" in replaced.errors[0].fix
    assert price_quote(small_catalog(), small_book(), quote, DAY).errors == ()


def test_expired_product_version_is_reported_once() -> None:
    priced = price_quote(small_catalog(), small_book(),
                         small_quote(QuoteLine("legacy", 1)), DAY)
    codes = [i.code for i in priced.errors]
    assert codes == ["expired_product_version"]
    assert "2025.2" in priced.errors[0].message


def test_missing_required_add_on_comes_from_validation() -> None:
    priced = price_quote(small_catalog(), small_book(),
                         small_quote(QuoteLine("forecasting", 1)), DAY)
    missing = [i for i in priced.errors if i.code == "missing_required_add_on"]
    assert len(missing) == 1 and missing[0].rule_id == "forecasting_needs_analytics"
    assert "Analytics" in missing[0].message + missing[0].fix
    fixed = price_quote(small_catalog(), small_book(),
                        small_quote(QuoteLine("forecasting", 1), QuoteLine("analytics", 1)), DAY)
    assert fixed.errors == ()


def test_margin_below_floor() -> None:
    fine = price_quote(small_catalog(), small_book(),
                       small_quote(QuoteLine("edition", 1, 20), segment="SMB"), DAY)
    assert not fine.line("edition").below_floor
    low = price_quote(small_catalog(), small_book(),
                      small_quote(QuoteLine("edition", 1, 40), segment="SMB"), DAY)
    line = low.line("edition")
    assert line.net_cents == 1_080_000 and line.margin_cents == 580_000
    assert line.below_floor
    issue = next(i for i in low.issues if i.code == "margin_below_floor")
    assert issue.rule_id == "platform_floor" and "60%" in issue.message


def test_an_option_without_a_price_and_a_foreign_book() -> None:
    priced = price_quote(small_catalog(), small_book(),
                         small_quote(QuoteLine("unpriced", 1)), DAY)
    assert [i.code for i in priced.errors] == ["no_price"]
    with pytest.raises(PricingError, match="pick a price book"):
        price_quote(small_catalog(), small_book(currency="EUR"),
                    small_quote(QuoteLine("seat", 1)), DAY)
    with pytest.raises(PricingError, match="not an option of catalog"):
        price_quote(small_catalog(), small_book(), small_quote(QuoteLine("nothing", 1)), DAY)


def test_price_book_round_trips_through_json() -> None:
    book = small_book()
    assert price_book_from_json(price_book_json(book)) == book


def test_sample_price_books_load_and_price_the_sample_catalog() -> None:
    from planning.cpq.catalog import load_catalog

    books = load_price_books(SAMPLE)
    assert {(b.price_book_id, b.version) for b in books} == {
        ("us_list", 1), ("us_list", 2), ("eu_list", 1), ("apac_list", 1)}
    chosen = select_price_book(books, "Enterprise", "us", "USD", DAY)
    assert (chosen.price_book_id, chosen.version) == ("us_list", 2)
    quote = replace(small_quote(QuoteLine("professional", 1), QuoteLine("standard_seat", 50),
                                QuoteLine("cloud", 1), QuoteLine("hosting_us", 1),
                                QuoteLine("standard_support", 1)),
                    attributes={"deployment": "cloud"})
    priced = price_quote(load_catalog(SAMPLE), chosen, quote, DAY)
    assert priced.errors == ()
    assert priced.list_cents == 1_890_000 + 50 * 50_400 + 252_000
    with pytest.raises(PricingError, match="No price book prices"):
        select_price_book(books, "SMB", "latam", "USD", DAY)


@pytest.mark.parametrize(("file", "line", "column", "bad", "says"), [
    ("price_entries.csv", "us_list,1,starter,6000.00", "unit_price", "us_list,1,starter,6k",
     "not an amount"),
    ("discount_policies.csv", "us_list,1,rep_standard,*,rep,10,30,45", "finance_over_pct",
     "us_list,1,rep_standard,*,rep,10,5,45", "thresholds must rise"),
    ("price_tiers.csv", "us_list,1,seats_100,standard_seat,100,5", "price_book_id",
     "nowhere,1,seats_100,standard_seat,100,5", "not a price book"),
    ("price_promotions.csv", "us_list,2,q4_analytics,Q4 analytics launch,analytics|forecasting,,"
     "10,2026-10-01,2026-12-31", "valid_to",
     "us_list,2,q4_analytics,Q4,analytics,,10,2026-10-01,2026-09-01", "before valid_from"),
])
def test_a_bad_cell_is_one_line_naming_file_row_and_column(
        tmp_path: Path, file: str, line: str, column: str, bad: str, says: str) -> None:
    folder = tmp_path / "books"
    shutil.copytree(SAMPLE, folder)
    text = (folder / file).read_text()
    assert line in text
    (folder / file).write_text(text.replace(line, bad, 1))
    row = text.splitlines().index(line) + 1
    with pytest.raises(PricingError) as caught:
        load_price_books(folder)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{file}: row {row}, column {column!r}") and says in message
