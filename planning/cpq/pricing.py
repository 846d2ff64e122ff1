"""Price books and the price waterfall: what a quote costs and why, step by step, in cents.

A price book is one version of the list prices sold in a region and currency (for one segment,
or `*` for every segment), valid on days from `valid_from` to `valid_to`. Beside the list
prices it holds the rules that take a price down, in the order the waterfall applies them:

1. **tier** — volume tiers per option, all-units: the highest tier whose `min_qty` the line's
   quantity reaches discounts every unit;
2. **segment** — the price book's adjustment for the account's segment (enterprise agreement);
3. **promotion** — the one promotion with the largest discount that is valid on the pricing
   day for the option and segment (promotions do not stack);
4. **seller discount** — the percentage the seller gives on what is left;

then **net**. Each step rounds half up to whole cents on the line's extended amount
(unit price × quantity), so the quote's waterfall is the exact sum of its lines' steps.

Discount policies give, per segment (or `*`) and seller role, the seller's authority and the
approval bands above it: a seller discount up to `authority` needs no approval (band 0), above
it deal desk (band 1), above `finance_over` also finance (band 2), above `leadership_over` also
sales leadership (band 3). The sample policy for reps: authority 10 %, finance above 30 %,
leadership above 45 % (so 10 % → none, 20 % → deal desk, 35 % → deal desk and finance, 50 % →
and sales leadership); managers have 20 % authority. Which role signs each band is the
approval policy's `quote` rules (`planning.approvals`). Margin floors give per product family
(or `*`) the smallest margin a line may have, margin being (net − cost) / net with the
catalog's `Option.cost_cents`.

`price_quote` also lists what is wrong with a quote, each with its fix: a stale price book
(not valid on the day, or a newer version exists), an expired product version, a seller
discount above the seller's authority (it needs approval), a missing required add-on and any
other broken configuration rule (from `planning.cpq.validate`), a margin below its floor (an
exception finance approves), an option the price book has no price for.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING

from planning.cpq.catalog import Catalog, Configuration
from planning.cpq.validate import validate
from planning.errors import RevPlanError

if TYPE_CHECKING:
    from planning.cpq.quotes import Quote

BPS = 10_000
"""Basis points in a whole: rates are integer basis points (12.5 % = 1250) so that every
step is exact integer arithmetic."""
ANY = "*"
"""A segment, family or option column that applies to every value."""
PRICE_BOOK_FILES = ("price_books.csv", "price_entries.csv", "price_tiers.csv",
                    "price_segments.csv", "price_promotions.csv", "discount_policies.csv",
                    "margin_floors.csv")
"""The files of a price book folder; only price_books.csv and price_entries.csv are needed."""
STEPS = ("list", "tier", "segment", "promotion", "seller_discount", "net")
STEP_LABELS = {"list": "List price", "tier": "Volume tier", "segment": "Segment",
               "promotion": "Promotion", "seller_discount": "Seller discount", "net": "Net"}
SELLER_ROLES = ("rep", "manager", "sales_leader")
"""Roles a discount policy row may name; the quote's seller prices with one of them."""
BAND_WORDS = ("within the seller's authority", "above the seller's authority",
              "above the finance threshold", "above the sales-leadership threshold")
ISSUE_SEVERITIES = ("error", "approval", "warning")
"""error: the quote cannot go out as it is; approval: it needs the approvals its discounts
call for; warning: worth a look (an alert rule)."""


class PricingError(RevPlanError):
    """A price book or quote that cannot be priced; the message says what to change."""


@dataclass(frozen=True)
class PriceEntry:
    """The list price of one unit of an option."""

    option_id: str
    unit_price_cents: int


@dataclass(frozen=True)
class VolumeTier:
    """From `min_qty` units of an option on, every unit is `discount_bps` cheaper."""

    tier_id: str
    option_id: str
    min_qty: int
    discount_bps: int


@dataclass(frozen=True)
class SegmentAdjustment:
    """The price book's discount for accounts of a segment."""

    rule_id: str
    segment: str
    discount_bps: int


@dataclass(frozen=True)
class Promotion:
    """A discount on some options (empty: all) for some segments (empty: all), valid on days
    from `valid_from` to `valid_to`."""

    promotion_id: str
    name: str
    discount_bps: int
    option_ids: tuple[str, ...] = ()
    segments: tuple[str, ...] = ()
    valid_from: date | None = None
    valid_to: date | None = None

    def applies(self, option_id: str, segment: str, day: date) -> bool:
        """Whether the promotion discounts this option for this segment on `day`."""
        return ((not self.option_ids or option_id in self.option_ids)
                and (not self.segments or segment in self.segments)
                and (self.valid_from is None or self.valid_from <= day)
                and (self.valid_to is None or day <= self.valid_to))


@dataclass(frozen=True)
class DiscountPolicy:
    """A seller role's discount authority in a segment and the approval bands above it."""

    policy_id: str
    segment: str
    seller_role: str
    authority_bps: int
    finance_over_bps: int
    leadership_over_bps: int

    def band(self, discount_bps: int) -> int:
        """0 within authority, 1 above it, 2 above the finance threshold, 3 above the
        sales-leadership threshold."""
        if discount_bps > self.leadership_over_bps:
            return 3
        if discount_bps > self.finance_over_bps:
            return 2
        return 1 if discount_bps > self.authority_bps else 0


@dataclass(frozen=True)
class MarginFloor:
    """The smallest margin a line of a product family (or `*`) may have."""

    floor_id: str
    family: str
    min_margin_bps: int


@dataclass(frozen=True)
class PriceBook:
    """One version of a price book: list prices and the rules of the waterfall."""

    price_book_id: str
    version: int
    name: str
    region: str
    currency: str
    segment: str = ANY
    valid_from: date | None = None
    valid_to: date | None = None
    entries: tuple[PriceEntry, ...] = ()
    tiers: tuple[VolumeTier, ...] = ()
    segment_adjustments: tuple[SegmentAdjustment, ...] = ()
    promotions: tuple[Promotion, ...] = ()
    discount_policies: tuple[DiscountPolicy, ...] = ()
    margin_floors: tuple[MarginFloor, ...] = ()
    _prices: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_prices",
                           {e.option_id: e.unit_price_cents for e in self.entries})

    def unit_price(self, option_id: str) -> int | None:
        """The list price of one unit (None: the book has no price for the option)."""
        return self._prices.get(option_id)

    def valid_on(self, day: date) -> bool:
        """Whether the book may price quotes on `day`."""
        return ((self.valid_from is None or self.valid_from <= day)
                and (self.valid_to is None or day <= self.valid_to))

    def serves(self, segment: str, region: str, currency: str) -> bool:
        """Whether the book prices quotes of this segment, region and currency."""
        return (self.region == region and self.currency == currency
                and self.segment in (ANY, segment))

    def tier_for(self, option_id: str, qty: int) -> VolumeTier | None:
        """The highest tier of the option that `qty` reaches."""
        reached = [t for t in self.tiers if t.option_id == option_id and qty >= t.min_qty]
        return max(reached, key=lambda t: (t.min_qty, t.discount_bps), default=None)

    def segment_adjustment(self, segment: str) -> SegmentAdjustment | None:
        """The adjustment for the segment (an exact row before a `*` row)."""
        rows = [a for a in self.segment_adjustments if a.segment in (segment, ANY)]
        return min(rows, key=lambda a: a.segment == ANY, default=None)

    def best_promotion(self, option_id: str, segment: str, day: date) -> Promotion | None:
        """The valid promotion with the largest discount (ties: the first listed)."""
        valid = [p for p in self.promotions if p.applies(option_id, segment, day)]
        return max(valid, key=lambda p: p.discount_bps, default=None)

    def discount_policy(self, segment: str, seller_role: str) -> DiscountPolicy | None:
        """The seller role's policy in the segment (an exact row before a `*` row)."""
        rows = [p for p in self.discount_policies
                if p.seller_role == seller_role and p.segment in (segment, ANY)]
        return min(rows, key=lambda p: p.segment == ANY, default=None)

    def margin_floor(self, family: str) -> MarginFloor | None:
        """The floor of a product family (an exact row before a `*` row)."""
        rows = [f for f in self.margin_floors if f.family in (family, ANY)]
        return min(rows, key=lambda f: f.family == ANY, default=None)


@dataclass(frozen=True)
class WaterfallStep:
    """One step of a waterfall: what it took off, what is left, and the rule behind it."""

    step: str
    """One of STEPS."""
    change_cents: int
    """What the step took off (zero or negative); the list step's is the list amount."""
    amount_cents: int
    """What is left after the step."""
    rate_bps: int = 0
    rule_id: str | None = None
    rule: str = ""
    """The rule in words ("Volume tier T-SEATS-100: 100+ units, 8%")."""

    @property
    def label(self) -> str:
        """The step as people say it."""
        return STEP_LABELS[self.step]


@dataclass(frozen=True)
class QuoteIssue:
    """Something wrong with a quote, with its fix."""

    code: str
    """stale_price_book, expired_product_version, discount_above_authority,
    missing_required_add_on, rule_violation, rule_alert, margin_below_floor, no_price,
    no_discount_policy."""
    severity: str
    """One of ISSUE_SEVERITIES."""
    message: str
    fix: str
    option_id: str | None = None
    rule_id: str | None = None


@dataclass(frozen=True)
class PricedLine:
    """One quote line priced: its waterfall, margin and approval band."""

    option_id: str
    name: str
    qty: int
    discount_bps: int
    unit_price_cents: int
    steps: tuple[WaterfallStep, ...]
    cost_cents: int
    margin_floor_bps: int | None
    discount_band: int
    """0..3, see DiscountPolicy.band."""
    policy_id: str | None

    @property
    def list_cents(self) -> int:
        """The extended list amount."""
        return self.steps[0].amount_cents

    @property
    def net_cents(self) -> int:
        """What the customer pays for the line."""
        return self.steps[-1].amount_cents

    @property
    def margin_cents(self) -> int:
        """Net less the cost of delivering the line."""
        return self.net_cents - self.cost_cents

    @property
    def below_floor(self) -> bool:
        """Whether the line's margin is below its family's floor (exact in integers)."""
        if self.margin_floor_bps is None:
            return False
        return self.margin_cents * BPS < self.margin_floor_bps * self.net_cents or (
            self.net_cents == 0 and self.cost_cents > 0)

    def fingerprint(self) -> str:
        """What decides the line's approvals: option, quantity, discount, prices, band. Two
        versions of a quote whose line has the same fingerprint did not change that line."""
        return json.dumps([self.option_id, self.qty, self.discount_bps, self.unit_price_cents,
                           self.net_cents, self.discount_band, self.below_floor])


@dataclass(frozen=True)
class PricedQuote:
    """A quote priced with one catalog and price book version on one day."""

    quote: Quote
    catalog_version: str
    price_book_id: str
    price_book_version: int
    priced_on: date
    lines: tuple[PricedLine, ...]
    steps: tuple[WaterfallStep, ...]
    """The quote's waterfall: each step summed over the lines."""
    issues: tuple[QuoteIssue, ...]
    rule_matches: tuple[str, ...]
    """Every pricing and configuration rule that applied, in words with its id."""

    @property
    def list_cents(self) -> int:
        """The quote's extended list amount."""
        return self.steps[0].amount_cents

    @property
    def net_cents(self) -> int:
        """What the customer pays."""
        return self.steps[-1].amount_cents

    @property
    def cost_cents(self) -> int:
        """What delivering the quote costs."""
        return sum(line.cost_cents for line in self.lines)

    @property
    def margin_cents(self) -> int:
        """Net less cost."""
        return self.net_cents - self.cost_cents

    @property
    def errors(self) -> tuple[QuoteIssue, ...]:
        """The issues that stop the quote going out as it is."""
        return tuple(i for i in self.issues if i.severity == "error")

    @property
    def discount_band(self) -> int:
        """The highest approval band of any line."""
        return max((line.discount_band for line in self.lines), default=0)

    def line(self, option_id: str) -> PricedLine:
        """The priced line of an option (KeyError when the quote has none)."""
        for line in self.lines:
            if line.option_id == option_id:
                return line
        raise KeyError(option_id)


def percent_bps(name: str, value: object) -> int:
    """A percentage (12.5, "12.5", "12.5%") as integer basis points; PricingError unless it
    is from 0 to 100 with at most two decimals."""
    text = str(value).strip().rstrip("%").strip()
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise PricingError(f"{name} {value!r} is not a percentage like 12.5") from None
    bps = number * 100
    if not number.is_finite() or bps != bps.to_integral_value() or not 0 <= number <= 100:
        raise PricingError(f"{name} {value!r} must be a percentage from 0 to 100 with at most "
                           "two decimals")
    return int(bps)


def percent_text(bps: int) -> str:
    """Basis points as a percentage in words: 1250 → "12.5%", 1000 → "10%"."""
    text = f"{Decimal(bps) / 100:f}"
    return (text.rstrip("0").rstrip(".") if "." in text else text) + "%"


def take_off(amount_cents: int, rate_bps: int) -> int:
    """What a discount of `rate_bps` takes off `amount_cents`, rounded half up to a cent
    (as a negative number or zero)."""
    return -((amount_cents * rate_bps * 2 + BPS) // (2 * BPS))


def _step(step: str, before: int, rate_bps: int, rule_id: str | None, rule: str
          ) -> WaterfallStep:
    change = take_off(before, rate_bps) if rate_bps else 0
    return WaterfallStep(step=step, change_cents=change, amount_cents=before + change,
                         rate_bps=rate_bps, rule_id=rule_id, rule=rule)


def line_waterfall(book: PriceBook, option_id: str, qty: int, discount_bps: int,
                   segment: str, on_day: date) -> tuple[WaterfallStep, ...]:
    """The steps list → tier → segment → promotion → seller discount → net of one line."""
    unit = book.unit_price(option_id) or 0
    listed = unit * qty
    steps = [WaterfallStep("list", listed, listed, 0, f"{book.price_book_id}@v{book.version}",
                           f"{book.name} v{book.version}: {qty:,} × {unit / 100:,.2f} "
                           f"{book.currency}")]
    tier = book.tier_for(option_id, qty)
    steps.append(_step("tier", steps[-1].amount_cents, tier.discount_bps if tier else 0,
                       tier.tier_id if tier else None,
                       f"Volume tier {tier.tier_id}: {tier.min_qty:,}+ units, "
                       f"{percent_text(tier.discount_bps)}" if tier else "No volume tier"))
    adjustment = book.segment_adjustment(segment)
    steps.append(_step("segment", steps[-1].amount_cents,
                       adjustment.discount_bps if adjustment else 0,
                       adjustment.rule_id if adjustment else None,
                       f"Segment {segment} {adjustment.rule_id}: "
                       f"{percent_text(adjustment.discount_bps)}" if adjustment
                       else f"No adjustment for segment {segment}"))
    promotion = book.best_promotion(option_id, segment, on_day)
    steps.append(_step("promotion", steps[-1].amount_cents,
                       promotion.discount_bps if promotion else 0,
                       promotion.promotion_id if promotion else None,
                       f"Promotion {promotion.promotion_id} ({promotion.name}): "
                       f"{percent_text(promotion.discount_bps)}" if promotion
                       else "No promotion"))
    steps.append(_step("seller_discount", steps[-1].amount_cents, discount_bps, None,
                       f"Seller discount {percent_text(discount_bps)}" if discount_bps
                       else "No seller discount"))
    steps.append(WaterfallStep("net", 0, steps[-1].amount_cents, 0, None, "Net"))
    return tuple(steps)


def quote_waterfall(lines: tuple[PricedLine, ...] | list[PricedLine]
                    ) -> tuple[WaterfallStep, ...]:
    """The quote's waterfall: each step's change and amount summed over the lines."""
    steps = []
    for number, name in enumerate(STEPS):
        change = sum(line.steps[number].change_cents for line in lines)
        amount = sum(line.steps[number].amount_cents for line in lines)
        steps.append(WaterfallStep(name, change, amount, 0, None,
                                   "Sum of the lines" if name != "net" else "Net"))
    return tuple(steps)


def quote_configuration(quote: Quote) -> Configuration:
    """The configuration a quote's lines pick, with the quote's region as the `region`
    attribute beside its own attributes (deployment)."""
    return Configuration(picks={line.option_id: line.qty for line in quote.lines},
                         attributes={"region": quote.region, **dict(quote.attributes)})


def _rule_issues(catalog: Catalog, quote: Quote, on_day: date) -> list[QuoteIssue]:
    """The configuration rules the quote's picks break (`planning.cpq.validate`): a broken
    requires rule is a missing add-on; a product version out of its window is reported by
    `price_quote` itself."""
    result = validate(catalog, quote_configuration(quote), on_day)
    issues = []
    for violation in (*result.violations, *result.alerts):
        if violation.kind == "validity" and violation.rule_id.startswith("option:"):
            continue
        alert = not violation.blocking
        code = ("rule_alert" if alert else "missing_required_add_on"
                if violation.kind == "requires" else "rule_violation")
        issues.append(QuoteIssue(
            code=code, severity="warning" if alert else "error", message=violation.message,
            fix=violation.fix, option_id=violation.options[0] if violation.options else None,
            rule_id=violation.rule_id))
    return issues


def price_quote(catalog: Catalog, price_book: PriceBook, quote: Quote, on_day: date, *,
                newest_price_book_version: int | None = None) -> PricedQuote:
    """Price every line of `quote` with `price_book` on `on_day` (list → tier → segment →
    promotion → seller discount → net, each step with its rule) and list the quote's issues.
    `newest_price_book_version`, when given, marks the book stale if it is older."""
    if not price_book.serves(quote.segment, quote.region, quote.currency):
        raise PricingError(
            f"Price book {price_book.price_book_id} v{price_book.version} prices "
            f"{price_book.segment} / {price_book.region} / {price_book.currency}, not the "
            f"quote's {quote.segment} / {quote.region} / {quote.currency}; pick a price book "
            "for the quote's segment, region and currency.")
    issues: list[QuoteIssue] = []
    matches: list[str] = []
    book_name = f"{price_book.name} v{price_book.version}"
    if not price_book.valid_on(on_day):
        issues.append(QuoteIssue(
            "stale_price_book", "error",
            f"Price book {book_name} is not valid on {on_day:%Y-%m-%d} (valid "
            f"{price_book.valid_from or 'always'} to {price_book.valid_to or 'open'}).",
            "Re-price the quote with the price book valid today."))
    elif (newest_price_book_version is not None
          and newest_price_book_version > price_book.version):
        issues.append(QuoteIssue(
            "stale_price_book", "error",
            f"Price book {book_name} was replaced by version {newest_price_book_version}.",
            f"Re-price the quote with version {newest_price_book_version}."))
    policy = price_book.discount_policy(quote.segment, quote.seller_role)
    if policy is None and any(line.discount_bps for line in quote.lines):
        issues.append(QuoteIssue(
            "no_discount_policy", "approval",
            f"Price book {book_name} has no discount policy for a {quote.seller_role} in "
            f"segment {quote.segment}: every seller discount is above authority.",
            "Add a discount policy row for the role and segment, or remove the discount."))
    priced: list[PricedLine] = []
    for line in quote.lines:
        if not catalog.has_option(line.option_id):
            raise PricingError(f"Quote line {line.option_id!r} is not an option of catalog "
                               f"{catalog.catalog_version}; remove the line or pick an "
                               "option of the catalog.")
        option = catalog.option(line.option_id)
        product = catalog.product(option.product_id)
        if not product.valid_on(on_day):
            issues.append(QuoteIssue(
                "expired_product_version", "error",
                f"{option.name}: {product.name} version {product.version} is sold from "
                f"{product.valid_from or 'always'} to {product.valid_to or 'open'}, not on "
                f"{on_day:%Y-%m-%d}.",
                f"Replace {option.name} with an option of the current {product.name} "
                "version.", option_id=option.option_id))
        if price_book.unit_price(option.option_id) is None:
            issues.append(QuoteIssue(
                "no_price", "error",
                f"{option.name}: price book {book_name} has no price for it.",
                "Pick a price book that sells the option, or remove the line.",
                option_id=option.option_id))
        steps = line_waterfall(price_book, option.option_id, line.qty, line.discount_bps,
                               quote.segment, on_day)
        matches.extend(f"{s.label}: {s.rule}" for s in steps[1:-1] if s.rule_id)
        band = policy.band(line.discount_bps) if policy else (3 if line.discount_bps else 0)
        floor = price_book.margin_floor(product.family)
        unpriced = price_book.unit_price(option.option_id) is None
        priced_line = PricedLine(
            option_id=option.option_id, name=option.name, qty=line.qty,
            discount_bps=line.discount_bps,
            unit_price_cents=price_book.unit_price(option.option_id) or 0, steps=steps,
            cost_cents=option.cost_cents * line.qty,
            margin_floor_bps=floor.min_margin_bps if floor and not unpriced else None,
            discount_band=band, policy_id=policy.policy_id if policy else None)
        priced.append(priced_line)
        if band and policy is not None:
            issues.append(QuoteIssue(
                "discount_above_authority", "approval",
                f"{option.name}: a seller discount of {percent_text(line.discount_bps)} is "
                f"{BAND_WORDS[band]} ({policy.policy_id}: a {quote.seller_role} in "
                f"{quote.segment} may give up to {percent_text(policy.authority_bps)}).",
                f"Submit the quote for approval, or lower the discount to "
                f"{percent_text(policy.authority_bps)}.", option_id=option.option_id,
                rule_id=policy.policy_id))
            matches.append(f"Discount policy {policy.policy_id}: {option.name} "
                           f"{percent_text(line.discount_bps)} is {BAND_WORDS[band]}")
        if priced_line.below_floor and floor is not None:
            margin = (priced_line.margin_cents * BPS // priced_line.net_cents
                      if priced_line.net_cents else -BPS)
            issues.append(QuoteIssue(
                "margin_below_floor", "approval",
                f"{option.name}: margin {percent_text(margin)} is below the "
                f"{percent_text(floor.min_margin_bps)} floor of {product.family or 'any'} "
                f"products ({floor.floor_id}).",
                "Lower the discount or raise the quantity until the margin reaches the floor.",
                option_id=option.option_id, rule_id=floor.floor_id))
            matches.append(f"Margin floor {floor.floor_id}: {option.name} below "
                           f"{percent_text(floor.min_margin_bps)}")
    issues.extend(_rule_issues(catalog, quote, on_day))
    lines = tuple(priced)
    return PricedQuote(
        quote=quote, catalog_version=catalog.catalog_version,
        price_book_id=price_book.price_book_id, price_book_version=price_book.version,
        priced_on=on_day, lines=lines, steps=quote_waterfall(lines), issues=tuple(issues),
        rule_matches=tuple(dict.fromkeys(matches)))


def select_price_book(books: list[PriceBook] | tuple[PriceBook, ...], segment: str,
                      region: str, currency: str, on_day: date) -> PriceBook:
    """The newest version valid on `on_day` of a book serving the segment, region and
    currency (a segment's own book before a `*` book); PricingError when there is none."""
    serving = [b for b in books if b.serves(segment, region, currency) and b.valid_on(on_day)]
    if not serving:
        raise PricingError(f"No price book prices {segment} / {region} / {currency} on "
                           f"{on_day:%Y-%m-%d}; load one (price_books.csv).")
    return max(serving, key=lambda b: (b.segment != ANY, b.version))


def price_book_json(book: PriceBook) -> str:
    """The book as canonical JSON (what the store keeps and hashes)."""
    data = asdict(book)
    return json.dumps(data, sort_keys=True, default=str, separators=(",", ":"))


def price_book_hash(book: PriceBook) -> str:
    """SHA-256 of the book's canonical JSON."""
    return hashlib.sha256(price_book_json(book).encode("utf-8")).hexdigest()


def _date_or_none(text: str | None) -> date | None:
    return None if text in (None, "None") else date.fromisoformat(str(text))


def price_book_from_json(text: str) -> PriceBook:
    """A book from `price_book_json`."""
    data = json.loads(text)
    return PriceBook(
        price_book_id=data["price_book_id"], version=int(data["version"]), name=data["name"],
        region=data["region"], currency=data["currency"], segment=data["segment"],
        valid_from=_date_or_none(data["valid_from"]), valid_to=_date_or_none(data["valid_to"]),
        entries=tuple(PriceEntry(**e) for e in data["entries"]),
        tiers=tuple(VolumeTier(**t) for t in data["tiers"]),
        segment_adjustments=tuple(SegmentAdjustment(**a) for a in data["segment_adjustments"]),
        promotions=tuple(Promotion(
            promotion_id=p["promotion_id"], name=p["name"], discount_bps=p["discount_bps"],
            option_ids=tuple(p["option_ids"]), segments=tuple(p["segments"]),
            valid_from=_date_or_none(p["valid_from"]), valid_to=_date_or_none(p["valid_to"]))
            for p in data["promotions"]),
        discount_policies=tuple(DiscountPolicy(**p) for p in data["discount_policies"]),
        margin_floors=tuple(MarginFloor(**f) for f in data["margin_floors"]))


def _rows(path: Path, required: tuple[str, ...], needed: bool
          ) -> Iterator[tuple[int, dict[str, str]]]:
    """(row number as a spreadsheet shows it, stripped cells) of a price book CSV."""
    if not path.exists():
        if needed:
            raise PricingError(f"{path}: file missing; a price book folder needs "
                               "price_books.csv and price_entries.csv")
        return
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise PricingError(f"{path.name}: not UTF-8 text; save it as UTF-8 CSV") from None
    reader = csv.DictReader(text.splitlines())
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in required if c not in header]
    if missing:
        raise PricingError(f"{path.name}: row 1: column {missing[0]!r} missing from the header")
    for number, row in enumerate(reader, start=2):
        cells = {(k or "").strip(): (v or "").strip() if isinstance(v, str) else ""
                 for k, v in row.items()}
        if any(cells.values()):
            yield number, cells


class _Cells:
    """Typed cells of one CSV row; each bad cell is one line naming file, row and column."""

    def __init__(self, file: str, row: int, cells: dict[str, str]) -> None:
        self.file, self.row, self.cells = file, row, cells

    def fail(self, column: str, problem: str) -> PricingError:
        return PricingError(f"{self.file}: row {self.row}, column {column!r}: {problem}")

    def text(self, column: str, default: str | None = None) -> str:
        value = self.cells.get(column, "")
        if value:
            return value
        if default is not None:
            return default
        raise self.fail(column, "empty; give a value")

    def whole(self, column: str, low: int = 0) -> int:
        value = self.text(column)
        try:
            number = int(value)
        except ValueError:
            raise self.fail(column, f"{value!r} is not a whole number") from None
        if number < low:
            raise self.fail(column, f"{number} is below {low}")
        return number

    def cents(self, column: str) -> int:
        value = self.text(column).replace(",", "").lstrip("$")
        try:
            amount = Decimal(value)
        except InvalidOperation:
            raise self.fail(column, f"{value!r} is not an amount like 1200.00") from None
        cents = amount * 100
        if not amount.is_finite() or amount < 0 or cents != cents.to_integral_value():
            raise self.fail(column, f"{value!r} must be zero or more with at most two "
                            "decimals")
        return int(cents)

    def bps(self, column: str) -> int:
        try:
            return percent_bps(column, self.text(column))
        except PricingError as error:
            raise self.fail(column, str(error)) from None

    def day(self, column: str) -> date | None:
        value = self.cells.get(column, "")
        if not value:
            return None
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise self.fail(column, f"{value!r} is not a date like 2026-01-31") from None

    def names(self, column: str) -> tuple[str, ...]:
        return tuple(p.strip() for p in self.cells.get(column, "").split("|") if p.strip())


def _book_key(cells: _Cells, books: dict[tuple[str, int], dict]) -> tuple[str, int]:
    key = (cells.text("price_book_id"), cells.whole("version", 1))
    if key not in books:
        raise cells.fail("price_book_id", f"{key[0]!r} version {key[1]} is not a price book "
                         "in price_books.csv")
    return key


def load_price_books(folder: Path | str) -> list[PriceBook]:
    """Every price book version in `folder` (see PRICE_BOOK_FILES; percentages like 12.5,
    amounts like 1200.00 in the book's currency). PricingError names the file, row and column
    of the first problem."""
    folder = Path(folder)
    if not folder.is_dir():
        raise PricingError(f"{folder}: not a folder; point at the folder holding "
                           "price_books.csv")
    books: dict[tuple[str, int], dict] = {}
    for row, raw in _rows(folder / "price_books.csv",
                          ("price_book_id", "version", "name", "region", "currency"), True):
        cells = _Cells("price_books.csv", row, raw)
        key = (cells.text("price_book_id"), cells.whole("version", 1))
        if key in books:
            raise cells.fail("version", f"{key[0]!r} version {key[1]} appears twice")
        valid_from, valid_to = cells.day("valid_from"), cells.day("valid_to")
        if valid_from and valid_to and valid_to < valid_from:
            raise cells.fail("valid_to", "before valid_from")
        books[key] = {"price_book_id": key[0], "version": key[1], "name": cells.text("name"),
                      "region": cells.text("region"), "currency": cells.text("currency"),
                      "segment": cells.text("segment", ANY), "valid_from": valid_from,
                      "valid_to": valid_to, "entries": [], "tiers": [],
                      "segment_adjustments": [], "promotions": [], "discount_policies": [],
                      "margin_floors": []}
    book_columns = ("price_book_id", "version")
    for row, raw in _rows(folder / "price_entries.csv",
                          (*book_columns, "option_id", "unit_price"), True):
        cells = _Cells("price_entries.csv", row, raw)
        entries = books[_book_key(cells, books)]["entries"]
        option_id = cells.text("option_id")
        if any(e.option_id == option_id for e in entries):
            raise cells.fail("option_id", f"{option_id!r} is priced twice in this book")
        entries.append(PriceEntry(option_id, cells.cents("unit_price")))
    for row, raw in _rows(folder / "price_tiers.csv",
                          (*book_columns, "tier_id", "option_id", "min_qty", "discount_pct"),
                          False):
        cells = _Cells("price_tiers.csv", row, raw)
        books[_book_key(cells, books)]["tiers"].append(VolumeTier(
            cells.text("tier_id"), cells.text("option_id"), cells.whole("min_qty", 1),
            cells.bps("discount_pct")))
    for row, raw in _rows(folder / "price_segments.csv",
                          (*book_columns, "rule_id", "segment", "discount_pct"), False):
        cells = _Cells("price_segments.csv", row, raw)
        books[_book_key(cells, books)]["segment_adjustments"].append(SegmentAdjustment(
            cells.text("rule_id"), cells.text("segment"), cells.bps("discount_pct")))
    for row, raw in _rows(folder / "price_promotions.csv",
                          (*book_columns, "promotion_id", "name", "discount_pct"), False):
        cells = _Cells("price_promotions.csv", row, raw)
        valid_from, valid_to = cells.day("valid_from"), cells.day("valid_to")
        if valid_from and valid_to and valid_to < valid_from:
            raise cells.fail("valid_to", "before valid_from")
        books[_book_key(cells, books)]["promotions"].append(Promotion(
            cells.text("promotion_id"), cells.text("name"), cells.bps("discount_pct"),
            cells.names("options"), cells.names("segments"), valid_from, valid_to))
    for row, raw in _rows(folder / "discount_policies.csv",
                          (*book_columns, "policy_id", "segment", "seller_role",
                           "authority_pct", "finance_over_pct", "leadership_over_pct"), False):
        cells = _Cells("discount_policies.csv", row, raw)
        role = cells.text("seller_role")
        if role not in SELLER_ROLES:
            raise cells.fail("seller_role", f"{role!r} is not one of {', '.join(SELLER_ROLES)}")
        authority, finance, leadership = (cells.bps("authority_pct"),
                                          cells.bps("finance_over_pct"),
                                          cells.bps("leadership_over_pct"))
        if not authority <= finance <= leadership:
            raise cells.fail("finance_over_pct", "thresholds must rise: authority_pct ≤ "
                             "finance_over_pct ≤ leadership_over_pct")
        books[_book_key(cells, books)]["discount_policies"].append(DiscountPolicy(
            cells.text("policy_id"), cells.text("segment"), role, authority, finance,
            leadership))
    for row, raw in _rows(folder / "margin_floors.csv",
                          (*book_columns, "floor_id", "family", "min_margin_pct"), False):
        cells = _Cells("margin_floors.csv", row, raw)
        books[_book_key(cells, books)]["margin_floors"].append(MarginFloor(
            cells.text("floor_id"), cells.text("family"), cells.bps("min_margin_pct")))
    return [PriceBook(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})
            for data in books.values()]
